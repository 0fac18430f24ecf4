#!/usr/bin/env bash
# Builds the npm package into pkg/: two wasm modules, each by wasm-pack (target web) then
# wasm-opt -Oz, the hand-written entries, types, README and licenses from npm/ and the repository
# root, then merges pkg.json's npm metadata (name, version, exports, types, files, ...) into the
# package.json that wasm-pack generated. pkg.json's version must match Cargo.toml's, so the two
# never drift apart.
#   - casweb (entry index.js): storage, sync, files, topo sort; `--no-default-features
#     --features storage-api`, release profile (opt-level 3), no libp2p.
#   - casweb_p2p (entry p2p.js, `casweb/p2p`): the P2P classes; `--no-default-features
#     --features p2p`, profile release-p2p (size-optimized, see Cargo.toml); fetched by a page only
#     when it uses P2P.
# The build is reproducible: the same commit gives the same bytes in any checkout directory
# (paths compiled into the wasm are remapped; scripts/check-reproducible.sh verifies it).
# `--pack` also runs `npm pack` and copies the tarball to target/npm/casweb.tgz (a stable path
# that examples/vite-app installs from).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# Source paths end up in the wasm (panic locations): name them independently of where this
# checkout and the cargo registry live. Encoded flags, so a path may contain spaces.
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
CARGO_ENCODED_RUSTFLAGS="$(printf '%s\x1f%s' "--remap-path-prefix=$PWD=/casweb" \
  "--remap-path-prefix=$cargo_home=/cargo")"
export CARGO_ENCODED_RUSTFLAGS

# wasm-opt from npm's binaryen, the version bench/package.json pins, installed once into
# target/tools/ (Cargo.toml turns wasm-pack's own wasm-opt off: it cannot download binaryen here,
# and Debian's binaryen 108 breaks wasm-bindgen's output). The --enable flags are the wasm
# features rustc emits for wasm32-unknown-unknown, and SIMD (blake3's hashing, see Cargo.toml). No name section is kept (browser stack traces
# show `wasm-function[2869]` instead of Rust names): it would add about 10% to what every page
# downloads; a stack trace with names comes from a debug build (`wasm-pack build --dev`).
binaryen_version="$(node -p 'require("./bench/package.json").dependencies.binaryen')"
tools="target/tools/binaryen-$binaryen_version"
wasm_opt="$tools/node_modules/.bin/wasm-opt"
if [ ! -x "$wasm_opt" ]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --silent "binaryen@$binaryen_version"
fi
optimize() { # wasm file
  "$wasm_opt" --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue --enable-simd \
    -Oz "$1" -o "$1.opt"
  mv -f "$1.opt" "$1"
}

# CASWEB_PKG_DIR: where to write the package (default pkg/; the bench builds its own copy).
pkg="${CASWEB_PKG_DIR:-pkg}"
p2p_out="$(mktemp -d "${TMPDIR:-/tmp}/casweb-pkg-p2p.XXXXXX")"
trap 'rm -rf "$p2p_out"' EXIT
rm -rf "$pkg"
wasm-pack build --release --target web --out-dir "$pkg" --out-name casweb -- \
  --no-default-features --features storage-api
wasm-pack build --profile release-p2p --target web --out-dir "$p2p_out" --out-name casweb_p2p -- \
  --no-default-features --features p2p
optimize "$pkg/casweb_bg.wasm"
optimize "$p2p_out/casweb_p2p_bg.wasm"
cp "$p2p_out/casweb_p2p.js" "$p2p_out/casweb_p2p.d.ts" "$p2p_out/casweb_p2p_bg.wasm" \
  "$p2p_out/casweb_p2p_bg.wasm.d.ts" "$pkg/"
# Both modules' glue imports its snippets from snippets/<crate hash>/. Of the P2P module's, only
# those its glue imports are shipped (wasm-bindgen also writes the inline JS of code that linking
# dropped): each must be the storage module's file at the same path (npm/error.js above all: one
# CaswebError class for both modules), or one only the P2P module has.
grep -o "\./snippets/[^'\"]*" "$pkg/casweb_p2p.js" | sort -u | while read -r snippet; do
  if [ -e "$pkg/$snippet" ]; then
    cmp -s "$pkg/$snippet" "$p2p_out/$snippet" ||
      { echo "build-pkg: the two modules have different files at $snippet" >&2; exit 1; }
  else
    mkdir -p "$(dirname "$pkg/$snippet")" && cp "$p2p_out/$snippet" "$pkg/$snippet"
  fi
done

# The package entries (npm/index.js and npm/p2p.js: the public API, CaswebError for every
# failure (npm/guard.js), init() and initP2p() in Node too (npm/load.js)), their types, the npm
# README and the licenses. error.js re-exports the copy of npm/error.js that the wasm glue
# imports (wasm-bindgen puts it under snippets/), so the entries and the wasm code share one
# CaswebError class.
cp npm/index.js npm/index.d.ts npm/p2p.js npm/p2p.d.ts npm/guard.js npm/load.js npm/error.d.ts \
  npm/README.md LICENSE-MIT LICENSE-APACHE "$pkg/"
error_snippet="$(cd "$pkg" && find snippets -path '*/npm/error.js' -print)"
[ "$(printf '%s\n' "$error_snippet" | wc -l)" -eq 1 ] && [ -n "$error_snippet" ] ||
  { echo "build-pkg: expected one snippets/*/npm/error.js in $pkg/, found: $error_snippet" >&2; exit 1; }
grep -qF "./$error_snippet" "$pkg/casweb_p2p.js" ||
  { echo "build-pkg: casweb_p2p.js does not import $error_snippet" >&2; exit 1; }
printf '// CaswebError: the copy of npm/error.js that the wasm glue imports.\nexport * from "./%s";\n' \
  "$error_snippet" >"$pkg/error.js"
PKG="$pkg" node -e '
  const fs = require("fs");
  const manifest = `${process.env.PKG}/package.json`;
  const generated = JSON.parse(fs.readFileSync(manifest, "utf8"));
  const metadata = JSON.parse(fs.readFileSync("pkg.json", "utf8"));
  if (metadata.version !== generated.version) {
    console.error(`pkg.json has version ${metadata.version} but Cargo.toml has ${generated.version}`);
    process.exit(1);
  }
  const merged = { ...metadata, ...generated, ...metadata };
  fs.writeFileSync(manifest, JSON.stringify(merged, null, 2) + "\n");
'
echo "$pkg/ ready: $(du -h "$pkg/casweb_bg.wasm" | cut -f1) of storage wasm," \
  "$(du -h "$pkg/casweb_p2p_bg.wasm" | cut -f1) of P2P wasm"

if [ "${1:-}" = "--pack" ]; then
  mkdir -p target/npm
  tarball="$(cd "$pkg" && npm pack --silent --pack-destination "$OLDPWD/target/npm" | tail -n 1)"
  mv -f "target/npm/$tarball" target/npm/casweb.tgz
  echo "npm package: target/npm/casweb.tgz (from $tarball)"
fi
