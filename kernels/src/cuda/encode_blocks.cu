// Block-scaled encoders on the GPU: rows of fp32 / bf16 into MX (one E8M0 scale per 32) and NVFP4 (one
// e4m3fn scale per 16, one fp32 scale per tensor), by the rules of formats' block.hpp. Every rounding is
// the formats engine's own pack_float (float_engine.hpp, constexpr, compiled here for the device). What
// this file adds is the layout (one lane per element; the lanes of a block reduce its amax together) and
// the exact quotients that NVFP4's scales need, which formats computes with host-only 128-bit helpers
// (formats/src/block_stream.cpp).
#include <cuda_runtime.h>

#include <bit>
#include <cstdint>

#include "convert_common.cuh"
#include "cuda_check.hpp"
#include "encode_blocks_launch.hpp"
#include "lowbit/formats/float_engine.hpp"

namespace lowbit::kernels::cuda {

namespace {

constexpr int kThreads = 256;
constexpr std::uint8_t kMxNanScale = 0xFF, kNvfp4NanScale = 0x7F;
constexpr std::uint8_t kNvfp4ZeroBlockScale = 0x38;  // e4m3fn 1.0, ModelOpt's scale of an all-zero block
constexpr int kE8m0Bias = 127, kMxScaleExpMin = -127;
constexpr std::uint64_t kE2m1TimesE4m3Max = 6 * 448;  // g = amax / 2688 maps the tensor's amax onto 6 * 448

__device__ inline Unpacked unpack_fp32_bits(std::uint32_t bits) {
  constexpr FloatSpec f32 = spec::float32;  // a local copy: namespace-scope constexpr is host-only
  return unpack_float(f32, bits);
}

// A positive divisor with an integer significand: value = sig * 2^exp. The products of fp32 and e4m3
// significands used here stay below 2^28.
struct Divisor {
  std::uint64_t sig;
  int exp;
};

// The integer significand of a finite nonzero value of a format with `man_bits` fraction bits.
__device__ inline Divisor significand(const Unpacked& u, int man_bits) {
  return {u.sig >> (63 - man_bits), u.exp - man_bits};
}

// x / d for x finite or zero (from fp32) and d nonzero, for one rounding by pack_float. x.sig holds fp32's
// 24 bits at the top of 64, so dividing it by d.sig < 2^28 gives the exact integer part of the quotient,
// at least 36 bits, and the remainder becomes the sticky bit: the truncation formats' 128-bit divide gives,
// to more bits than any e4m3 or e2m1 rounding looks at (stochastic rounding reads 32 bits below the last
// kept one, so 34 below the leading one).
__device__ inline Unpacked divide(const Unpacked& x, const Divisor& d) {
  if (x.kind == Unpacked::Kind::zero) return x;
  const std::uint64_t quotient = x.sig / d.sig;  // one 64-bit division; the remainder from it
  Unpacked q = Unpacked::from_integer(x.negative, quotient, x.exp - 63 - d.exp);
  q.sticky = x.sig != quotient * d.sig;
  return q;
}

// The input's amax for NVFP4's tensor scale: the finite values' max into `finite_amax` (formats'
// nvfp4_tensor_scale ignores NaN and inf), and, when asked, every value's into `amax` (as cuda::convert).
__global__ void tensor_amax_kernel(const void* src, bool src_bf16, std::size_t count, float* finite_amax,
                                   float* amax) {
  std::uint32_t local_finite = 0, local_all = 0;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::uint32_t magnitude = load_fp32_bits(src, src_bf16, i) & 0x7FFFFFFFu;
    local_all = max(local_all, magnitude);
    if (magnitude < 0x7F800000u) local_finite = max(local_finite, magnitude);
  }
  fold_amax(local_finite, finite_amax);
  if (amax) fold_amax(local_all, amax);
}

// *slot holds the input's finite amax; it becomes g = fp32(amax / 2688) (nearest-even), at least 2^-149.
__global__ void nvfp4_tensor_scale_kernel(float* slot) {
  constexpr FloatSpec f32 = spec::float32;
  const std::uint32_t amax_bits = std::bit_cast<std::uint32_t>(*slot);
  std::uint64_t code = 0;
  if (amax_bits != 0) {
    Flags ignored;
    code = pack_float(f32, divide(unpack_fp32_bits(amax_bits), Divisor{kE2m1TimesE4m3Max, 0}), {}, ignored);
  }
  *slot = std::bit_cast<float>(static_cast<std::uint32_t>(code == 0 ? 1 : code));
}

// One lane per element slot of rows x ceil(cols / kBlock) blocks; the kBlock lanes of a block (a whole or
// half warp) reduce its amax with warp intrinsics, so whole warps iterate together and lanes past the end
// of a row or of the array take part without loading or storing. The element format is a template
// argument (convert_common.cuh).
template <bool Nvfp4, class Element>
__global__ void __launch_bounds__(kThreads) encode_blocks_kernel(EncodeBlocksLaunch a) {
  constexpr unsigned kBlock = Nvfp4 ? 16 : 32;
  constexpr FloatSpec e4m3fn = spec::float8_e4m3fn, element = Element::spec;
  constexpr int Bits = element.bits();
  const std::size_t blocks_per_row = (a.cols + kBlock - 1) / kBlock;
  const std::size_t row_bytes = (a.cols * Bits + 7) / 8;
  const std::size_t lanes = a.rows * blocks_per_row * kBlock;
  const unsigned lane = threadIdx.x % 32;
  const bool narrow = lanes / kBlock < (std::size_t{1} << 32);
  const unsigned block_lanes = kBlock == 32 ? 0xFFFFFFFFu : 0xFFFFu << (lane & 16);
  Divisor g{};  // NVFP4: the tensor scale, for 6 * g (block scales) and s * g (elements)
  if constexpr (Nvfp4) g = significand(unpack_fp32_bits(std::bit_cast<std::uint32_t>(*a.tensor_scale)), 23);
  constexpr int emax_elem = element.emax();
  std::uint32_t local_amax = 0;
  for (std::size_t t = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; t - lane < lanes;
       t += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t block = t / kBlock;
    // The row by a 32-bit division where the block count allows: a 64-bit one costs several times more, per
    // element. (Lanes past the end may truncate; they are not valid.)
    const std::size_t row =
        narrow ? static_cast<std::uint32_t>(block) / static_cast<std::uint32_t>(blocks_per_row)
               : block / blocks_per_row;
    const std::size_t block_in_row = block - row * blocks_per_row;
    const std::size_t col = block_in_row * kBlock + t % kBlock, index = row * a.cols + col;
    const bool valid = t < lanes && col < a.cols;
    const std::uint32_t bits = valid ? load_fp32_bits(a.src, a.src_bf16, index) : 0u;
    const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
    const bool finite = magnitude < 0x7F800000u;
    local_amax = max(local_amax, magnitude);
    const std::uint32_t block_amax = __reduce_max_sync(block_lanes, finite ? magnitude : 0u);
    const bool special = __reduce_or_sync(block_lanes, finite ? 0u : 1u) != 0;

    Unpacked v = unpack_fp32_bits(bits);
    RoundOptions round{a.rounding, a.policy, 0};
    if (a.rounding == Rounding::stochastic && valid) round.random = a.random[index];
    Flags flags;
    std::uint8_t scale_code = 0;
    if constexpr (Nvfp4) {
      // s = e4m3(block_amax / (6 g)), nearest-even and saturating; elements are V / (s g), or +-0 when s
      // rounded to zero.
      std::uint8_t s = kNvfp4ZeroBlockScale;
      if (block_amax != 0) {
        s = static_cast<std::uint8_t>(pack_float(e4m3fn,
                                                 divide(unpack_fp32_bits(block_amax), {3 * g.sig, g.exp + 1}),
                                                 {Rounding::nearest_even, Policy::saturate, 0}, flags));
      }
      const Unpacked s_value = unpack_float(e4m3fn, s);
      if (v.kind == Unpacked::Kind::finite) {
        if (s_value.kind == Unpacked::Kind::zero) {
          v = Unpacked::zero(v.negative);
        } else {
          const Divisor s_int = significand(s_value, 3);
          v = divide(v, {s_int.sig * g.sig, s_int.exp + g.exp});
        }
      }
      scale_code = special ? kNvfp4NanScale : s;
    } else {
      // X = 2^k, k = floor(log2(block_amax)) - emax_elem (an all-zero block: -126 - emax_elem), at least
      // -127; elements are V / X, exactly. From fp32 input k never exceeds 127.
      int k = block_amax == 0 ? -126 - emax_elem : unpack_fp32_bits(block_amax).exp - emax_elem;
      k = max(k, kMxScaleExpMin);
      if (v.kind == Unpacked::Kind::finite) v.exp -= k;
      scale_code = special ? kMxNanScale : static_cast<std::uint8_t>(k + kE8m0Bias);
    }
    const std::uint32_t code = valid ? static_cast<std::uint32_t>(pack_float(element, v, round, flags)) : 0u;
    if constexpr (Bits == 8) {
      if (valid) a.elements[row * row_bytes + col] = static_cast<std::uint8_t>(code);
    } else {
      // Two elements per byte, the first in the low nibble: even lanes write, with their neighbour's code
      // (zero past the end of a row).
      const std::uint32_t high = __shfl_down_sync(0xFFFFFFFFu, code, 1);
      if (valid && col % 2 == 0)
        a.elements[row * row_bytes + col / 2] = static_cast<std::uint8_t>(code | high << 4);
    }
    if (valid && t % kBlock == 0) a.scales[row * blocks_per_row + block_in_row] = scale_code;
  }
  if (a.amax) fold_amax(local_amax, a.amax);
}

int grid_for(std::size_t threads) {
  const std::size_t wanted = (threads + kThreads - 1) / kThreads;
  return static_cast<int>(wanted < 8192 ? wanted : 8192);
}

}  // namespace

