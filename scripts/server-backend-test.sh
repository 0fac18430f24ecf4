#!/usr/bin/env bash
# Runs the server's test suite (server/tests, unit tests included) against the postgres+s3
# backend: starts a throwaway PostgreSQL (Debian's, as user nobody, in a temp dir) and an s3s-fs
# S3 server, both on 127.0.0.1 and free ports, runs `cargo test -p casweb-server` with
# CASWEB_TEST_STORE=postgres+s3 (tests/common gives every server its own schema and object
# prefix; tests/replicas.rs runs three replicas), and stops both by pid on exit. Extra arguments
# go to `cargo test` (e.g. `--test replicas`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
. scripts/services.sh

work="$(mktemp -d)"
cleanup() {
  local status=$?
  stop_pid_file "$work/postgres.pid"
  stop_pid_file "$work/s3.pid"
  [ "$status" -eq 0 ] || show_logs "$work"
  rm -rf "$work"
}
trap cleanup EXIT

bucket="casweb-test"
start_postgres
start_s3 "$bucket"
echo "[backend-test] PostgreSQL at $POSTGRES_URL, S3 (s3s-fs) at $S3_ENDPOINT"

export CASWEB_TEST_STORE="postgres+s3"
export CASWEB_TEST_POSTGRES_URL="$POSTGRES_URL"
export CASWEB_TEST_S3_ENDPOINT="$S3_ENDPOINT"
export CASWEB_TEST_S3_BUCKET="$bucket"
cargo test -p casweb-server "$@"
