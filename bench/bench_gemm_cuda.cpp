// GPU GEMM: lowbit's tensor-core kernels against cuBLAS / cuBLASLt in the same run (DESIGN.md section 7).
// Benchmarks are named gemm/<impl>/<type>/<M>x<N>x<K> and report `flops` = 2*M*N*K per second.
// A is M x K row-major, B is N x K (the [out, in] weight: "TN", the layout cuBLASLt's fp8 and int8 paths
// require); both libraries get the same device buffers. Each timed iteration runs kInner GEMMs between two
// CUDA events, rotating over enough input sets that they do not fit in L2, after a warm-up; the time
// reported is per GEMM.
//   impl cublas            cublasGemmEx (bf16, f16; fp32 compute)
//   impl cublaslt          cublasLtMatmul; fp8 with fast accumulation (the tensor cores' own, as lowbit's
//                          per-tensor kernel), int8 with int32 compute
//   impl cublaslt_promote  cublasLtMatmul fp8 with its default accumulation (partial sums promoted to fp32)
// Types: bf16, f16 (-> same type), e4m3 (e4m3 x e4m3 -> bf16, per-tensor scales), e4m3e5m2 (activations e4m3,
// weights e5m2), e4m3block (lowbit's 1x128 / 128x128 block scaling; its peer is cuBLASLt per-tensor e4m3),
// s8 (int8 -> int32).
#include <benchmark/benchmark.h>
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/kernels/cuda.hpp"

namespace {

using lowbit::DType;
namespace lk = lowbit::kernels;
namespace cu = lowbit::kernels::cuda;

constexpr int kInner = 5;
constexpr std::size_t kRotateBytes = std::size_t{256}
                                     << 20;  // input sets spanning at least this (L2 is 50-60 MB)

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}
void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "%s: cuBLAS status %d\n", what, static_cast<int>(s));
    std::exit(1);
  }
}

struct Shape {
  std::int64_t m, n, k;
};

enum class Type { bf16, f16, e4m3, e4m3e5m2, e4m3block, s8 };

DType a_type(Type t) {
  switch (t) {
    case Type::bf16:
      return DType::bfloat16;
    case Type::f16:
      return DType::float16;
    case Type::s8:
      return DType::int8;
    default:
      return DType::float8_e4m3fn;
  }
}
DType b_type(Type t) {
  return t == Type::e4m3e5m2 ? DType::float8_e5m2 : a_type(t);
}
DType c_type(Type t) {
  return t == Type::s8 ? DType::int32 : t == Type::f16 ? DType::float16 : DType::bfloat16;
}

// A pool of random codes of `type` (normal(0, 1) rounded into it; int8 uniform), tiled over device buffers:
// real data (never zeros), generated once per type.
const std::vector<unsigned char>& code_pool(DType type) {
  static std::vector<unsigned char> pools[16];
  auto& pool = pools[static_cast<int>(type)];
  if (pool.empty()) {
    constexpr std::size_t kCount = std::size_t{1} << 22;
    std::mt19937 rng(static_cast<unsigned>(type) + 1);
    pool.resize(lowbit::dtype_storage_bytes(type, kCount));
    if (type == DType::int8) {
      std::uniform_int_distribution<int> ints(-128, 127);
      for (auto& b : pool) b = static_cast<unsigned char>(ints(rng));
    } else {
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::vector<float> v(kCount);
      for (auto& x : v) x = normal(rng);
      lowbit::convert_bulk(lowbit::dtype_format(DType::float32), v.data(), lowbit::dtype_format(type),
                           pool.data(), kCount);
    }
  }
  return pool;
}

cu::DeviceBuffer random_device(DType type, std::size_t count) {
  const std::size_t bytes = lowbit::dtype_storage_bytes(type, count);
  cu::DeviceBuffer d(bytes);
  const auto& pool = code_pool(type);
  for (std::size_t offset = 0; offset < bytes; offset += pool.size())
    d.upload(pool.data(), std::min(pool.size(), bytes - offset), offset);
  return d;
}

cu::DeviceBuffer constant_floats(std::size_t count, float value) {
  std::vector<float> v(count, value);
  cu::DeviceBuffer d(count * sizeof(float));
  d.upload(v.data(), v.size() * sizeof(float));
  return d;
}

struct Operands {
  cu::DeviceBuffer a, b, c;
};

std::vector<Operands> make_sets(Type t, const Shape& s) {
  const std::size_t bytes = lowbit::dtype_storage_bytes(a_type(t), static_cast<std::size_t>(s.m * s.k)) +
                            lowbit::dtype_storage_bytes(b_type(t), static_cast<std::size_t>(s.n * s.k));
  const std::size_t count = std::clamp<std::size_t>(kRotateBytes / bytes + 1, 2, 16);
  std::vector<Operands> sets;
  for (std::size_t i = 0; i < count; ++i) {
    sets.push_back(
        {random_device(a_type(t), static_cast<std::size_t>(s.m * s.k)),
         random_device(b_type(t), static_cast<std::size_t>(s.n * s.k)),
         cu::DeviceBuffer(lowbit::dtype_storage_bytes(c_type(t), static_cast<std::size_t>(s.m * s.n)))});
  }
  return sets;
}

