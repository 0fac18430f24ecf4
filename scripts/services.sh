# Shell functions (sourced, not run) shared by the test and benchmark scripts: a private temp
# directory, free loopback ports, waiting for a service, DHT-only nodes, showing logs after a
# failure. For start_p2p_node the caller sets $server (the casweb-server binary) and $work (a
# directory for pid and log files) and kills every "$work"/*.pid on exit.

# Points TMPDIR at DIR/tmp, so what browsers leave behind (chromedriver's scoped_dir profiles,
# about 100 MB each, are not removed when the driver is killed; Playwright's profiles) goes
# when the caller removes DIR on exit.
use_private_tmpdir() {
  mkdir -p "$1/tmp"
  export TMPDIR="$1/tmp"
}

# Prints the last lines of every non-empty log in directory DIR (after a failure).
show_logs() {
  local log
  for log in "$1"/*.log; do
    [ -s "$log" ] && { echo "--- $log (last lines)"; tail -n 20 "$log"; }
  done
  return 0
}

# Prints TCP_COUNT free TCP ports then UDP_COUNT free UDP ports on 127.0.0.1, all distinct (every
# socket is held open while choosing).
free_ports() {
  python3 - "$1" "${2:-0}" <<'EOF'
import socket, sys
tcp, udp = int(sys.argv[1]), int(sys.argv[2])
socks = [socket.socket() for _ in range(tcp)]
socks += [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(udp)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# Waits until URL answers 200, failing early if process PID is gone (NAME is for messages).
wait_for() {
  local url="$1" pid="$2" name="$3"
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited before answering $url" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$name did not answer $url within 30 s" >&2
  return 1
}

# Starts `casweb-server p2p` (name, then extra flags) and prints its addresses once it is up.
start_p2p_node() {
  local name="$1"
  shift
  "$server" p2p "$@" >>"$work/$name.log" 2>&1 &
  echo $! >"$work/$name.pid"
  for _ in $(seq 1 300); do
    local count
    count="$(grep -c '^p2p addr: ' "$work/$name.log" 2>/dev/null || true)"
    if [ "${count:-0}" -ge 3 ]; then
      grep '^p2p addr: ' "$work/$name.log" | cut -d' ' -f3
      return 0
    fi
    if ! kill -0 "$(cat "$work/$name.pid")" 2>/dev/null; then
      echo "p2p node $name exited: $(tail -n 3 "$work/$name.log")" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "p2p node $name did not start within 30 s" >&2
  return 1
}

# The plain TCP address among the addresses on stdin.
tcp_addr() { grep -v -e '/ws/' -e '/webrtc-direct/' | grep '/tcp/' | head -n 1; }
