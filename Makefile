# Strata — build, test and demo. Each target installs what is missing first (see scripts/install-deps.sh).
SWIFT ?= swift
DEMO_DIR ?= demo-store-$(shell date +%Y%m%d-%H%M%S)

.PHONY: fuzz deps bench-deps build test demo serve http-check release bench-build bench bench-full bench-micro clean postgres-start postgres-stop
# Where `make postgres-start` puts its throw-away server (a folder other users can reach: PostgreSQL runs as the
# user postgres when make runs as root).
POSTGRES_DIR ?= /tmp/strata-postgres-$(shell id -u)

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

# The PostgreSQL backend's tests run on a throw-away server: started here when none runs in $(POSTGRES_DIR) (and
# stopped after), its URL passed in STRATA_POSTGRES_URL. No server: the tests fail, never skip.
test: deps
	@dir="$(POSTGRES_DIR)"; started=""; \
	if ! bash scripts/postgres-test-server.sh running "$$dir"; then \
		rm -rf "$$dir"; bash scripts/postgres-test-server.sh start "$$dir" >/dev/null || exit 1; started=1; \
	fi; \
	log="$$(mktemp)"; \
	{ STRATA_POSTGRES_DIR="$$dir" STRATA_POSTGRES_URL="$$(cat "$$dir/url")" SWIFT_BACKTRACE=enable=no $(SWIFT) test; \
	  echo $$? > "$$log.status"; } 2>&1 | tee "$$log"; status=$$(cat "$$log.status"); \
	if [ "$$status" != 0 ]; then \
		echo "== what failed (the issues above, gathered: a CI log keeps only its tail) =="; \
		grep -E "✘|error:|recorded an issue|Fatal error" "$$log" | grep -v "^✘ Test run" | head -60; \
	fi; \
	rm -f "$$log" "$$log.status"; \
	if [ -n "$$started" ]; then bash scripts/postgres-test-server.sh stop "$$dir"; fi; \
	exit $$status

release: deps
	$(SWIFT) build -c release

# A throw-away PostgreSQL 15 server (scripts/postgres-test-server.sh: installs the server when missing, a new
# cluster on a free loopback port, fsync on); `start` prints its URL, `stop` removes it.
postgres-start:
	@bash scripts/postgres-test-server.sh start $(POSTGRES_DIR)

postgres-stop:
	@bash scripts/postgres-test-server.sh stop $(POSTGRES_DIR)

# The carts example (Examples/Carts) on an embedded store in a fresh folder: commands, the cart's state and full
# history, a multi-projection and a query; then what an operator sees of the store (fsck, stats).
demo: deps
	$(SWIFT) build --product carts-demo
	$(SWIFT) build --product strata
	.build/debug/carts-demo $(DEMO_DIR)
	@echo
	@echo "7. What an operator sees: strata fsck and strata stats on the store"
	.build/debug/strata fsck $(DEMO_DIR)
	.build/debug/strata stats $(DEMO_DIR)
	@echo
	@echo "The store is in $(DEMO_DIR). Try: .build/debug/strata dump $(DEMO_DIR) --format table"

# The carts example over HTTP (StrataHTTP) on loopback, on a native store in $(SERVE_DIR): prints the URL and a
# development token (tenant acme, role clerk); Ctrl-C stops it. SERVE_PORT=0 picks a free port.
SERVE_DIR ?= serve-store
SERVE_PORT ?= 8080
serve: deps
	$(SWIFT) build --product carts-server
	.build/debug/carts-server --store $(SERVE_DIR) --port $(SERVE_PORT)

# schemathesis (from PyPI, into .build-schemathesis/) against the carts server's OpenAPI document; CI runs it.
HTTP_CHECK_SECONDS ?= 120
http-check: deps
	bash scripts/http-api-check.sh $(HTTP_CHECK_SECONDS)

# The standard workloads of Benchmarks/README.md (P1, P1p, P2, P3, P4, P5, P6 and the disk limit), Strata beside
# SQLite in one run, release build of the separate Benchmarks package (and of `strata`, which P6's xz anchor runs). `bench`: the quick size (a few minutes); `bench-full`:
# the full size (P5 builds its 10M-event stores once and keeps them in bench-out/). Table on stdout, every
# figure in bench-out/results-<size>.json. (description.json is removed first: SwiftPM caches the root
# package's file list for a path dependency and misses files added since the last benchmark build.)
bench-deps:
	@bash scripts/install-deps.sh bench

bench-build: bench-deps
	rm -f Benchmarks/.build/release/description.json
	cd Benchmarks && $(SWIFT) build -c release --product strata-bench
	cd Benchmarks && $(SWIFT) build -c release --product strata

bench: bench-build
	Benchmarks/.build/release/strata-bench run --size quick --directory bench-out

bench-full: bench-build
	Benchmarks/.build/release/strata-bench run --size full --directory bench-out

# Micro-benchmarks of the hot paths with malloc counts (ordo-one/benchmark): frame encode/decode, CRC32C,
# LZ4/zlib per frame, record decode, index lookup, stream read.
bench-micro: bench-deps
	cd Benchmarks && $(SWIFT) package benchmark --no-progress

# libFuzzer targets (Fuzz/), each for FUZZ_SECONDS on a corpus seeded from the golden store; CI runs a short
# smoke of each. A crash leaves its reproducer in .build-fuzz/artifacts/TARGET/ and fails the run.
FUZZ_SECONDS ?= 60
fuzz: deps
	bash Fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build