// Times `run(set)` with CUDA events: kInner calls per iteration over rotating sets, per-GEMM time reported.
void time_loop(benchmark::State& state, const Shape& s, std::size_t sets,
               const std::function<void(std::size_t)>& run) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  for (std::size_t i = 0; i < sets; ++i) run(i);  // warm-up: module load, handles, caches
  check(cudaDeviceSynchronize(), "warm-up");
  std::size_t next = 0;
  for (auto _ : state) {
    check(cudaEventRecord(start), "cudaEventRecord");
    for (int r = 0; r < kInner; ++r) run(next++ % sets);
    check(cudaEventRecord(stop), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    state.SetIterationTime(ms / 1e3 / kInner);
  }
  check(cudaGetLastError(), "benchmark loop");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  state.counters["flops"] =
      benchmark::Counter(2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) *
                             static_cast<double>(s.k) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

// ---- lowbit -----------------------------------------------------------------------------------------------
void bench_lowbit(benchmark::State& state, Type t, Shape s) {
  auto sets = make_sets(t, s);
  const std::int64_t groups = (s.k + 127) / 128;
  cu::DeviceBuffer scale_a, scale_b;
  if (t == Type::e4m3block) {
    scale_a = constant_floats(static_cast<std::size_t>(s.m * groups), 0.5f);
    scale_b = constant_floats(static_cast<std::size_t>((s.n + 127) / 128 * groups), 0.25f);
  }
  lk::Epilogue e;
  if (t == Type::e4m3 || t == Type::e4m3e5m2) e.alpha = 0.125f;  // the per-tensor scale product
  time_loop(state, s, sets.size(), [&](std::size_t i) {
    lk::MatrixIn a{sets[i].a.get(), a_type(t), s.k, lk::Transpose::no};
    lk::MatrixIn b{sets[i].b.get(), b_type(t), s.k, lk::Transpose::yes};
    if (t == Type::e4m3block) {
      a.group_size = b.group_size = 128;
      b.group_span = 128;
      a.group_scale = scale_a.as<float>();
      b.group_scale = scale_b.as<float>();
    }
    cu::gemm(s.m, s.n, s.k, a, b, lk::MatrixOut{sets[i].c.get(), c_type(t), s.n}, e);
  });
}

// ---- cuBLAS -----------------------------------------------------------------------------------------------
cublasHandle_t cublas() {
  static cublasHandle_t handle = [] {
    cublasHandle_t h;
    check(cublasCreate(&h), "cublasCreate");
    return h;
  }();
  return handle;
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::bfloat16:
      return CUDA_R_16BF;
    case DType::float16:
      return CUDA_R_16F;
    case DType::float8_e4m3fn:
      return CUDA_R_8F_E4M3;
    case DType::float8_e5m2:
      return CUDA_R_8F_E5M2;
    case DType::int8:
      return CUDA_R_8I;
    case DType::int32:
      return CUDA_R_32I;
    default:
      return CUDA_R_32F;
  }
}

