# casweb: the two commands a newcomer needs are `make demo` and `make test`.
# Both run ./scripts/setup.sh first, which installs what is missing and skips what is present.

CHROMEDRIVER ?= /usr/bin/chromedriver
DEMO_ADDR ?= 127.0.0.1:8080
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: setup test lint native-test backend-test browser-test e2e-test pkg demo bench check-reproducible

setup:
	./scripts/setup.sh

## Everything CI runs: formatting, lints on both targets, native tests (redb, then the server suite
## again on postgres+s3), browser tests, end-to-end tests.
test: setup lint native-test backend-test browser-test e2e-test

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p casweb --target wasm32-unknown-unknown --lib --tests -- -D warnings
	cargo clippy -p casweb --target wasm32-unknown-unknown --no-default-features --features storage-api --lib --tests -- -D warnings
	cargo clippy -p casweb --target wasm32-unknown-unknown --no-default-features --features p2p --lib -- -D warnings

native-test:
	cargo test --workspace

## The server suite on the postgres+s3 backend: a throwaway PostgreSQL and an s3s-fs S3 server,
## on 127.0.0.1, stopped on exit (server/tests/replicas.rs runs here for real).
backend-test:
	./scripts/server-backend-test.sh

browser-test:
	./scripts/browser-test.sh

## The demo page and the Vite example in headless Chromium (playwright-core); screenshots in
## target/e2e-artifacts/.
e2e-test:
	./scripts/e2e-test.sh

## The npm package in pkg/: the storage module (entry casweb) and the P2P module (entry casweb/p2p),
## wasm-pack output with pkg.json merged in.
pkg: setup
	./scripts/build-pkg.sh

## The demo: builds the package and serves www/ with the reference server in --dev mode.
demo: pkg
	./scripts/demo.sh $(DEMO_ADDR)

## Benchmarks (not part of `make test`): headless Chromium + the release server; writes
## bench/results.json and BENCHMARKS.md. Never fails because the machine is slow.
bench: setup
	./scripts/bench.sh

## Builds the package twice from fresh clones at different paths and compares the bytes
## (not part of `make test`; two full release builds).
check-reproducible: setup
	./scripts/check-reproducible.sh
