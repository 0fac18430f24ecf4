#!/usr/bin/env bash
# Runs the browser test suites (tests/browser_*.rs) in headless Chromium with wasm-pack.
# Capabilities (headless, --no-sandbox for root, no background networking) are in webdriver.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

suites=()
for file in tests/browser_*.rs; do
  suites+=(--test "$(basename "$file" .rs)")
done
wasm-pack test --headless --chrome --chromedriver "${CHROMEDRIVER:-/usr/bin/chromedriver}" -- "${suites[@]}"
