#!/usr/bin/env bash
# End-to-end tests (e2e/tests/*.test.js) in Debian's headless Chromium through playwright-core:
# the demo page served by the reference server in --dev mode, and the built Vite example; and
# the packed tarball itself in Node (package.test.js: contents, types, doc samples, Node use).
#
# Does its own setup, skipping what is current: npm ci in e2e/, npm install in examples/vite-app
# and the npm tarball installed over its link to pkg/, pkg/ rebuilt when the sources are newer,
# the tarball packed to target/npm/casweb.tgz, the example built with Vite. Then it starts, on
# free 127.0.0.1 ports with a temporary data dir, the server (--dev, serving www/) and `vite preview` of the example,
# runs the tests (all, or the files given as arguments, relative to e2e/), and stops everything
# it started on exit, failure and interrupt included.
# Screenshots stay in target/e2e-artifacts/ (CASWEB_E2E_ARTIFACTS to change it).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export PATH="$HOME/.cargo/bin:$PATH"
artifacts="${CASWEB_E2E_ARTIFACTS:-$root/target/e2e-artifacts}"
say() { printf '[e2e] %s\n' "$*"; }

node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null ||
  { echo "e2e: Node.js 20 or newer (with npm) is needed for playwright-core and Vite 7" >&2; exit 1; }

# pkg/ and its tarball, rebuilt when a source is newer than the last build.
if [ ! -f pkg/package.json ] ||
  [ -n "$(find src npm Cargo.toml Cargo.lock pkg.json LICENSE-MIT LICENSE-APACHE scripts/build-pkg.sh -newer pkg/package.json -print -quit)" ]; then
  say "building pkg/"
  ./scripts/build-pkg.sh --pack
elif [ ! -f target/npm/casweb.tgz ] || [ pkg/package.json -nt target/npm/casweb.tgz ]; then
  mkdir -p target/npm
  tarball="$(cd pkg && npm pack --silent --pack-destination ../target/npm | tail -n 1)"
  mv -f "target/npm/$tarball" target/npm/casweb.tgz
fi
ln -sfn ../pkg www/pkg

# Installs with `npm ARGS...` in DIR unless FILES are unchanged since it last did (stamp NAME in
# node_modules); returns 0 if it ran.
npm_when_changed() {
  local name="$1" dir="$2" files="$3" stamp
  shift 3
  stamp="$(cd "$dir" && cat $files | sha256sum | cut -d' ' -f1)"
  [ "$(cat "$dir/node_modules/.casweb-$name" 2>/dev/null)" != "$stamp" ] || return 1
  say "npm $* in $dir"
  (cd "$dir" && npm "$@" --no-audit --no-fund --loglevel=error) ||
    { echo "e2e: npm $* failed in $dir" >&2; exit 1; }
  echo "$stamp" >"$dir/node_modules/.casweb-$name"
}
npm_when_changed deps e2e package-lock.json ci || true
# examples/vite-app depends on casweb as `file:../../pkg` (a link: the lock pins no hash of a
# build output). The tarball just packed is then installed over that link with --no-save (the
# lock and package.json stay as committed), so the example builds and runs from exactly what
# `npm pack` ships.
if npm_when_changed deps examples/vite-app package-lock.json install; then
  rm -f examples/vite-app/node_modules/.casweb-tarball
fi
npm_when_changed tarball examples/vite-app ../../target/npm/casweb.tgz \
  install --no-save ../../target/npm/casweb.tgz || true
cmp -s pkg/casweb_bg.wasm examples/vite-app/node_modules/casweb/casweb_bg.wasm ||
  { echo "e2e: examples/vite-app did not install the fresh tarball" >&2; exit 1; }
say "building examples/vite-app"
(cd examples/vite-app && npm run --silent build -- --logLevel warn)

cargo build -q -p casweb-server
server_bin="${CARGO_TARGET_DIR:-$root/target}/debug/casweb-server"
work="$(mktemp -d "${TMPDIR:-/tmp}/casweb-e2e.XXXXXX")"

# shellcheck source=scripts/services.sh
source scripts/services.sh
use_private_tmpdir "$work"
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for name in server vite; do
    if [ -f "$work/$name.pid" ]; then
      kill "$(cat "$work/$name.pid")" 2>/dev/null || true
    fi
  done
  [ "$status" -eq 0 ] || show_logs "$work"
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# Three distinct free ports; the third stays closed (a stopped server for the error test).
read -r server_port vite_port dead_port < <(free_ports 3)

"$server_bin" serve --dev --listen "127.0.0.1:$server_port" --data-dir "$work/data" --www www \
  >>"$work/server.log" 2>&1 &
echo $! >"$work/server.pid"
(cd examples/vite-app && exec node node_modules/vite/bin/vite.js preview --host 127.0.0.1 \
  --port "$vite_port" --strictPort) >>"$work/vite.log" 2>&1 &
echo $! >"$work/vite.pid"
wait_for "http://127.0.0.1:$server_port/api/dev" "$(cat "$work/server.pid")" "the server"
wait_for "http://127.0.0.1:$vite_port/" "$(cat "$work/vite.pid")" "vite preview"

rm -rf "$artifacts"
mkdir -p "$artifacts"
export CASWEB_E2E_SERVER="http://127.0.0.1:$server_port"
export CASWEB_E2E_VITE_APP="http://127.0.0.1:$vite_port"
export CASWEB_E2E_DEAD_PORT="$dead_port"
export CASWEB_E2E_ARTIFACTS="$artifacts"
export CASWEB_E2E_PKG="$root/pkg"
export CASWEB_E2E_TARBALL="$root/target/npm/casweb.tgz"
# --test-force-exit: a failed test may leave a casweb engine's retry timer armed in Node; the run
# must end (and report the failure) rather than wait for it.
# Arguments choose test files (e.g. tests/demo.test.js, relative to e2e/); none runs them all.
(
  cd e2e
  [ $# -gt 0 ] || set -- tests/*.test.js
  node --test --test-concurrency=1 --test-force-exit "$@"
)
say "screenshots: $artifacts"
