// GPU conversion kernels against a device-to-device memcpy in the same run (DESIGN.md section 7: bulk
// conversion is memory-bound, so the peer is the copy engine's bandwidth). Benchmarks are named
// <kernel>/<from>/<to> and report bytes/s counting bytes read plus bytes written (the input, the packed
// elements and the scales), as for the copy (bytes read + bytes written). Inputs are normal(0, 1) values
// (never zeros), 64 Mi elements (256 MiB of fp32: far past the 50 MB L2); each timed iteration runs
// kInner kernels between two CUDA events after a warm-up.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "lowbit/formats/block.hpp"
#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/kernels/cuda.hpp"

namespace {

using lowbit::DType;
namespace cu = lowbit::kernels::cuda;

constexpr std::size_t kCount = std::size_t{64} << 20;
constexpr std::size_t kCols = 4096;  // rows of 4096: whole blocks, as a GEMM operand's K
constexpr int kInner = 10;

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

// normal(0, 1) inputs in fp32 and bf16, uploaded once.
struct Inputs {
  cu::DeviceBuffer f32, bf16;
  Inputs() : f32(kCount * 4), bf16(kCount * 2) {
    std::vector<float> host(kCount);
    std::mt19937_64 rng(42);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto& v : host) v = normal(rng);
    std::vector<std::uint16_t> half(kCount);
    lowbit::convert_bulk(lowbit::dtype_format(DType::float32), host.data(),
                         lowbit::dtype_format(DType::bfloat16), half.data(), kCount);
    f32.upload(host.data(), kCount * 4);
    bf16.upload(half.data(), kCount * 2);
  }
  const void* of(DType t) const { return t == DType::float32 ? f32.get() : bf16.get(); }
};

Inputs& inputs() {
  static Inputs in;
  return in;
}

void time_kernel(benchmark::State& state, std::size_t bytes, const std::function<void()>& launch) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  for (int i = 0; i < 3; ++i) launch();
  check(cudaDeviceSynchronize(), "warm-up");
  for (auto _ : state) {
    check(cudaEventRecord(start), "cudaEventRecord");
    for (int i = 0; i < kInner; ++i) launch();
    check(cudaEventRecord(stop), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    state.SetIterationTime(ms / 1e3 / kInner);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  check(cudaEventDestroy(start), "cudaEventDestroy");
  check(cudaEventDestroy(stop), "cudaEventDestroy");
}

void bench_memcpy(benchmark::State& state) {
  cu::DeviceBuffer out(kCount * 4);
  time_kernel(state, 2 * kCount * 4, [&] {
    check(cudaMemcpyAsync(out.get(), inputs().f32.get(), kCount * 4, cudaMemcpyDeviceToDevice),
          "cudaMemcpyAsync");
  });
}

void bench_convert(benchmark::State& state, DType from, DType to) {
  cu::DeviceBuffer out(kCount * 2);
  time_kernel(state, kCount * (lowbit::dtype_storage_bytes(from, 1) + lowbit::dtype_storage_bytes(to, 1)),
              [&] { cu::convert(inputs().of(from), from, out.get(), to, kCount); });
}

void bench_encode(benchmark::State& state, DType from, const char* format_name) {
  const lowbit::BlockFormat& format = lowbit::find_block_format(format_name);
  const std::size_t rows = kCount / kCols;
  const std::size_t element_bytes = rows * format.element_bytes(kCols),
                    scale_bytes = rows * format.block_count(kCols);
  cu::DeviceBuffer elements(element_bytes), scales(scale_bytes), tensor_scale(4);
  float* g = format.has_tensor_scale() ? tensor_scale.as<float>() : nullptr;
  time_kernel(state, kCount * lowbit::dtype_storage_bytes(from, 1) + element_bytes + scale_bytes, [&] {
    cu::encode_blocks(format, inputs().of(from), from, rows, kCols, elements.as<std::uint8_t>(),
                      scales.as<std::uint8_t>(), g);
  });
}

void register_all() {
  auto add = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseManualTime()->Unit(benchmark::kMicrosecond);
  };
  add("memcpy/device/fp32", bench_memcpy);
  for (const DType from : {DType::float32, DType::bfloat16}) {
    const std::string f(lowbit::dtype_name(from));
    add("convert/" + f + "/e4m3fn",
        [from](benchmark::State& s) { bench_convert(s, from, DType::float8_e4m3fn); });
    for (const char* name : {"mxfp8_e4m3", "mxfp8_e5m2", "mxfp4", "nvfp4"})
      add("encode_blocks/" + f + "/" + name,
          [from, name](benchmark::State& s) { bench_encode(s, from, name); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string why;
  if (!cu::device_available(&why)) {
    std::printf("no GPU: %s\n", why.c_str());
    return 0;
  }
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
