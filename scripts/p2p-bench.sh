#!/usr/bin/env bash
# P2P benchmarks (not tests), each against its own local DHT of `casweb-server p2p` nodes on
# 127.0.0.1, measured in headless Chromium (release build):
#   lookups     getProviders p50/p95 per transport on 20 nodes (tests/p2p_bench.rs), with
#               limit 1 and with the default options
#   lookups-1   the same on a 1-node DHT (the demo's)
#   advertiser  Advertiser announcements per second at maxConcurrent 1, the default (10), 50 on 5 nodes
#               (tests/advertiser_bench.rs)
# Usage: scripts/p2p-bench.sh [lookups|lookups-1|advertiser]...  (default: all). Prints a table per
# benchmark and writes <name>-bench.json into $P2P_BENCH_OUT (default: target/); `make bench`
# (scripts/bench.sh) runs both and reports them in BENCHMARKS.md. Stops every node on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
benches=("$@")
[ "${#benches[@]}" -gt 0 ] || benches=(lookups lookups-1 advertiser)

cargo build -q --release -p casweb-server
server="${CARGO_TARGET_DIR:-$PWD/target}/release/casweb-server"
out="${P2P_BENCH_OUT:-target}"
mkdir -p "$out"
work="$(mktemp -d "${TMPDIR:-/tmp}/casweb-p2p-bench.XXXXXX")"
stop_nodes() {
  for pidfile in "$work"/*.pid; do
    [ -f "$pidfile" ] && kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}
cleanup() {
  stop_nodes
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# shellcheck source=scripts/services.sh
source scripts/services.sh
use_private_tmpdir "$work"

# Runs one benchmark: name, node count, test target, marker of its printed JSON line.
run_bench() {
  local name="$1" nodes="$2" test="$3" marker="$4"
  local first first_tcp output
  first="$(start_p2p_node "$name-0")"
  first_tcp="$(tcp_addr <<<"$first")"
  for i in $(seq 1 $((nodes - 1))); do
    start_p2p_node "$name-$i" --bootstrap "$first_tcp" >/dev/null
  done
  disown -a
  sleep 2 # let the routing tables fill (each node bootstraps from the first)
  CASWEB_BENCH_BOOTSTRAP="$(grep -v -F "$first_tcp" <<<"$first" | paste -sd, -)"
  export CASWEB_BENCH_BOOTSTRAP
  output="$(WASM_BINDGEN_TEST_TIMEOUT=600 wasm-pack test --release --headless --chrome \
    --chromedriver "${CHROMEDRIVER:-/usr/bin/chromedriver}" -- --test "$test" -- --nocapture 2>&1)" || {
    echo "$output" | tail -n 40
    return 1
  }
  stop_nodes
  grep -o "$marker \[.*\]" <<<"$output" | head -n 1 | cut -d' ' -f2- >"$out/$name-bench.json"
  python3 - "$name" "$nodes" "$out/$name-bench.json" <<'PY'
import json, sys
name, nodes, path = sys.argv[1], sys.argv[2], sys.argv[3]
rows = json.load(open(path))
if name.startswith("lookups"):
    print(f"getProviders on a local {nodes}-node DHT (after 5 warm-up lookups)")
    print("| transport | p50 ms | p95 ms | max ms | startProvide ms |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} | {r['announce_ms']} |")
else:
    print(f"Advertiser announcements on a local {nodes}-node DHT (WebSocket, fresh keys)")
    print("| maxConcurrent | keys | seconds | announcements/s | failures |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['limit']} | {r['keys']} | {r['seconds']} | {r['per_second']} | {r['failures']} |")
PY
}

for bench in "${benches[@]}"; do
  case "$bench" in
    lookups) run_bench lookups "${P2P_BENCH_NODES:-20}" p2p_bench P2P_BENCH ;;
    lookups-1) run_bench lookups-1 1 p2p_bench P2P_BENCH ;;
    advertiser) run_bench advertiser "${ADV_BENCH_NODES:-5}" advertiser_bench ADV_BENCH ;;
    *) echo "p2p-bench: unknown benchmark $bench (lookups, lookups-1, advertiser)" >&2; exit 2 ;;
  esac
done
