#!/usr/bin/env bash
# Builds the npm package into pkg/: wasm-pack (target web, release), then merges pkg.json's
# npm metadata (name, version, exports, types, files, ...) into the package.json that wasm-pack
# generated. pkg.json's version must match Cargo.toml's, so the two never drift apart.
# `--pack` also runs `npm pack` and copies the tarball to target/npm/casweb.tgz (a stable path
# that examples/vite-app installs from).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

wasm-pack build --release --target web --out-dir pkg --out-name casweb
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
echo "pkg/ ready: $(du -h pkg/casweb_bg.wasm | cut -f1) of wasm"

if [ "${1:-}" = "--pack" ]; then
  mkdir -p target/npm
  tarball="$(cd pkg && npm pack --silent --pack-destination ../target/npm | tail -n 1)"
  mv -f "target/npm/$tarball" target/npm/casweb.tgz
  echo "npm package: target/npm/casweb.tgz (from $tarball)"
fi
