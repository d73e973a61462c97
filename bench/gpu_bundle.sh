#!/usr/bin/env bash
# Collects the CUDA test and benchmark programs with the Debian shared libraries they need into one folder
# (default .gpu/, ignored by git), to run on a GPU machine that has the NVIDIA driver and a CUDA 13 cuBLAS
# but none of Debian's libraries. The CUDA runtime is linked statically (DESIGN.md section 4).
#   bash bench/gpu_bundle.sh [build-dir] [out-dir]
# There: LD_LIBRARY_PATH=<out-dir>:<cuBLAS lib dir> <out-dir>/test_kernels_cuda
set -euo pipefail
build=${1:-build/release}
out=${2:-.gpu}
mkdir -p "$out"
cp "$build/tests/test_kernels_cuda" "$build/bench/bench_gemm_cuda" "$build/bench/bench_encode_cuda" "$out/"
for program in "$out/test_kernels_cuda" "$out/bench_gemm_cuda" "$out/bench_encode_cuda"; do
  ldd "$program" | awk '/=> \/(usr\/)?lib\/x86_64-linux-gnu\/lib(benchmark|fmt|hwy)/ {print $3}'
done | sort -u | xargs -r -I{} cp -L {} "$out/"
ls -la "$out"
