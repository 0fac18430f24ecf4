#!/usr/bin/env bash
# Builds the npm package into pkg/: wasm-pack (target web, release), wasm-opt -Oz on the module,
# the hand-written entry, types, README and licenses from npm/ and the repository root, then
# merges pkg.json's npm metadata (name, version, exports, types, files, ...) into the
# package.json that wasm-pack generated. pkg.json's version must match Cargo.toml's, so the two
# never drift apart.
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
wasm-pack build --release --target web --out-dir pkg --out-name casweb

# wasm-opt from npm's binaryen, the version bench/package.json pins, installed once into
# target/tools/ (Cargo.toml turns wasm-pack's own wasm-opt off: it cannot download binaryen here,
# and Debian's binaryen 108 breaks wasm-bindgen's output). The --enable flags are the wasm
# features rustc emits for wasm32-unknown-unknown. --debuginfo keeps the name section (there is
# no DWARF in a release build), so browser stack traces name Rust functions instead of
# `wasm-function[2869]`: it costs about 10% of the gzipped size (measured: 817 -> 900 KB).
binaryen_version="$(node -p 'require("./bench/package.json").dependencies.binaryen')"
tools="target/tools/binaryen-$binaryen_version"
wasm_opt="$tools/node_modules/.bin/wasm-opt"
if [ ! -x "$wasm_opt" ]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --silent "binaryen@$binaryen_version"
fi
before="$(du -h pkg/casweb_bg.wasm | cut -f1)"
"$wasm_opt" --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
  --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
  -Oz --debuginfo pkg/casweb_bg.wasm -o pkg/casweb_bg.opt.wasm
mv -f pkg/casweb_bg.opt.wasm pkg/casweb_bg.wasm
# The package entry (npm/index.js: the public API, CaswebError for every failure, init() in
# Node), its types, the npm README and the licenses. error.js re-exports the copy of
# npm/error.js that the wasm glue imports (wasm-bindgen puts it under snippets/), so the entry and
# the wasm code share one CaswebError class.
cp npm/index.js npm/index.d.ts npm/error.d.ts npm/README.md LICENSE-MIT LICENSE-APACHE pkg/
error_snippet="$(cd pkg && find snippets -path '*/npm/error.js' -print)"
[ "$(printf '%s\n' "$error_snippet" | wc -l)" -eq 1 ] && [ -n "$error_snippet" ] ||
  { echo "build-pkg: expected one snippets/*/npm/error.js in pkg/, found: $error_snippet" >&2; exit 1; }
printf '// CaswebError: the copy of npm/error.js that the wasm glue imports.\nexport * from "./%s";\n' \
  "$error_snippet" >pkg/error.js
node -e '
  const fs = require("fs");
  const generated = JSON.parse(fs.readFileSync("pkg/package.json", "utf8"));
  const metadata = JSON.parse(fs.readFileSync("pkg.json", "utf8"));
  if (metadata.version !== generated.version) {
    console.error(`pkg.json has version ${metadata.version} but Cargo.toml has ${generated.version}`);
    process.exit(1);
  }
  const merged = { ...metadata, ...generated, ...metadata };
  fs.writeFileSync("pkg/package.json", JSON.stringify(merged, null, 2) + "\n");
'
echo "pkg/ ready: $(du -h pkg/casweb_bg.wasm | cut -f1) of wasm ($before before wasm-opt)"

if [ "${1:-}" = "--pack" ]; then
  mkdir -p target/npm
  tarball="$(cd pkg && npm pack --silent --pack-destination ../target/npm | tail -n 1)"
  mv -f "target/npm/$tarball" target/npm/casweb.tgz
  echo "npm package: target/npm/casweb.tgz (from $tarball)"
fi
