#!/usr/bin/env bash
# Runs the browser test suites (tests/browser_*.rs) in headless Chromium with wasm-pack, against
# real casweb servers on 127.0.0.1 started here:
#
#   CASWEB_TEST_SERVER           the main server (realms alpha and beta)
#   CASWEB_TEST_TOKEN_ALPHA      a token of realm alpha on it
#   CASWEB_TEST_TOKEN_BETA       a token of realm beta on it
#   CASWEB_TEST_FAULTY_SERVER    a server answering 503 injected_fault to 30% of realm requests
#   CASWEB_TEST_FAULTY_TOKEN_ALPHA  (and ..._BETA) tokens on the faulty server
#   CASWEB_TEST_CONTROL          scripts/test_control.py: POST /main/stop, POST /main/start,
#                                GET /health, /hang/... (never answers in time)
#
# The tests read them at compile time (tests/support/server.rs). Every process started here is
# stopped on exit, whether the tests pass, fail or are interrupted. Capabilities (headless,
# --no-sandbox for root, no background networking) are in webdriver.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

cargo build -q -p casweb-server
server="$PWD/target/debug/casweb-server"
work="$(mktemp -d "${TMPDIR:-/tmp}/casweb-browser-test.XXXXXX")"

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # The control service first (so it cannot restart the main server), then every server,
  # by the PIDs recorded when they were started (the control service rewrites main.pid).
  for name in control main faulty; do
    if [ -f "$work/$name.pid" ]; then
      kill -KILL "$(cat "$work/$name.pid")" 2>/dev/null || true
    fi
  done
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -s "$log" ] && { echo "--- $log (last lines)"; tail -n 20 "$log"; }
    done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Three distinct free ports (all sockets held open while choosing, so no port repeats).
read -r main_port faulty_port control_port < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)

# Waits until URL answers 200, failing early if process PID is gone.
wait_for() {
  local url="$1" pid="$2" name="$3"
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "browser-test: $name exited before answering $url" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "browser-test: $name did not answer $url within 30 s" >&2
  return 1
}

token() { "$server" token create --realm "$1" --data-dir "$2"; }

mkdir -p "$work/main-data" "$work/faulty-data"
token_alpha="$(token alpha "$work/main-data")"
token_beta="$(token beta "$work/main-data")"
faulty_alpha="$(token alpha "$work/faulty-data")"
faulty_beta="$(token beta "$work/faulty-data")"

main_url="http://127.0.0.1:$main_port"
faulty_url="http://127.0.0.1:$faulty_port"
control_url="http://127.0.0.1:$control_port"
main_cmd=("$server" serve --listen "127.0.0.1:$main_port" --data-dir "$work/main-data")

"${main_cmd[@]}" >>"$work/main.log" 2>&1 &
echo $! >"$work/main.pid"
"$server" serve --listen "127.0.0.1:$faulty_port" --data-dir "$work/faulty-data" \
  --fault-503-percent 30 >>"$work/faulty.log" 2>&1 &
echo $! >"$work/faulty.pid"
python3 scripts/test_control.py --port "$control_port" --main-url "$main_url" \
  --pid-file "$work/main.pid" --log-file "$work/main.log" -- "${main_cmd[@]}" \
  >>"$work/control.log" 2>&1 &
echo $! >"$work/control.pid"
# Tracked by their PID files, not as jobs (the control service SIGKILLs and restarts the main
# server; a job report of that would only be noise).
disown -a

wait_for "$main_url/api/info" "$(cat "$work/main.pid")" "the main server"
wait_for "$faulty_url/api/info" "$(cat "$work/faulty.pid")" "the faulty server"
wait_for "$control_url/health" "$(cat "$work/control.pid")" "the control service"

export CASWEB_TEST_SERVER="$main_url"
export CASWEB_TEST_TOKEN_ALPHA="$token_alpha"
export CASWEB_TEST_TOKEN_BETA="$token_beta"
export CASWEB_TEST_FAULTY_SERVER="$faulty_url"
export CASWEB_TEST_FAULTY_TOKEN_ALPHA="$faulty_alpha"
export CASWEB_TEST_FAULTY_TOKEN_BETA="$faulty_beta"
export CASWEB_TEST_CONTROL="$control_url"

suites=()
for file in tests/browser_*.rs; do
  suites+=(--test "$(basename "$file" .rs)")
done
WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}" wasm-pack test --headless --chrome --chromedriver "${CHROMEDRIVER:-/usr/bin/chromedriver}" -- "${suites[@]}"
