// CPU GEMM: lowbit against OpenBLAS and oneDNN, 2 threads each (DESIGN.md section 7). Benchmarks are named
// gemm/<impl>/<type>/<M>x<N>x<K> and report `flops` = 2*M*N*K per second. A is M x K, B is K x N, both
// row-major; oneDNN gets its weights (B) pre-packed in the layout it prefers, as in its own fast path, and
// its primitive created once outside the timed loop. mem/read measures the machine's read bandwidth (two
// threads summing a 1 GiB buffer), the ceiling of a weight-streaming GEMV.
//
// Fairness on a small shared machine. OpenBLAS's worker threads busy-wait (sched_yield) for about 2^28
// cycles (OPENBLAS_THREAD_TIMEOUT, default 28: ~0.13 s at 2 GHz) after each call before they sleep, and
// libgomp's (oneDNN) spin too unless OMP_WAIT_POLICY=passive; with 2 cores, whatever benchmark ran next
// shared the cores with them. So every peer benchmark sleeps for kPeerSettle after its timed loop (not
// timed), and the next one starts with the peers' threads asleep, whatever the order or filter. Besides
// mean/median, each benchmark reports `min` over its repetitions: on a machine shared with other jobs, the
// fastest repetition is the one that had the cores to itself (run with --benchmark_repetitions=N).
#include <benchmark/benchmark.h>
#include <omp.h>
#include <x86_64-linux-gnu/openblas-pthread/cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <dnnl.hpp>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/kernels/gemm.hpp"
#include "lowbit/kernels/packed_weights.hpp"

namespace {

constexpr int kThreads = 2;
constexpr auto kPeerSettle = std::chrono::milliseconds(200);  // > OpenBLAS's 2^28-cycle spin
using lowbit::DType;
namespace lk = lowbit::kernels;

struct Shape {
  std::int64_t m, n, k;
};

std::string shape_name(const Shape& s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

void report(benchmark::State& state, const Shape& s) {
  state.counters["flops"] =
      benchmark::Counter(2.0 * static_cast<double>(s.m * s.n * s.k) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

std::vector<float> random_floats(std::int64_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(count));
  for (auto& x : v) x = normal(rng);
  return v;
}

// ---- f32 --------------------------------------------------------------------------------------------
void lowbit_f32(benchmark::State& state, Shape s) {
  const auto a = random_floats(s.m * s.k, 1), b = random_floats(s.k * s.n, 2);
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
  for (auto _ : state) {
    lk::sgemm(lk::Transpose::no, lk::Transpose::no, s.m, s.n, s.k, 1.0f, a.data(), s.k, b.data(), s.n, 0.0f,
              c.data(), s.n);
    benchmark::DoNotOptimize(c.data());
  }
  report(state, s);
}

void openblas_f32(benchmark::State& state, Shape s) {
  const auto a = random_floats(s.m * s.k, 1), b = random_floats(s.k * s.n, 2);
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(s.m), static_cast<int>(s.n),
                static_cast<int>(s.k), 1.0f, a.data(), static_cast<int>(s.k), b.data(), static_cast<int>(s.n),
                0.0f, c.data(), static_cast<int>(s.n));
    benchmark::DoNotOptimize(c.data());
  }
  report(state, s);
  std::this_thread::sleep_for(kPeerSettle);  // let OpenBLAS's workers stop spinning (see the top)
}

// ---- oneDNN: one matmul primitive with pre-packed weights -------------------------------------------
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// A (src) and B (weights) given as raw row-major buffers of their types; C of c_type.
void onednn_matmul(benchmark::State& state, Shape s, dt a_type, dt b_type, dt c_type, const void* a_data,
                   const void* b_data) {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const dnnl::memory::desc a_md({s.m, s.k}, a_type, tag::ab), b_user_md({s.k, s.n}, b_type, tag::ab),
      b_any_md({s.k, s.n}, b_type, tag::any), c_md({s.m, s.n}, c_type, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_any_md, c_md), engine);
  dnnl::memory a_mem(a_md, engine, const_cast<void*>(a_data));
  dnnl::memory b_user(b_user_md, engine, const_cast<void*>(b_data));
  dnnl::memory b_packed(pd.weights_desc(), engine);
  dnnl::reorder(b_user, b_packed).execute(stream, b_user, b_packed);
  dnnl::memory c_mem(c_md, engine);
  dnnl::matmul prim(pd);
  state.SetLabel(pd.impl_info_str());  // which kernel oneDNN chose (brg:avx512_core_amx, ...)
  for (auto _ : state) {
    prim.execute(stream, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_packed}, {DNNL_ARG_DST, c_mem}});
    stream.wait();
  }
  report(state, s);
  std::this_thread::sleep_for(kPeerSettle);  // let OpenMP's workers go to sleep (see the top)
}

