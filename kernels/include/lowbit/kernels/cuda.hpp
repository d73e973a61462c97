// lowbit's GEMM on NVIDIA GPUs (DESIGN.md section 4), in the shape of the CPU one (gemm.hpp): the same
// MatrixIn / MatrixOut / Epilogue, with every pointer (data, scales, bias) in device memory.
// This header needs no CUDA headers: streams are passed as `void*` (a cudaStream_t; null: the default).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "lowbit/formats/block.hpp"
#include "lowbit/formats/rounding.hpp"
#include "lowbit/kernels/gemm.hpp"

namespace lowbit::kernels::cuda {

// Whether a CUDA device lowbit can run on (compute capability 8.0 or newer) is present. When not, `why`
// (if given) says what was found instead: no driver, no device, an older GPU.
bool device_available(std::string* why = nullptr);

struct DeviceProperties {
  std::string name;
  int major = 0, minor = 0;  // compute capability
  int multiprocessors = 0;
  std::size_t memory_bytes = 0;
};
DeviceProperties device_properties();

// Device memory that frees itself. Every CUDA call is checked; failures throw lowbit::Error naming the call.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return data_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  std::size_t size() const { return bytes_; }
  void upload(const void* host, std::size_t bytes, std::size_t offset = 0);
  void download(void* host, std::size_t bytes, std::size_t offset = 0) const;
  void fill_bytes(unsigned char value);

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

void synchronize();

// Which kernel family runs a GEMM.
enum class GemmPath : std::uint8_t {
  automatic,  // wgmma on sm_90 (Hopper), mma.sync on sm_80 / sm_89
  wgmma,      // TMA + wgmma, warp-specialized and persistent (sm_90a only)
  mma_sync,   // mma.sync tensor cores (sm_80+; fp8 needs sm_89+)
};

struct GemmOptions {
  void* stream = nullptr;
  GemmPath path = GemmPath::automatic;
};

// C(m x n) = epilogue(op(A)(m x k) * op(B)(k x n)) on the GPU; all pointers are device pointers.
// Inputs: A and B both bfloat16, both float16, both int8, or float8 e4m3fn / e5m2 in any mix but e5m2 x e5m2.
// Float inputs accumulate in fp32 (the tensor cores' fp8 products add with about 14 bits before the fp32
// accumulator sees them, except under block scaling, which promotes every 128 of K); int8 in int32.
// C: float32, bfloat16, float16 (any inputs) or int32 (int8 inputs).
// Block scales (fp8 only, DeepSeek-V3 style): A with group_size 128 (one scale per row and 128 of K),
// B with group_size 128 and group_span 128 (one scale per 128 x 128 block of the weights).
// Fastest layout: A row-major (Transpose::no) and B stored n x k (Transpose::yes, the [out, in] weight),
// leading dimensions times the element size multiples of 16 bytes; other layouts are first copied into it.
// Throws lowbit::RangeError for bad arguments (naming them) and lowbit::Error for CUDA failures.
void gemm(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a, const MatrixIn& b,
          const MatrixOut& c, const Epilogue& epilogue = {}, const GemmOptions& options = {});

struct ConvertOptions {
  Policy policy = Policy::ieee;
  const float* scale =
      nullptr;            // device pointer to one fp32 factor applied first (x * scale, rounded to fp32)
  float* amax = nullptr;  // device pointer: max(*amax, max |x|) over the input, before scaling (NaN input
                          // makes it NaN); the caller initializes it (0 to start a new reduction)
  void* stream = nullptr;
};

// dst[i] = round(src[i] * scale) on the GPU, nearest-even, bit-identical to formats' conversion with the same
// policy (tested on all 2^32 fp32 inputs for fp8). from: float32 or bfloat16; to: float8_e4m3fn,
// float8_e5m2, bfloat16, float16. The quantization step of fp8 training (per-tensor scale and amax).
void convert(const void* src, DType from, void* dst, DType to, std::size_t count,
             const ConvertOptions& options = {});

struct EncodeBlocksOptions {
  // How elements are rounded; unset: the format's recipe (BlockFormat::default_options(): MX nearest-away,
  // NVFP4 nearest-even). Scales are rounded as block.hpp says, whatever this is.
  std::optional<Rounding> rounding;
  Policy policy = Policy::saturate;
  // Rounding::stochastic: device pointer to one word of random bits per element, in order (required then).
  const std::uint32_t* random = nullptr;
  float* amax = nullptr;  // as ConvertOptions::amax: max(*amax, max |x|) over the input, NaN included
  void* stream = nullptr;
};

// Encodes a rows x cols array of float32 or bfloat16 (row-major, rows contiguous) into a block format on the
// GPU, bit-identical to formats' encode_blocks (block.hpp: its rules and packed layout) applied to each row,
// so blocks run along the contiguous dimension and each row may end in a partial block:
//   elements: rows * format.element_bytes(cols) bytes, row r at r * format.element_bytes(cols);
//   scales:   rows * format.block_count(cols) bytes, row r at r * format.block_count(cols).
// Formats: mxfp8_e4m3, mxfp8_e5m2, mxfp4 and nvfp4. NVFP4 needs `tensor_scale`, a device float that receives
// the whole array's nvfp4_tensor_scale (its finite amax is reduced first), used by every row; MX formats
// take none (null). All pointers are device pointers. Throws lowbit::RangeError naming a bad argument.
void encode_blocks(const BlockFormat& format, const void* src, DType from, std::size_t rows, std::size_t cols,
                   std::uint8_t* elements, std::uint8_t* scales, float* tensor_scale = nullptr,
                   const EncodeBlocksOptions& options = {});

}  // namespace lowbit::kernels::cuda
