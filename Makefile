# Strata — build, test and demo. Each target installs what is missing first (see scripts/install-deps.sh).
SWIFT ?= swift
DEMO_DIR ?= demo-store-$(shell date +%Y%m%d-%H%M%S)

.PHONY: deps build test demo release bench-build bench-engine bench-index clean

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
# (description.json is removed first: SwiftPM caches the root package's file list for a path dependency and
# misses files added since the last benchmark build.)
bench-build: deps
	rm -f Benchmarks/.build/release/description.json
	cd Benchmarks && $(SWIFT) build -c release --product strata-bench

bench-engine: bench-build
	Benchmarks/.build/release/strata-bench engine --directory bench-out --events 1000000 --commits 100000

# The index issue's benchmark: a 10M-event / 1M-stream store built once (bench-out/), then open after a clean
# close and after a SIGKILLed writer, RSS after open, random 100-event stream reads; each in a fresh process.
bench-index: bench-build
	Benchmarks/.build/release/strata-bench index run --directory bench-out --events 10000000 --streams 1000000

clean:
	rm -rf .build
