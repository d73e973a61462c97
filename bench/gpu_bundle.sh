#!/usr/bin/env bash
# Collects the CUDA test and benchmark programs and the `lowbit` CLI, with the Debian shared libraries they
# need, into one folder (default .gpu/, ignored by git), to run on a GPU machine that has the NVIDIA driver
# and a CUDA 13 cuBLAS but none of Debian's libraries. The CUDA runtime is linked statically (DESIGN.md
# section 4). With a third argument, the Fashion-MNIST IDX files are copied into <out-dir>/fashion-mnist for
# `lowbit train --device cuda --data <out-dir>/fashion-mnist`.
#   bash bench/gpu_bundle.sh [build-dir] [out-dir] [fashion-mnist-dir]
# There: LD_LIBRARY_PATH=<out-dir>:<cuBLAS lib dir> <out-dir>/test_kernels_cuda
set -euo pipefail
build=${1:-build/release}
out=${2:-.gpu}
data=${3:-}
mkdir -p "$out"
programs=()
for program in "$build/tests/test_kernels_cuda" "$build/tests/test_train_cuda" "$build/bench/bench_gemm_cuda" \
               "$build/bench/bench_encode_cuda" "$build/bench/bench_train_step_cuda" "$build/bin/lowbit"; do
  if [[ -f "$program" ]]; then programs+=("$program"); else echo "gpu_bundle.sh: $program not built, skipped" >&2; fi
done
cp "${programs[@]}" "$out/"
for program in "${programs[@]}"; do
  ldd "$out/$(basename "$program")" | awk '/=> \/(usr\/)?lib\/x86_64-linux-gnu\/lib(benchmark|fmt|hwy)/ {print $3}'
done | sort -u | xargs -r -I{} cp -L {} "$out/"
if [[ -n "$data" ]]; then
  mkdir -p "$out/fashion-mnist"
  cp -L "$data"/*-ubyte* "$out/fashion-mnist/"
fi
ls -la "$out"
