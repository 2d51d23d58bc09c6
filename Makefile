# Strata — build, test and demo. Each target installs what is missing first (see scripts/install-deps.sh).
SWIFT ?= swift
DEMO_DIR ?= demo-store-$(shell date +%Y%m%d-%H%M%S)

.PHONY: deps build test demo release clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

test: deps
	SWIFT_BACKTRACE=enable=no $(SWIFT) test

release: deps
	$(SWIFT) build -c release

demo: deps
	$(SWIFT) build --product strata
	.build/debug/strata demo $(DEMO_DIR)

clean:
	rm -rf .build
