// NVFP4 blocks: NVIDIA's two-level recipe as TensorRT-Model-Optimizer implements it (block.hpp cites it
// and lists where lowbit rounds once instead of through fp32 intermediates).
#include <fmt/format.h>

#include <bit>
#include <cmath>

#include "block_internal.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/formats/float_engine.hpp"

namespace lowbit {

namespace {
constexpr std::uint8_t kScaleOne = 0x38;  // float8_e4m3fn 1.0: ModelOpt's scale of an all-zero block
constexpr std::uint8_t kNanScale = 0x7F;
constexpr std::uint64_t kE2m1TimesE4m3Max = 6 * 448;  // amax / 2688 maps the tensor's amax onto 6 * 448

void check_tensor_scale(float tensor_scale) {
  if (!std::isfinite(tensor_scale) || !(tensor_scale > 0.0f)) {
    throw RangeError(fmt::format("nvfp4 tensor_scale must be finite and positive, got {}", tensor_scale));
  }
}
}  // namespace

float nvfp4_tensor_scale(std::span<const float> values) {
  const float amax = detail::block_magnitude(values).finite_amax;
  Flags ignored;
  std::uint64_t code = 0;
  if (amax > 0.0f) {
    const Unpacked quotient =
        detail::divide(unpack_float32(amax), Unpacked::from_integer(false, kE2m1TimesE4m3Max));
    code = pack_float(spec::float32, quotient, {}, ignored);
  }
  if (code == 0) code = 1;  // at least 2^-149: a zero scale would divide by zero
  return std::bit_cast<float>(static_cast<std::uint32_t>(code));
}

std::uint8_t nvfp4_block_scale_code(float block_amax, float tensor_scale) {
  check_tensor_scale(tensor_scale);
  if (!std::isfinite(block_amax) || block_amax < 0.0f) {
    throw RangeError(fmt::format("nvfp4 block_amax must be finite and >= 0, got {}", block_amax));
  }
  if (block_amax == 0.0f) return kScaleOne;
  const Unpacked six_g = detail::multiply(Unpacked::from_integer(false, 6), unpack_float32(tensor_scale));
  Flags ignored;
  return static_cast<std::uint8_t>(pack_float(spec::float8_e4m3fn,
                                              detail::divide(unpack_float32(block_amax), six_g),
                                              {Rounding::nearest_even, Policy::saturate}, ignored));
}

namespace detail {

std::uint8_t encode_nvfp4_block(std::span<const float> values, std::span<std::uint8_t> codes,
                                float tensor_scale, const BlockOptions& options, std::size_t random_offset) {
  const BlockMagnitude magnitude = block_magnitude(values);
  const std::uint8_t scale_code = nvfp4_block_scale_code(magnitude.finite_amax, tensor_scale);
  // The divisor s * g, exact; zero when the block scale rounded to zero.
  const Unpacked divisor =
      multiply(unpack_float(spec::float8_e4m3fn, scale_code), unpack_float32(tensor_scale));
  Flags flags;
  for (std::size_t i = 0; i < values.size(); ++i) {
    Unpacked v = unpack_float32(values[i]);
    if (v.kind == Unpacked::Kind::finite) {
      v = divisor.kind == Unpacked::Kind::zero ? Unpacked::zero(v.negative) : divide(v, divisor);
    }
    RoundOptions round{options.rounding, options.policy, 0};
    if (options.rounding == Rounding::stochastic) round.random = options.random[random_offset + i];
    codes[i] = static_cast<std::uint8_t>(pack_float(spec::float4_e2m1fn, v, round, flags));
  }
  if (options.flags) *options.flags |= flags;
  return magnitude.has_special ? kNanScale : scale_code;
}

Unpacked decode_nvfp4_element(std::uint8_t scale_code, std::uint8_t code, float tensor_scale) {
  const Unpacked scale = unpack_float(spec::float8_e4m3fn, scale_code);
  if (scale.kind == Unpacked::Kind::nan) return Unpacked::nan(false);
  const Unpacked element = unpack_float(spec::float4_e2m1fn, code);
  return multiply(multiply(element, scale), unpack_float32(tensor_scale));
}

}  // namespace detail
}  // namespace lowbit
