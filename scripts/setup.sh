#!/usr/bin/env bash
# Installs what building and testing casweb needs, skipping whatever is already present:
# the wasm32 target (with an offline Debian fallback), rustfmt/clippy, wasm-bindgen-cli pinned to
# the crate's wasm-bindgen, wasm-pack, Debian's chromium + chromium-driver, and for the
# postgres+s3 backend tests Debian's postgresql and the s3s-fs S3 server (crates.io). Nothing here
# downloads a browser or a prebuilt binary.
set -euo pipefail

WASM_BINDGEN_VERSION="0.2.108"
# Pinned: s3s-fs 0.17 needs rustc 1.96; 0.14.1 builds with the toolchain here.
S3S_FS_VERSION="0.14.1"
TARGET="wasm32-unknown-unknown"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { printf '[setup] %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

export PATH="$HOME/.cargo/bin:$PATH"

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# The wasm32 standard library for Debian's rustc, built from its sources (TOOLCHAIN.md).
debian_wasm_fallback() {
  say "rustup could not add $TARGET: building it from Debian's rust sources"
  apt_install rustc-web cargo-web rust-web-src lld-22
  ln -sf /usr/lib/llvm-22/bin/lld /usr/local/bin/rust-lld
  local sysroot dir
  sysroot="$(/usr/bin/rustc --print sysroot)/lib/rustlib/$TARGET/lib"
  dir="$(mktemp -d)"
  (cd "$dir" && /usr/bin/cargo init --lib --name wasm_std_seed -q &&
    RUSTC_BOOTSTRAP=1 /usr/bin/cargo build -q --release --target "$TARGET" \
      -Zbuild-std=std,panic_abort,test,proc_macro)
  $SUDO mkdir -p "$sysroot"
  find "$dir/target/$TARGET/release/deps" -name '*.rlib' ! -name 'libwasm_std_seed*' \
    -exec $SUDO cp {} "$sysroot/" \;
  rm -rf "$dir"
  # From now on the Debian toolchain is the one to use.
  mkdir -p "$HOME/.cargo/bin"
  ln -sf /usr/bin/cargo "$HOME/.cargo/bin/cargo"
  ln -sf /usr/bin/rustc "$HOME/.cargo/bin/rustc"
}

if rustc --print target-libdir --target "$TARGET" 2>/dev/null | xargs -I{} test -d {}; then
  say "$TARGET target: present"
elif have rustup && rustup target add "$TARGET"; then
  say "$TARGET target: added"
else
  debian_wasm_fallback
fi

if have rustup; then
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" ||
      rustup component add "$component"
  done
fi

if wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  say "wasm-bindgen-cli $WASM_BINDGEN_VERSION: present"
else
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes)"
  cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked --force
fi

if have wasm-pack; then
  say "wasm-pack: present"
else
  say "installing wasm-pack (about 2 minutes)"
  cargo install -q wasm-pack --locked || cargo install -q wasm-pack
fi

if have chromium && have chromedriver; then
  say "chromium + chromedriver: present"
else
  say "installing Debian's chromium and chromium-driver"
  apt_install chromium chromium-driver
fi
if [ -n "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ]; then
  say "postgresql: present"
else
  say "installing Debian's postgresql (the postgres+s3 backend tests)"
  apt_install postgresql
fi

if s3s-fs --version 2>/dev/null | grep -q " $S3S_FS_VERSION\$"; then
  say "s3s-fs $S3S_FS_VERSION: present"
else
  say "installing the s3s-fs S3 server $S3S_FS_VERSION (about 5 minutes)"
  cargo install -q s3s-fs --version "$S3S_FS_VERSION" --features binary --locked --force
fi

say "ready"
