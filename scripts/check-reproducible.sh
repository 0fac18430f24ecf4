#!/usr/bin/env bash
# Checks that the npm package is reproducible: clones the current commit (HEAD) into two
# directories whose paths differ, builds the package in each from scratch (own target/, so
# nothing is shared), and compares both wasm modules (pkg/casweb_bg.wasm, pkg/casweb_p2p_bg.wasm)
# and the packed tarball byte for byte. Prints their SHA-256; exits 1 if they differ. Takes two
# full builds of the package (four release wasm builds; about 20 minutes here). Not part of `make test`; run it before publishing (`make check-reproducible`).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
commit="$(git rev-parse HEAD)"
work="$(mktemp -d "${TMPDIR:-/tmp}/casweb-repro.XXXXXX")"
trap 'rm -rf "$work"' EXIT

build() {
  local dir="$1"
  git clone -q "$repo" "$dir"
  git -C "$dir" checkout -q "$commit"
  # ../shared is not needed to build the package.
  (cd "$dir" && CARGO_TARGET_DIR="$dir/target" ./scripts/build-pkg.sh --pack >"$dir.log" 2>&1) ||
    { echo "build in $dir failed:" >&2; tail -n 30 "$dir.log" >&2; exit 1; }
}

echo "building $commit in two directories (two package builds)"
build "$work/a"
build "$work/a-second-checkout-at-a-longer-path"

status=0
for file in pkg/casweb_bg.wasm pkg/casweb_p2p_bg.wasm target/npm/casweb.tgz; do
  one="$(sha256sum <"$work/a/$file" | cut -d' ' -f1)"
  two="$(sha256sum <"$work/a-second-checkout-at-a-longer-path/$file" | cut -d' ' -f1)"
  if [ "$one" = "$two" ]; then
    echo "identical  $file  sha256 $one"
  else
    echo "DIFFERENT  $file  $one != $two" >&2
    status=1
  fi
done
exit "$status"
