#!/usr/bin/env bash
# `make bench`: builds the npm package (scripts/build-pkg.sh) and the full wasm the bench page
# loads (wasm-pack release, then wasm-opt), starts
# the release reference server on a free 127.0.0.1 port with a fresh data directory (it also
# serves bench/ to the page), runs the P2P benchmarks on local DHTs (scripts/p2p-bench.sh) and the
# Advertiser memory measure, then every in-page measure in headless Chromium (bench/run.mjs), and
# writes bench/results.json and BENCHMARKS.md. Everything started here is stopped on exit, also on
# failure. Exits non-zero only if something breaks, never because a target is missed.
#
# Environment: BENCH_ROUNDS (override each in-page measure's rounds), BENCH_ONLY (comma-separated
# measure ids: indexeddb, topo, sync, cold-read, large-file, peer-read, bundle, lookups, lookups-1, advertiser,
# advertiser-memory; the other
# measures' previous results are kept in the report),
# WASM_OPT_FLAGS (the page build's, default "-Oz"), CARGO_TARGET_DIR (honoured for every build), BENCH_RESULTS and
# BENCH_MARKDOWN (where to write, default bench/results.json and BENCHMARKS.md: a trial run can
# write elsewhere and leave the committed report alone), BENCH_BUILD (the directory under bench/
# for the wasm builds, default "build"; two trial runs at once need different ones), BENCH_PROFILE
# (a directory: a CPU profile of every in-page run is saved there, the top functions printed;
# WASM_OPT_FLAGS="-Oz --debuginfo" keeps the Rust function names in it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
root="$PWD"
say() { printf '[bench] %s\n' "$*"; }

wasm_opt="$root/bench/node_modules/.bin/wasm-opt"
wasm_opt_flags="${WASM_OPT_FLAGS:--Oz}"
# The wasm features rustc emits for wasm32-unknown-unknown, and SIMD (blake3's hashing, see
# Cargo.toml); binaryen must accept them.
wasm_features=(--enable-bulk-memory --enable-sign-ext --enable-mutable-globals
  --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue --enable-simd)

# --- Setup (idempotent): bench/'s npm packages: playwright-core for the driver and binaryen
# for wasm-opt (npm's build: Debian's binaryen 108 breaks wasm-bindgen's externref table).
if [ ! -f bench/node_modules/playwright-core/package.json ] ||
  [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then
  say "npm ci in bench/ (playwright-core and binaryen; no browser is downloaded)"
  (cd bench && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi
[ -x /usr/bin/chromium ] || ./scripts/setup.sh

# --- Builds: the server, the package (both modules, as build-pkg.sh ships them: the bundle
# measure), and the full wasm the bench page loads (default features, wasm-opt'ed; not built when
# only the bundle measure runs).
target_dir="${CARGO_TARGET_DIR:-$root/target}"
say "building the release server"
cargo build -q --release -p casweb-server
server="$target_dir/release/casweb-server"

build_name="${BENCH_BUILD:-build}"
case "$build_name" in
  build*) ;;
  *) echo "[bench] BENCH_BUILD must start with \"build\" (bench/.gitignore ignores build*/)" >&2; exit 2 ;;
esac
build="$root/bench/$build_name"
mkdir -p "$build"
if [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *",bundle,"* ]]; then
  say "building the package (scripts/build-pkg.sh)"
  CASWEB_PKG_DIR="$build/pkg" ./scripts/build-pkg.sh >"$build/build-pkg.log" 2>&1 ||
    { tail -n 30 "$build/build-pkg.log" >&2; exit 1; }
fi
if [ "${BENCH_ONLY:-}" != "bundle" ]; then
  say "building the full wasm for the page"
  wasm-pack --quiet build --release --target web --out-dir "$build/full" --out-name casweb >/dev/null
  "$wasm_opt" "${wasm_features[@]}" $wasm_opt_flags "$build/full/casweb_bg.wasm" -o "$build/full/casweb_bg.opt.wasm"
  # The page runs the full build as it would ship optimized: wasm-pack's JS with wasm-opt's wasm.
  rm -rf "$build/page" && mkdir -p "$build/page"
  cp -r "$build/full/casweb.js" "$build/page/"
  [ -d "$build/full/snippets" ] && cp -r "$build/full/snippets" "$build/page/"
  cp "$build/full/casweb_bg.opt.wasm" "$build/page/casweb_bg.wasm"
fi

# --- The server, on a free port, with a fresh data directory; stopped on exit.
work="$(mktemp -d "${TMPDIR:-/tmp}/casweb-bench.XXXXXX")"
# shellcheck source=scripts/services.sh
source scripts/services.sh
use_private_tmpdir "$work"
server_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [ "$status" -ne 0 ] && [ -s "$work/server.log" ]; then
    echo "--- server log (last lines)"
    tail -n 20 "$work/server.log"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

token="$("$server" token create --realm bench --data-dir "$work/data")"
"$server" serve --listen 127.0.0.1:0 --data-dir "$work/data" --www "$root/bench" >"$work/server.log" 2>&1 &
server_pid=$!
base_url=""
for _ in $(seq 1 300); do
  base_url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/server.log" | head -n 1 || true)"
  [ -n "$base_url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "[bench] the server exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base_url" ] || { echo "[bench] the server did not start within 30 s" >&2; exit 1; }
say "server at $base_url"

# --- P2P (each against its own local DHT; scripts/p2p-bench.sh stops its nodes) and the
# Advertiser's memory per key (native, counting allocator): JSON files for run.mjs.
wants() { [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *",$1,"* ]]; }
p2p_dir="$work/p2p"
mkdir -p "$p2p_dir"
for bench in lookups lookups-1 advertiser; do
  if wants "$bench"; then
    say "P2P benchmark: $bench"
    P2P_BENCH_OUT="$p2p_dir" ./scripts/p2p-bench.sh "$bench"
  fi
done
if wants advertiser-memory; then
  say "Advertiser memory per key"
  cargo test -q --release --test advertiser_memory -- --nocapture |
    grep -o 'ADV_MEMORY \[.*\]' | cut -d' ' -f2- >"$p2p_dir/advertiser-memory.json"
fi

node bench/run.mjs \
  --page "$base_url/page/index.html?pkg=../$build_name/page/casweb.js" \
  --server "{\"baseUrl\":\"$base_url\",\"realm\":\"bench\",\"token\":\"$token\"}" \
  --builds "{\"pkgDir\":\"$build/pkg\",\"pkgUrl\":\"$base_url/$build_name/pkg\",\"blankPage\":\"$base_url/page/blank.html\"}" \
  --p2p-dir "$p2p_dir" \
  ${BENCH_ROUNDS:+--rounds "$BENCH_ROUNDS"} \
  ${BENCH_ONLY:+--only "$BENCH_ONLY"} \
  ${BENCH_PROFILE:+--profile "$BENCH_PROFILE"} \
  --results "${BENCH_RESULTS:-bench/results.json}" \
  --markdown "${BENCH_MARKDOWN:-BENCHMARKS.md}"
say "wrote ${BENCH_RESULTS:-bench/results.json} and ${BENCH_MARKDOWN:-BENCHMARKS.md}"
