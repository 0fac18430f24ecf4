#!/usr/bin/env bash
# Benchmark (not a test): getProviders p50/p95 per transport on a local 20-node DHT of
# `casweb-server p2p` nodes on 127.0.0.1, measured in headless Chromium (tests/p2p_bench.rs, release
# build). Prints a table and writes target/p2p-bench.json. Stops every node on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
nodes="${P2P_BENCH_NODES:-20}"

cargo build -q --release -p casweb-server
server="$PWD/target/release/casweb-server"
work="$(mktemp -d "${TMPDIR:-/tmp}/casweb-p2p-bench.XXXXXX")"
cleanup() {
  for pidfile in "$work"/*.pid; do
    [ -f "$pidfile" ] && kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=scripts/p2p-nodes.sh
source scripts/p2p-nodes.sh
first="$(start_p2p_node node-0)"
first_tcp="$(tcp_addr <<<"$first")"
for i in $(seq 1 $((nodes - 1))); do
  start_p2p_node "node-$i" --bootstrap "$first_tcp" >/dev/null
done
disown -a
sleep 2 # let the routing tables fill (each node bootstraps from node-0)

CASWEB_BENCH_BOOTSTRAP="$(grep -v -F "$first_tcp" <<<"$first" | paste -sd, -)"
export CASWEB_BENCH_BOOTSTRAP
output="$(WASM_BINDGEN_TEST_TIMEOUT=600 wasm-pack test --release --headless --chrome \
  --chromedriver "${CHROMEDRIVER:-/usr/bin/chromedriver}" -- --test p2p_bench -- --nocapture 2>&1)" || {
  echo "$output" | tail -n 40
  exit 1
}
json="$(grep -o 'P2P_BENCH \[.*\]' <<<"$output" | head -n 1 | cut -d' ' -f2-)"
mkdir -p target
echo "$json" >target/p2p-bench.json
python3 - "$nodes" <<'PY'
import json, sys, statistics
rows = json.load(open("target/p2p-bench.json"))
print(f"getProviders on a local {sys.argv[1]}-node DHT (limit 1, after 5 warm-up lookups)")
print("| transport | p50 ms | p95 ms | max ms | startProvide ms |")
print("|---|---|---|---|---|")
for r in rows:
    print(f"| {r['name']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} | {r['announce_ms']} |")
PY
