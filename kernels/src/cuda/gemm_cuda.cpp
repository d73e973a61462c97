// cuda::gemm: checks the arguments, brings both operands into the K-major layout the tensor cores read
// (in place when the caller's already is), and picks the kernel family by the GPU's compute capability.
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <mutex>
#include <optional>

#include "../gemm_args.hpp"
#include "cuda_check.hpp"
#include "device_gemm.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cuda.hpp"
#include "tensor_map.hpp"

namespace lowbit::kernels::cuda {

namespace {

constexpr const char* kFn = "cuda::gemm";
constexpr int kBlock = 128;  // block-scaling granularity along K (and along N for the weights)

std::optional<Operands> operands_of(DType a, DType b) {
  using D = DType;
  if (a == D::bfloat16 && b == D::bfloat16) return Operands::bf16;
  if (a == D::float16 && b == D::float16) return Operands::f16;
  if (a == D::int8 && b == D::int8) return Operands::s8_s8;
  if (a == D::float8_e4m3fn && b == D::float8_e4m3fn) return Operands::e4m3_e4m3;
  if (a == D::float8_e4m3fn && b == D::float8_e5m2) return Operands::e4m3_e5m2;
  if (a == D::float8_e5m2 && b == D::float8_e4m3fn) return Operands::e5m2_e4m3;
  return std::nullopt;
}

bool is_fp8(Operands o) {
  return o == Operands::e4m3_e4m3 || o == Operands::e4m3_e5m2 || o == Operands::e5m2_e4m3;
}

OutType out_type(DType c) {
  switch (c) {
    case DType::float32:
      return OutType::f32;
    case DType::bfloat16:
      return OutType::bf16;
    case DType::float16:
      return OutType::f16;
    case DType::int32:
      return OutType::i32;
    default:
      throw RangeError(
          fmt::format("{}: c.type = {} is not an output type here (float32, bfloat16, float16, "
                      "int32)",
                      kFn, dtype_name(c)));
  }
}

struct Device {
  int major = 0, minor = 0, multiprocessors = 0;
};

// The current device's properties, queried once per device (callers may be on several threads).
const Device& current_device() {
  static std::array<std::optional<Device>, 64> devices;
  static std::mutex mutex;
  int id = 0;
  check_cuda(cudaGetDevice(&id), "cudaGetDevice");
  const std::lock_guard<std::mutex> lock(mutex);
  auto& slot = devices.at(static_cast<std::size_t>(id));
  if (!slot) {
    Device d;
    check_cuda(cudaDeviceGetAttribute(&d.major, cudaDevAttrComputeCapabilityMajor, id),
               "cudaDeviceGetAttribute");
    check_cuda(cudaDeviceGetAttribute(&d.minor, cudaDevAttrComputeCapabilityMinor, id),
               "cudaDeviceGetAttribute");
    check_cuda(cudaDeviceGetAttribute(&d.multiprocessors, cudaDevAttrMultiProcessorCount, id),
               "cudaDeviceGetAttribute");
    slot = d;
  }
  return *slot;
}

// Stream-ordered scratch memory, freed on the same stream after the kernels that use it.
class Scratch {
 public:
  explicit Scratch(cudaStream_t stream) : stream_(stream) {}
  ~Scratch() {
    if (data_) cudaFreeAsync(data_, stream_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  void* allocate(std::size_t bytes) {
    check_cuda(cudaMallocAsync(&data_, bytes, stream_), "cudaMallocAsync");
    return data_;
  }

 private:
  cudaStream_t stream_;
  void* data_ = nullptr;
};

// op(X) as `rows` K-major rows of k elements: the caller's memory when it already is that (aligned as TMA
// wants, and for mma.sync with whole 16-byte chunks of K), otherwise a zero-padded copy in `scratch`.
// k_rows says whether op(X)'s rows run along K in X's storage (A untransposed, B transposed).
KMajor k_major(const MatrixIn& x, bool k_rows, std::int64_t rows, std::int64_t k, int element_bytes,
               bool whole_chunks, Scratch& scratch, cudaStream_t stream) {
  const auto address = reinterpret_cast<std::uintptr_t>(x.data);
  const bool direct = k > 0 && k_rows && address % 16 == 0 && (x.ld * element_bytes) % 16 == 0 &&
                      (!whole_chunks || (k * element_bytes) % 16 == 0);
  if (direct) return {x.data, rows, x.ld};
  const std::int64_t per_chunk = 16 / element_bytes;
  const std::int64_t ld = (std::max<std::int64_t>(k, 1) + per_chunk - 1) / per_chunk * per_chunk;
  void* copy = scratch.allocate(static_cast<std::size_t>(rows * ld * element_bytes));
  launch_pack_k_major(copy, ld, x.data, rows, k, k_rows ? x.ld : 1, k_rows ? 1 : x.ld, element_bytes, stream);
  return {copy, rows, ld};
}

void check_block_scales(const MatrixIn& a, const MatrixIn& b, Operands operands) {
  if (a.group_size == 0 && b.group_size == 0) return;
  const bool layout = a.group_size == kBlock && a.group_span == 1 && b.group_size == kBlock &&
                      b.group_span == kBlock && a.group_zero == nullptr && b.group_zero == nullptr;
  if (!is_fp8(operands) || !layout) {
    throw RangeError(fmt::format(
        "{}: group scales (a.group_size = {}, a.group_span = {}, b.group_size = {}, b.group_span = {}) are "
        "supported only as fp8 block scaling: a 128 x 1, b 128 x 128, no zero points",
        kFn, a.group_size, a.group_span, b.group_size, b.group_span));
  }
}

}  // namespace

void gemm(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a, const MatrixIn& b,
          const MatrixOut& c, const Epilogue& epilogue, const GemmOptions& options) {
  check_gemm_args(kFn, m, n, k, a, b, c);
  const std::optional<Operands> operands = operands_of(a.type, b.type);
  if (!operands) {
    throw RangeError(
        fmt::format("{}: a.type = {} with b.type = {} has no tensor-core GEMM (both bfloat16, both "
                    "float16, both int8, or float8 e4m3fn/e5m2 but not e5m2 x e5m2)",
                    kFn, dtype_name(a.type), dtype_name(b.type)));
  }
  check_block_scales(a, b, *operands);
  DeviceGemm g;
  g.m = m;
  g.n = n;
  g.operands = *operands;
  g.stream = options.stream;
  DeviceEpilogue& e = g.epilogue;
  e.alpha = epilogue.alpha;
  e.beta = epilogue.beta;
  e.row_scale = epilogue.row_scale;
  e.col_scale = epilogue.col_scale;
  e.bias = epilogue.bias;
  e.activation = static_cast<int>(epilogue.activation);
  e.c = c.data;
  e.ldc = c.ld;
  e.out = out_type(c.type);
  const std::size_t pair_bytes = 2 * dtype_storage_bytes(c.type, 1);
  e.pairs = c.ld % 2 == 0 && reinterpret_cast<std::uintptr_t>(c.data) % pair_bytes == 0;
  e.plain =
      !e.row_scale && !e.col_scale && !e.bias && e.beta == 0.0f && epilogue.activation == Activation::none;
  e.vector16 = e.plain && (e.out == OutType::bf16 || e.out == OutType::f16) && c.ld % 8 == 0 &&
               reinterpret_cast<std::uintptr_t>(c.data) % 16 == 0;
  if (e.out == OutType::i32) {
    e.exact_int = g.operands == Operands::s8_s8 && epilogue.alpha == 1.0f &&
                  (epilogue.beta == 0.0f || epilogue.beta == 1.0f) && !epilogue.row_scale &&
                  !epilogue.col_scale && !epilogue.bias && epilogue.activation == Activation::none;
    if (!e.exact_int) {
      throw RangeError(
          fmt::format("{}: an int32 C takes int8 inputs and the exact sum only (alpha 1, beta 0 or 1, "
                      "no scales, bias or activation)",
                      kFn));
    }
  }
  if (m == 0 || n == 0) return;

  const Device& device = current_device();
  GemmPath path = options.path;
  if (path == GemmPath::automatic) path = device.major == 9 ? GemmPath::wgmma : GemmPath::mma_sync;
  if (path == GemmPath::wgmma && device.major != 9) {
    throw RangeError(fmt::format("{}: the wgmma path needs an sm_90 GPU; this one is sm_{}{}", kFn,
                                 device.major, device.minor));
  }
  const bool block_scaled = a.group_size > 0 && k > 0;
  if (block_scaled && path != GemmPath::wgmma)
    throw RangeError(fmt::format("{}: fp8 block scaling runs on the wgmma path (sm_90) only", kFn));
  if (is_fp8(g.operands) && device.major * 10 + device.minor < 89) {
    throw RangeError(fmt::format("{}: fp8 tensor cores need sm_89 or newer; this GPU is sm_{}{}", kFn,
                                 device.major, device.minor));
  }

  const auto stream = static_cast<cudaStream_t>(options.stream);
  const int bytes = operand_bytes(g.operands);
  Scratch scratch_a(stream), scratch_b(stream);
  const bool whole_chunks = path == GemmPath::mma_sync;
  g.a = k_major(a, a.transpose == Transpose::no, m, k, bytes, whole_chunks, scratch_a, stream);
  g.b = k_major(b, b.transpose == Transpose::yes, n, k, bytes, whole_chunks, scratch_b, stream);
  // TMA zero-fills past k by itself; mma.sync reads whole 16-byte chunks, which are then zero-padded copies
  // (or k fills them exactly).
  const std::int64_t per_chunk = 16 / bytes;
  g.k = whole_chunks ? (k + per_chunk - 1) / per_chunk * per_chunk : k;
  if (block_scaled) {
    g.a.block_scale = a.group_scale;
    g.b.block_scale = b.group_scale;
    g.b.block_span = b.group_span;
  }

  if (path == GemmPath::wgmma) {
    const WgmmaBoxes boxes = wgmma_boxes(g);
    const std::int64_t k_map = std::max<std::int64_t>(g.k, 1);  // k = 0 runs no slice but needs a valid map
    const CUtensorMap map_a =
        make_tensor_map_k_major(g.a.data, m, k_map, g.a.ld, bytes, boxes.k_elements, boxes.rows_a);
    const CUtensorMap map_b =
        make_tensor_map_k_major(g.b.data, n, k_map, g.b.ld, bytes, boxes.k_elements, boxes.rows_b);
    launch_gemm_wgmma(g, map_a, map_b, device.multiprocessors);
  } else {
    launch_gemm_mma_sync(g);
  }
}

}  // namespace lowbit::kernels::cuda
