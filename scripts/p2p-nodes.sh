# Shell functions (sourced, not run) to start DHT-only nodes for tests and benchmarks.
# The caller sets $server (the casweb-server binary) and $work (a directory for pid and log
# files) and kills every "$work"/*.pid on exit.

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