void launch_encode_blocks(const EncodeBlocksLaunch& args) {
  auto stream = static_cast<cudaStream_t>(args.stream);
  const std::size_t count = args.rows * args.cols;
  EncodeBlocksLaunch a = args;
  if (a.nvfp4) {
    // The tensor scale first: the finite amax reduced into the caller's slot, then turned into g there.
    check_cuda(cudaMemsetAsync(a.tensor_scale, 0, sizeof(float), stream), "cudaMemsetAsync (tensor scale)");
    if (count > 0) {
      tensor_amax_kernel<<<grid_for(count), kThreads, 0, stream>>>(a.src, a.src_bf16, count, a.tensor_scale,
                                                                   a.amax);
      check_cuda(cudaGetLastError(), "launch of tensor_amax_kernel");
    }
    nvfp4_tensor_scale_kernel<<<1, 1, 0, stream>>>(a.tensor_scale);
    check_cuda(cudaGetLastError(), "launch of nvfp4_tensor_scale_kernel");
    a.amax = nullptr;  // reduced above
  }
  if (count == 0) return;
  const std::size_t block = a.nvfp4 ? 16 : 32;
  const int grid = grid_for(a.rows * ((a.cols + block - 1) / block) * block);
  if (a.nvfp4) {
    encode_blocks_kernel<true, E2m1fn><<<grid, kThreads, 0, stream>>>(a);
  } else if (a.element == spec::float8_e4m3fn) {
    encode_blocks_kernel<false, E4m3fn><<<grid, kThreads, 0, stream>>>(a);
  } else if (a.element == spec::float8_e5m2) {
    encode_blocks_kernel<false, E5m2><<<grid, kThreads, 0, stream>>>(a);
  } else {
    encode_blocks_kernel<false, E2m1fn><<<grid, kThreads, 0, stream>>>(a);
  }
  check_cuda(cudaGetLastError(), "launch of encode_blocks_kernel");
}

}  // namespace lowbit::kernels::cuda
