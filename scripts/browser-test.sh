#!/usr/bin/env bash
# Runs the browser test suites (tests/browser_*.rs) in headless Chromium with wasm-pack, against
# real casweb servers on 127.0.0.1 started here:
#
#   CASWEB_TEST_SERVER           the main server (realms alpha and beta)
#   CASWEB_TEST_TOKEN_ALPHA      a token of realm alpha on it
#   CASWEB_TEST_TOKEN_BETA       a token of realm beta on it
#   CASWEB_TEST_FAULTY_SERVER    a server answering 503 injected_fault to 30% of realm requests
#   CASWEB_TEST_FAULTY_TOKEN_ALPHA  (and ..._BETA) tokens on the faulty server
#   CASWEB_TEST_FAULTY20_SERVER, CASWEB_TEST_FAULTY50_SERVER  servers injecting 503s into 20% and
#                                50% of realm requests, and their realm alpha tokens
#                                CASWEB_TEST_FAULTY20_TOKEN, CASWEB_TEST_FAULTY50_TOKEN
#   CASWEB_TEST_CONTROL          scripts/test_control.py: POST /main/stop, POST /main/start,
#                                GET /health, /hang/... (never answers in time)
#   CASWEB_TEST_SHORT_TTL_BOOTSTRAP  multiaddrs (comma-separated) of a second local DHT whose
#                                nodes keep provider records 3 s only (for expiry tests)
#   CASWEB_TEST_REPLICA_A, CASWEB_TEST_REPLICA_B  two replicas of one postgres+s3 backend (a
#                                throwaway PostgreSQL and s3s-fs, scripts/services.sh), and
#                                CASWEB_TEST_REPLICA_TOKEN_ALPHA a token of realm alpha on them
#
# The main server's libp2p node and 4 `casweb-server p2p` nodes form a local DHT of 5 nodes
# (fixed ports for the main server, so a restart keeps its addresses; it answers block requests,
# --serve-blocks); the faulty server runs with --no-p2p. The short-TTL DHT has 5 more nodes.
#
# The tests read them at run time from target/browser-test/config.json (tests/support/server.rs). Every process started here is
# stopped on exit, whether the tests pass, fail or are interrupted. Capabilities (headless,
# --no-sandbox for root, no background networking) are in webdriver.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

cargo build -q -p casweb-server
server="${CARGO_TARGET_DIR:-$PWD/target}/debug/casweb-server"
work="$(mktemp -d "${TMPDIR:-/tmp}/casweb-browser-test.XXXXXX")"