void onednn_f32(benchmark::State& state, Shape s) {
  const auto a = random_floats(s.m * s.k, 1), b = random_floats(s.k * s.n, 2);
  onednn_matmul(state, s, dt::f32, dt::f32, dt::f32, a.data(), b.data());
}

// bf16 codes of normal(0, 1) values (round to nearest-even; no NaN among them).
std::vector<std::uint16_t> random_bf16(std::int64_t count, std::uint32_t seed) {
  const auto f = random_floats(count, seed);
  std::vector<std::uint16_t> v(f.size());
  for (std::size_t i = 0; i < f.size(); ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &f[i], 4);
    v[i] = static_cast<std::uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
  }
  return v;
}

std::vector<std::int8_t> random_s8(std::int64_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-128, 127);
  std::vector<std::int8_t> v(static_cast<std::size_t>(count));
  for (auto& x : v) x = static_cast<std::int8_t>(dist(rng));
  return v;
}

// lowbit::kernels::gemm on raw buffers of the given types, fp32 (or int32) output.
void lowbit_gemm(benchmark::State& state, Shape s, DType a_type, DType b_type, DType c_type, const void* a,
                 const void* b) {
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
  const lk::MatrixIn ai{a, a_type, s.k}, bi{b, b_type, s.n};
  const lk::MatrixOut co{c.data(), c_type, s.n};
  for (auto _ : state) {
    lk::gemm(s.m, s.n, s.k, ai, bi, co);
    benchmark::DoNotOptimize(c.data());
  }
  report(state, s);
}

// fp8 codes of normal(0, 1) values through formats' conversion.
std::vector<std::uint8_t> random_fp8(std::int64_t count, std::uint32_t seed, DType type) {
  const auto f = random_floats(count, seed);
  std::vector<std::uint8_t> v(f.size());
  lowbit::convert_bulk(lowbit::dtype_format(DType::float32), f.data(), lowbit::dtype_format(type), v.data(),
                       f.size());
  return v;
}

void lowbit_bf16(benchmark::State& state, Shape s) {
  const auto a = random_bf16(s.m * s.k, 1), b = random_bf16(s.k * s.n, 2);
  lowbit_gemm(state, s, DType::bfloat16, DType::bfloat16, DType::float32, a.data(), b.data());
}

void lowbit_f16(benchmark::State& state, Shape s) {
  const auto f = random_floats(s.m * s.k + s.k * s.n, 1);
  std::vector<std::uint16_t> h(f.size());
  lowbit::convert_bulk(lowbit::dtype_format(DType::float32), f.data(), lowbit::dtype_format(DType::float16),
                       h.data(), f.size());
  lowbit_gemm(state, s, DType::float16, DType::float16, DType::float32, h.data(), h.data() + s.m * s.k);
}

void lowbit_e4m3(benchmark::State& state, Shape s) {
  const auto a = random_fp8(s.m * s.k, 1, DType::float8_e4m3fn),
             b = random_fp8(s.k * s.n, 2, DType::float8_e4m3fn);
  lowbit_gemm(state, s, DType::float8_e4m3fn, DType::float8_e4m3fn, DType::float32, a.data(), b.data());
}

void lowbit_e5m2(benchmark::State& state, Shape s) {
  const auto a = random_fp8(s.m * s.k, 1, DType::float8_e5m2),
             b = random_fp8(s.k * s.n, 2, DType::float8_e5m2);
  lowbit_gemm(state, s, DType::float8_e5m2, DType::float8_e5m2, DType::float32, a.data(), b.data());
}

void lowbit_s8(benchmark::State& state, Shape s) {
  const auto a = random_s8(s.m * s.k, 1), b = random_s8(s.k * s.n, 2);
  lowbit_gemm(state, s, DType::int8, DType::int8, DType::int32, a.data(), b.data());
}

// int4 weights stored N x K (PyTorch's [out, in]) with one fp32 scale per 128 weights along K, bf16
// activations. Counter `weight_bytes` = bytes of weights + scales streamed per second.
constexpr std::int32_t kW4Group = 128;