// Row-major C(m x n) = A(m x k) B(n x k)^T is column-major C^T(n x m) = B^T... in cuBLAS terms: op(first) =
// B stored k x n column-major, transposed (T); op(second) = A stored k x m column-major (N).
void bench_cublas(benchmark::State& state, Type t, Shape s) {
  auto sets = make_sets(t, s);
  const float alpha = 1.0f, beta = 0.0f;
  time_loop(state, s, sets.size(), [&](std::size_t i) {
    check(cublasGemmEx(cublas(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(s.n), static_cast<int>(s.m),
                       static_cast<int>(s.k), &alpha, sets[i].b.get(), cuda_type(b_type(t)),
                       static_cast<int>(s.k), sets[i].a.get(), cuda_type(a_type(t)), static_cast<int>(s.k),
                       &beta, sets[i].c.get(), cuda_type(c_type(t)), static_cast<int>(s.n),
                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
          "cublasGemmEx");
  });
}

void bench_cublaslt(benchmark::State& state, Type t, Shape s, bool fast_accumulation) {
  auto sets = make_sets(t, s);
  static cublasLtHandle_t lt = [] {
    cublasLtHandle_t h;
    check(cublasLtCreate(&h), "cublasLtCreate");
    return h;
  }();
  const bool integer = t == Type::s8;
  cublasLtMatmulDesc_t op;
  check(cublasLtMatmulDescCreate(&op, integer ? CUBLAS_COMPUTE_32I : CUBLAS_COMPUTE_32F,
                                 integer ? CUDA_R_32I : CUDA_R_32F),
        "cublasLtMatmulDescCreate");
  const cublasOperation_t transpose = CUBLAS_OP_T, none = CUBLAS_OP_N;
  check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof(transpose)),
        "TRANSA");
  check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &none, sizeof(none)), "TRANSB");
  cu::DeviceBuffer one = constant_floats(4, 1.0f);
  if (!integer) {
    const void* scale = one.get();
    check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &scale, sizeof(scale)),
          "A_SCALE");
    check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &scale, sizeof(scale)),
          "B_SCALE");
    const std::int8_t fast = fast_accumulation ? 1 : 0;
    check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof(fast)),
          "FAST_ACCUM");
  }
  cublasLtMatrixLayout_t la, lb, lc;
  check(cublasLtMatrixLayoutCreate(&la, cuda_type(b_type(t)), static_cast<std::uint64_t>(s.k),
                                   static_cast<std::uint64_t>(s.n), s.k),
        "layout A");
  check(cublasLtMatrixLayoutCreate(&lb, cuda_type(a_type(t)), static_cast<std::uint64_t>(s.k),
                                   static_cast<std::uint64_t>(s.m), s.k),
        "layout B");
  check(cublasLtMatrixLayoutCreate(&lc, cuda_type(c_type(t)), static_cast<std::uint64_t>(s.n),
                                   static_cast<std::uint64_t>(s.m), s.n),
        "layout C");
  constexpr std::size_t kWorkspace = std::size_t{64} << 20;
  cu::DeviceBuffer workspace(kWorkspace);
  cublasLtMatmulPreference_t pref;
  check(cublasLtMatmulPreferenceCreate(&pref), "preference");
  check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &kWorkspace,
                                             sizeof(kWorkspace)),
        "workspace");
  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  check(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, 1, &heuristic, &found), "heuristic");
  if (found == 0) {
    state.SkipWithError("cuBLASLt found no algorithm");
    return;
  }
  const float alpha_f = 1.0f, beta_f = 0.0f;
  const std::int32_t alpha_i = 1, beta_i = 0;
  const void* alpha = integer ? static_cast<const void*>(&alpha_i) : &alpha_f;
  const void* beta = integer ? static_cast<const void*>(&beta_i) : &beta_f;
  time_loop(state, s, sets.size(), [&](std::size_t i) {
    check(cublasLtMatmul(lt, op, alpha, sets[i].b.get(), la, sets[i].a.get(), lb, beta, sets[i].c.get(), lc,
                         sets[i].c.get(), lc, &heuristic.algo, workspace.get(), kWorkspace, nullptr),
          "cublasLtMatmul");
  });
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(op);
}

std::string shape_name(const Shape& s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

void add(const std::string& impl, const char* type_name, Type t, const Shape& s,
         void (*fn)(benchmark::State&, Type, Shape)) {
  benchmark::RegisterBenchmark(("gemm/" + impl + "/" + type_name + "/" + shape_name(s)).c_str(), fn, t, s)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

void register_all() {
  const std::vector<Shape> square = {{4096, 4096, 4096}, {8192, 8192, 8192}, {8192, 8192, 2048}};
  std::vector<Shape> llm;
  for (const std::int64_t m : {128, 2048, 16384})
    for (const auto& [n, k] : {std::pair{4096, 4096}, std::pair{16384, 4096}, std::pair{4096, 16384}})
      llm.push_back({m, n, k});
  struct TypeEntry {
    const char* name;
    Type type;
    bool llm_shapes;
  };
  const TypeEntry types[] = {{"bf16", Type::bf16, true},           {"f16", Type::f16, false},
                             {"e4m3", Type::e4m3, true},           {"e4m3e5m2", Type::e4m3e5m2, false},
                             {"e4m3block", Type::e4m3block, true}, {"s8", Type::s8, true}};
  for (const TypeEntry& entry : types) {
    std::vector<Shape> shapes = square;
    if (entry.llm_shapes) shapes.insert(shapes.end(), llm.begin(), llm.end());
    for (const Shape& s : shapes) {
      add("lowbit", entry.name, entry.type, s, bench_lowbit);
      if (entry.type == Type::bf16 || entry.type == Type::f16) {
        add("cublas", entry.name, entry.type, s, bench_cublas);
      } else if (entry.type != Type::e4m3block) {  // block scaling's peer: cublaslt/e4m3 of the same shape
        add("cublaslt", entry.name, entry.type, s,
            [](benchmark::State& st, Type t, Shape sh) { bench_cublaslt(st, t, sh, true); });
        if (entry.type != Type::s8) {
          add("cublaslt_promote", entry.name, entry.type, s,
              [](benchmark::State& st, Type t, Shape sh) { bench_cublaslt(st, t, sh, false); });
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string why;
  if (!cu::device_available(&why)) {
    std::fprintf(stderr, "bench_gemm_cuda: %s\n", why.c_str());
    return 1;
  }
  const cu::DeviceProperties p = cu::device_properties();
  benchmark::AddCustomContext("gpu", p.name + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) +
                                         ", " + std::to_string(p.multiprocessors) + " SMs)");
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
