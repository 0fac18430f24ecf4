#!/usr/bin/env bash
# Serves the demo page (www/) and the built package (pkg/) with the reference server in --dev
# mode on 127.0.0.1, with its data in ./casweb-data. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
addr="${1:-127.0.0.1:8080}"

[ -f pkg/casweb.js ] || ./scripts/build-pkg.sh
ln -sfn ../pkg www/pkg
cargo build --release -p casweb-server
exec target/release/casweb-server serve --dev --listen "$addr" --data-dir casweb-data --www www
