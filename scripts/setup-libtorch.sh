#!/usr/bin/env bash
# Install a slim CPU libtorch 2.13.0 (what tch 0.26 links) from the PyPI torch wheel into $CRAG_LIBTORCH
# (default /opt/crag/libtorch): headers, libc10/libtorch/libtorch_cpu, libgomp, libshm, plus libcudart/libcupti,
# which libtorch_cpu.so needs at load time. About 540 MB on disk; only crag-train needs it, never the extension.
set -euo pipefail
DIR=${CRAG_LIBTORCH:-/opt/crag/libtorch}
if [ -f "$DIR/lib/libtorch_cpu.so" ] && [ -d "$DIR/include/torch" ]; then exit 0; fi
printf '\033[1m[setup]\033[0m fetching torch==2.13.0 (wheel) from PyPI for libtorch -> %s\n' "$DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_25_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$tmp" torch==2.13.0 nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
mkdir -p "$DIR/lib" "$DIR/include"
cd "$tmp"
unzip -q -o torch-2.13.0-*.whl 'torch/include/*' 'torch/lib/libc10.so' 'torch/lib/libtorch.so' \
  'torch/lib/libtorch_cpu.so' 'torch/lib/libgomp*' 'torch/lib/libshm.so'
unzip -q -o -j nvidia_cuda_runtime-*.whl 'nvidia/cu13/lib/libcudart.so.13' -d "$DIR/lib"
unzip -q -o -j nvidia_cuda_cupti-*.whl 'nvidia/cu13/lib/libcupti.so.13' -d "$DIR/lib"
cp -r torch/include/. "$DIR/include/"
cp torch/lib/lib* "$DIR/lib/"
chmod -R a+rX "$DIR"
