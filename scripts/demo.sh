#!/usr/bin/env bash
# Serves the demo page (www/) and the built package (pkg/) with the reference server in --dev
# mode on 127.0.0.1, with its data in ./casweb-data. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
addr="${1:-127.0.0.1:8080}"

# pkg/ is rebuilt when a source is newer than the last build (a stale one may lack p2p.js).
if [ ! -f pkg/package.json ] ||
  [ -n "$(find src npm Cargo.toml Cargo.lock pkg.json scripts/build-pkg.sh -newer pkg/package.json -print -quit)" ]; then
  ./scripts/build-pkg.sh
fi
ln -sfn ../pkg www/pkg
cargo build --release -p casweb-server
exec "${CARGO_TARGET_DIR:-target}/release/casweb-server" serve --dev --listen "$addr" --data-dir casweb-data --www www
