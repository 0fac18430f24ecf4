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

# The newest PostgreSQL server binaries Debian installed (initdb, postgres, pg_isready).
postgres_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# Runs a command as the unprivileged user nobody when root (PostgreSQL refuses to run as root),
# replacing the shell (exec), so $! of a background call is the command's own pid.
as_unprivileged() {
  if [ "$(id -u)" -eq 0 ]; then
    exec setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    exec "$@"
  fi
}

# Starts a throwaway PostgreSQL in "$work/postgres" (trust authentication, user casweb),
# listening on 127.0.0.1 only on a free port, as user nobody when root. Sets POSTGRES_URL; its
# pid is in "$work/postgres.pid" (stop it with stop_pid_file). The caller makes $work.
start_postgres() {
  local bin port dir="$work/postgres"
  bin="$(postgres_bin)"
  [ -n "$bin" ] || { echo "PostgreSQL is not installed (run scripts/setup.sh)" >&2; return 1; }
  port="$(free_ports 1)"
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chmod 711 "$work"
    chown nobody:nogroup "$dir"
  fi
  (as_unprivileged "$bin/initdb" -D "$dir/data" -U casweb --auth=trust -E UTF8 --no-sync) \
    >"$work/postgres-initdb.log" 2>&1 ||
    { tail -n 20 "$work/postgres-initdb.log" >&2; return 1; }
  (as_unprivileged "$bin/postgres" -D "$dir/data" -k "$dir" -h 127.0.0.1 -p "$port" \
    -c max_connections=400 -c shared_buffers=64MB) >>"$work/postgres.log" 2>&1 &
  echo $! >"$work/postgres.pid"
  for _ in $(seq 1 300); do
    if "$bin/pg_isready" -q -U casweb -d postgres -h 127.0.0.1 -p "$port"; then
      POSTGRES_URL="postgres://casweb@127.0.0.1:$port/postgres"
      return 0
    fi
    if ! kill -0 "$(cat "$work/postgres.pid")" 2>/dev/null; then
      echo "PostgreSQL exited: $(tail -n 5 "$work/postgres.log")" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "PostgreSQL did not start within 30 s" >&2
  return 1
}

# Starts the s3s-fs S3 server over "$work/s3" on 127.0.0.1 and a free port, with bucket
# BUCKET created. Sets S3_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (exported);
# its pid is in "$work/s3.pid".
start_s3() {
  local bucket="$1" port
  port="$(free_ports 1)"
  mkdir -p "$work/s3/$bucket"
  export AWS_ACCESS_KEY_ID="casweb-test" AWS_SECRET_ACCESS_KEY="casweb-test-secret"
  s3s-fs --host 127.0.0.1 --port "$port" --access-key "$AWS_ACCESS_KEY_ID" \
    --secret-key "$AWS_SECRET_ACCESS_KEY" "$work/s3" >>"$work/s3.log" 2>&1 &
  echo $! >"$work/s3.pid"
  S3_ENDPOINT="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do
    # Any HTTP answer (an unsigned request is refused) means it listens.
    if curl -sS -o /dev/null --max-time 1 "$S3_ENDPOINT/" 2>/dev/null; then return 0; fi
    if ! kill -0 "$(cat "$work/s3.pid")" 2>/dev/null; then
      echo "s3s-fs exited: $(tail -n 5 "$work/s3.log")" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "s3s-fs did not start within 30 s" >&2
  return 1
}

# Stops the process whose pid is in FILE (SIGINT: PostgreSQL's fast shutdown), waiting up to
# 10 s, then SIGKILL.
stop_pid_file() {
  local pid
  [ -f "$1" ] || return 0
  pid="$(cat "$1")"
  kill -INT "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
