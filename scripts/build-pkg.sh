#!/usr/bin/env bash
# Builds the npm package into pkg/: wasm-pack (target web, release), wasm-opt -Oz on the module,
# then merges pkg.json's npm metadata (name, version, exports, types, files, ...) into the
# package.json that wasm-pack generated. pkg.json's version must match Cargo.toml's, so the two
# never drift apart.
# `--pack` also runs `npm pack` and copies the tarball to target/npm/casweb.tgz (a stable path
# that examples/vite-app installs from).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

wasm-pack build --release --target web --out-dir pkg --out-name casweb

# wasm-opt from npm's binaryen, the version bench/package.json pins, installed once into
# target/tools/ (Cargo.toml turns wasm-pack's own wasm-opt off: it cannot download binaryen here,
# and Debian's binaryen 108 breaks wasm-bindgen's output). The --enable flags are the wasm
# features rustc emits for wasm32-unknown-unknown.
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
  -Oz pkg/casweb_bg.wasm -o pkg/casweb_bg.opt.wasm
mv -f pkg/casweb_bg.opt.wasm pkg/casweb_bg.wasm
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
