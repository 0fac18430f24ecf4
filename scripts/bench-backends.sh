#!/usr/bin/env bash
# Benchmark (not a test, not part of `make test`): puts/s and checks/s of the reference server on
# redb, then on postgres+s3 with 1 and with 3 replicas (server/examples/http_bench.rs, release
# build, loopback HTTP, the replicas in one process, requests round-robin), on a throwaway
# PostgreSQL and an s3s-fs S3 server started here (127.0.0.1, stopped by pid on exit). Writes the
# table to bench/backends.md (BENCH_BACKENDS_MARKDOWN to write elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
. scripts/services.sh
out="${BENCH_BACKENDS_MARKDOWN:-bench/backends.md}"
say() { printf '[bench-backends] %s\n' "$*"; }

work="$(mktemp -d)"
cleanup() {
  local status=$?
  stop_pid_file "$work/postgres.pid"
  stop_pid_file "$work/s3.pid"
  [ "$status" -eq 0 ] || show_logs "$work"
  rm -rf "$work"
}
trap cleanup EXIT

cargo build -q --release -p casweb-server --example http_bench
bench="${CARGO_TARGET_DIR:-target}/release/examples/http_bench"

bucket="casweb-bench"
start_postgres
start_s3 "$bucket"

# run NAME REPLICAS [serve flags]: one benchmark run, its output kept in $work/NAME.out.
run() {
  local name="$1" replicas="$2"
  shift 2
  say "$name"
  BENCH_REPLICAS="$replicas" "$bench" "$@" | tee "$work/$name.out"
}
postgres_s3() {
  echo --store postgres+s3 --postgres-url "$POSTGRES_URL" --postgres-schema "$1" \
    --s3-endpoint "$S3_ENDPOINT" --s3-bucket "$bucket" --s3-prefix "$1/"
}
run redb 1
# shellcheck disable=SC2046 # the flags are words without spaces
run postgres-s3-1 1 $(postgres_s3 bench_one)
# shellcheck disable=SC2046
run postgres-s3-3 3 $(postgres_s3 bench_three)

# The rate (the number before the unit) of the line starting with PATTERN in run NAME.
rate() { awk -v p="$2" 'index($0, p) == 1 { print $(NF - 1) }' "$work/$1.out"; }
row() {
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$3" \
    "$(rate "$1" "PUT raw")" "$(rate "$1" "POST batch")" "$(rate "$1" "POST check")" \
    "$(awk '/keys\/s/ { print $(NF - 1) }' "$work/$1.out")" "$(rate "$1" "GET raw")"
}
{
  echo "# Reference server: redb vs postgres+s3"
  echo
  echo "scripts/bench-backends.sh on $(date -u +%Y-%m-%d), $(nproc) cores ($(uptime | sed 's/.*load average: /load average /')),"
  echo "everything on this one machine: the benchmark client, the server replicas (one process),"
  echo "PostgreSQL $("$(postgres_bin)/postgres" --version | awk '{ print $3 }') and s3s-fs (files on the local disk)."
  echo "1 KiB nodes, 32 concurrent requests (8 for batches of 100 nodes), checks of 100 keys."
  echo
  echo "| backend | replicas | PUT raw (puts/s) | batch (nodes/s) | check (checks/s) | check (keys/s) | GET raw (gets/s) |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  row redb redb 1
  row postgres-s3-1 postgres+s3 1
  row postgres-s3-3 postgres+s3 3
} >"$out"
cat "$out"
