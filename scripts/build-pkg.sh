#!/usr/bin/env bash
# Builds the npm package into pkg/: wasm-pack (target web, release), then merges pkg.json's
# npm metadata into the package.json that wasm-pack generated.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

wasm-pack build --release --target web --out-dir pkg --out-name casweb
node -e '
  const fs = require("fs");
  const generated = JSON.parse(fs.readFileSync("pkg/package.json", "utf8"));
  const extra = JSON.parse(fs.readFileSync("pkg.json", "utf8"));
  const merged = { ...generated, ...extra, version: generated.version };
  fs.writeFileSync("pkg/package.json", JSON.stringify(merged, null, 2) + "\n");
'
echo "pkg/ ready: $(du -h pkg/casweb_bg.wasm | cut -f1) of wasm"