// `packed`: the weights go through PackedInt4Weights once, outside the timed loop (as oneDNN's reorder of
// its bf16 weights); the rest multiply the weights as stored on every call.
void run_w4(benchmark::State& state, Shape s, bool packed) {
  const auto a = random_bf16(s.m * s.k, 1);
  std::vector<std::uint8_t> w(static_cast<std::size_t>(s.n * s.k / 2));
  std::mt19937 rng(3);
  for (auto& x : w) x = static_cast<std::uint8_t>(rng());
  std::vector<float> scale(static_cast<std::size_t>(s.n * s.k / kW4Group), 0.01f);
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
  const lk::MatrixIn ai{a.data(), DType::bfloat16, s.k};
  const lk::MatrixIn bi{w.data(), DType::int4, s.k, lk::Transpose::yes, kW4Group, scale.data()};
  const lk::MatrixOut co{c.data(), DType::float32, s.n};
  if (packed) {
    const lk::PackedInt4Weights pw(s.k, s.n, bi);
    for (auto _ : state) {
      lk::gemm(s.m, s.n, s.k, ai, pw, co);
      benchmark::DoNotOptimize(c.data());
    }
  } else {
    for (auto _ : state) {
      lk::gemm(s.m, s.n, s.k, ai, bi, co);
      benchmark::DoNotOptimize(c.data());
    }
  }
  report(state, s);
  state.counters["weight_bytes"] = benchmark::Counter(
      static_cast<double>(w.size() + scale.size() * 4) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

void lowbit_w4(benchmark::State& state, Shape s) {
  run_w4(state, s, false);
}

void lowbit_w4_packed(benchmark::State& state, Shape s) {
  run_w4(state, s, true);
}

// The machine's read bandwidth: two threads summing disjoint halves of a 1 GiB buffer (64-bit integer adds,
// which the compiler vectorizes; no arithmetic limit). Counter `bytes` per second.
void mem_read(benchmark::State& state) {
  constexpr std::size_t kWords = (std::size_t{1} << 30) / 8;
  std::vector<std::uint64_t> buf(kWords);
#pragma omp parallel for num_threads(kThreads) schedule(static)
  for (std::size_t i = 0; i < kWords; ++i) buf[i] = i;  // first touch by the thread that reads it
  for (auto _ : state) {
    std::uint64_t total = 0;
#pragma omp parallel for num_threads(kThreads) schedule(static) reduction(+ : total)
    for (std::size_t i = 0; i < kWords; ++i) total += buf[i];
    benchmark::DoNotOptimize(total);
  }
  state.counters["bytes"] = benchmark::Counter(
      static_cast<double>(kWords * 8) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void onednn_bf16(benchmark::State& state, Shape s) {
  const auto a = random_bf16(s.m * s.k, 1), b = random_bf16(s.k * s.n, 2);
  onednn_matmul(state, s, dt::bf16, dt::bf16, dt::f32, a.data(), b.data());
}

void onednn_s8(benchmark::State& state, Shape s) {
  const auto a = random_s8(s.m * s.k, 1), b = random_s8(s.k * s.n, 2);
  onednn_matmul(state, s, dt::s8, dt::s8, dt::s32, a.data(), b.data());
}

// ---- registration -------------------------------------------------------------------------------------
const Shape kShapes[] = {{512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 4096, 4096},
                         {1, 4096, 4096}, {16, 4096, 4096},   {64, 4096, 4096},   {512, 4096, 4096}};

using BenchFn = void (*)(benchmark::State&, Shape);

double fastest(const std::vector<double>& v) {
  return *std::min_element(v.begin(), v.end());
}

// Real time in ms, with the `min` statistic (see the top).
benchmark::internal::Benchmark* configure(benchmark::internal::Benchmark* b) {
  return b->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("min", fastest);
}

void add(const char* impl, const char* type, BenchFn fn) {
  for (const Shape& s : kShapes) {
    const std::string name = std::string("gemm/") + impl + "/" + type + "/" + shape_name(s);
    configure(benchmark::RegisterBenchmark(name.c_str(), fn, s));
  }
}

}  // namespace

int main(int argc, char** argv) {
  omp_set_num_threads(kThreads);  // oneDNN (OpenMP runtime) and lowbit's OpenMP pool
  openblas_set_num_threads(kThreads);
  lk::set_num_threads(kThreads);
  add("lowbit", "f32", lowbit_f32);
  add("openblas", "f32", openblas_f32);
  add("onednn", "f32", onednn_f32);
  add("lowbit", "bf16", lowbit_bf16);
  add("onednn", "bf16", onednn_bf16);
  add("lowbit", "s8", lowbit_s8);
  add("onednn", "s8", onednn_s8);
  add("lowbit", "f16", lowbit_f16);
  add("lowbit", "e4m3", lowbit_e4m3);
  add("lowbit", "e5m2", lowbit_e5m2);
  add("lowbit", "w4", lowbit_w4);
  add("lowbit", "w4packed", lowbit_w4_packed);
  for (const Shape& s : {Shape{1, 8192, 8192}, Shape{64, 8192, 8192}}) {
    configure(benchmark::RegisterBenchmark(("gemm/lowbit/w4/" + shape_name(s)).c_str(), lowbit_w4, s));
    configure(
        benchmark::RegisterBenchmark(("gemm/lowbit/w4packed/" + shape_name(s)).c_str(), lowbit_w4_packed, s));
  }
  configure(benchmark::RegisterBenchmark("mem/read/1GiB", mem_read));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
