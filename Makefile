# Strata — build, test and demo. Each target installs what is missing first (see scripts/install-deps.sh).
SWIFT ?= swift
DEMO_DIR ?= demo-store-$(shell date +%Y%m%d-%H%M%S)

.PHONY: deps build test demo release bench-engine clean

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

# Engine append figures (release build, separate Benchmarks package): sequential and pipelined durable
# 100-event appends, 64 concurrent single-event appenders, and the disk limit measured in the same run.
bench-engine: deps
	cd Benchmarks && $(SWIFT) build -c release --product strata-bench
	Benchmarks/.build/release/strata-bench engine --directory bench-out --events 1000000 --commits 100000

clean:
	rm -rf .build