# shellcheck source=scripts/services.sh
source scripts/services.sh
use_private_tmpdir "$work"
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # The control service first (so it cannot restart the main server), then every server,
  # by the PIDs recorded when they were started (the control service rewrites main.pid).
  if [ -f "$work/control.pid" ]; then
    kill -KILL "$(cat "$work/control.pid")" 2>/dev/null || true
  fi
  # PostgreSQL gets a fast shutdown (it stops its own worker processes).
  stop_pid_file "$work/postgres.pid"
  for pidfile in "$work"/*.pid; do
    [ -f "$pidfile" ] && kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
  done
  [ "$status" -eq 0 ] || show_logs "$work"
  rm -rf "$work" target/browser-test
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# Distinct free ports: nine TCP, one UDP.
read -r main_port faulty_port faulty20_port faulty50_port control_port p2p_tcp_port p2p_ws_port \
  replica_a_port replica_b_port p2p_webrtc_port < <(free_ports 9 1)

token() { "$server" token create --realm "$1" --data-dir "$2"; }

mkdir -p "$work/main-data" "$work/faulty-data" "$work/faulty20-data" "$work/faulty50-data"
token_alpha="$(token alpha "$work/main-data")"
token_beta="$(token beta "$work/main-data")"
faulty_alpha="$(token alpha "$work/faulty-data")"
faulty_beta="$(token beta "$work/faulty-data")"
faulty20_alpha="$(token alpha "$work/faulty20-data")"
faulty50_alpha="$(token alpha "$work/faulty50-data")"

main_url="http://127.0.0.1:$main_port"
faulty_url="http://127.0.0.1:$faulty_port"
control_url="http://127.0.0.1:$control_port"
main_cmd=("$server" serve --listen "127.0.0.1:$main_port" --data-dir "$work/main-data"
  --p2p-tcp-port "$p2p_tcp_port" --p2p-ws-port "$p2p_ws_port" --p2p-webrtc-port "$p2p_webrtc_port"
  --serve-blocks)

"${main_cmd[@]}" >>"$work/main.log" 2>&1 &
echo $! >"$work/main.pid"
"$server" serve --listen "127.0.0.1:$faulty_port" --data-dir "$work/faulty-data" \
  --fault-503-percent 30 --no-p2p >>"$work/faulty.log" 2>&1 &
echo $! >"$work/faulty.pid"
for percent in 20 50; do
  port_var="faulty${percent}_port"
  "$server" serve --listen "127.0.0.1:${!port_var}" --data-dir "$work/faulty$percent-data" \
    --fault-503-percent "$percent" --no-p2p >>"$work/faulty$percent.log" 2>&1 &
  echo $! >"$work/faulty$percent.pid"
done
# Two replicas of one postgres+s3 backend.
start_postgres
start_s3 casweb-browser
replica_env=(CASWEB_STORE=postgres+s3 "CASWEB_POSTGRES_URL=$POSTGRES_URL"
  "CASWEB_S3_ENDPOINT=$S3_ENDPOINT" CASWEB_S3_BUCKET=casweb-browser)
replica_alpha="$(env "${replica_env[@]}" "$server" token create --realm alpha --data-dir "$work/replica-a-data")"
for replica in a b; do
  port_var="replica_${replica}_port"
  env "${replica_env[@]}" "$server" serve --listen "127.0.0.1:${!port_var}" \
    --data-dir "$work/replica-$replica-data" --no-p2p >>"$work/replica-$replica.log" 2>&1 &
  echo $! >"$work/replica-$replica.pid"
done
python3 scripts/test_control.py --port "$control_port" --main-url "$main_url" \
  --pid-file "$work/main.pid" --log-file "$work/main.log" -- "${main_cmd[@]}" \
  >>"$work/control.log" 2>&1 &
echo $! >"$work/control.pid"
# Tracked by their PID files, not as jobs (the control service SIGKILLs and restarts the main
# server; a job report of that would only be noise).
disown -a

wait_for "$main_url/api/info" "$(cat "$work/main.pid")" "the main server"
wait_for "$faulty_url/api/info" "$(cat "$work/faulty.pid")" "the faulty server"
wait_for "http://127.0.0.1:$faulty20_port/api/info" "$(cat "$work/faulty20.pid")" "the 20% faulty server"
wait_for "http://127.0.0.1:$faulty50_port/api/info" "$(cat "$work/faulty50.pid")" "the 50% faulty server"
wait_for "$control_url/health" "$(cat "$work/control.pid")" "the control service"
for replica in a b; do
  port_var="replica_${replica}_port"
  wait_for "http://127.0.0.1:${!port_var}/api/info" "$(cat "$work/replica-$replica.pid")" \
    "replica $replica"
done

main_peer="$(curl -fsS "$main_url/api/p2p" | python3 -c 'import json,sys; print(json.load(sys.stdin)["peerId"])')"
main_tcp="/ip4/127.0.0.1/tcp/$p2p_tcp_port/p2p/$main_peer"
for i in 1 2 3 4; do
  start_p2p_node "dht-$i" --bootstrap "$main_tcp" >/dev/null
done
ttl_addrs="$(start_p2p_node ttl-0 --provider-ttl-secs 3)"
ttl_tcp="$(tcp_addr <<<"$ttl_addrs")"
for i in 1 2 3 4; do
  start_p2p_node "ttl-$i" --provider-ttl-secs 3 --bootstrap "$ttl_tcp" >/dev/null
done
disown -a

short_ttl_bootstrap="$(grep -v -F "$ttl_tcp" <<<"$ttl_addrs" | paste -sd, -)"

# Where the servers are, for the tests to read at run time (tests/support/server.rs): the test
# runner serves the crate's directory, so new ports and tokens do not recompile the test crates.
mkdir -p target/browser-test
python3 - "target/browser-test/config.json" <<PY
import json, sys
config = {
    "CASWEB_TEST_SERVER": "$main_url",
    "CASWEB_TEST_TOKEN_ALPHA": "$token_alpha",
    "CASWEB_TEST_TOKEN_BETA": "$token_beta",
    "CASWEB_TEST_FAULTY_SERVER": "$faulty_url",
    "CASWEB_TEST_FAULTY_TOKEN_ALPHA": "$faulty_alpha",
    "CASWEB_TEST_FAULTY_TOKEN_BETA": "$faulty_beta",
    "CASWEB_TEST_FAULTY20_SERVER": "http://127.0.0.1:$faulty20_port",
    "CASWEB_TEST_FAULTY20_TOKEN": "$faulty20_alpha",
    "CASWEB_TEST_FAULTY50_SERVER": "http://127.0.0.1:$faulty50_port",
    "CASWEB_TEST_FAULTY50_TOKEN": "$faulty50_alpha",
    "CASWEB_TEST_CONTROL": "$control_url",
    "CASWEB_TEST_SHORT_TTL_BOOTSTRAP": "$short_ttl_bootstrap",
    "CASWEB_TEST_REPLICA_A": "http://127.0.0.1:$replica_a_port",
    "CASWEB_TEST_REPLICA_B": "http://127.0.0.1:$replica_b_port",
    "CASWEB_TEST_REPLICA_TOKEN_ALPHA": "$replica_alpha",
}
with open(sys.argv[1], "w") as out:
    json.dump(config, out, indent=2)
PY

# All suites, or those named on the command line (e.g. browser_p2p).
suites=()
if [ "$#" -gt 0 ]; then
  for name in "$@"; do suites+=(--test "$name"); done
else
  for file in tests/browser_*.rs; do
    suites+=(--test "$(basename "$file" .rs)")
  done
fi
WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}" wasm-pack test --headless --chrome --chromedriver "${CHROMEDRIVER:-/usr/bin/chromedriver}" -- "${suites[@]}"
