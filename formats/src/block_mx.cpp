// OCP MX v1.0 blocks: the E8M0 shared scale of section 6.3 and the element conversions (see block.hpp for
// the choices where the spec is silent, and why).
#include <algorithm>

#include "block_internal.hpp"
#include "lowbit/formats/float_engine.hpp"
#include "lowbit/formats/integer.hpp"

namespace lowbit {

namespace {
constexpr int kE8m0Bias = 127;
constexpr int kScaleExpMin = -127;  // e8m0's smallest code 0x00 is 2^-127; 0xFF is NaN
constexpr int kScaleExpMax = 127;
constexpr std::uint8_t kNanScale = 0xFF;
// The OCP reference code rounds int8 elements on a sign-magnitude grid (symmetric, always clamped).
constexpr IntegerSpec kInt8RoundingGrid{8, true, 6, IntEncoding::sign_magnitude};

bool is_int8(const BlockFormat& format) {
  return !format.element_format().is_float();
}

std::uint8_t sign_magnitude_to_twos_complement(std::uint64_t code) {
  const std::uint8_t magnitude = code & 0x7F;
  return (code & 0x80) ? static_cast<std::uint8_t>(-magnitude) : magnitude;
}
}  // namespace

std::uint8_t mx_scale_code(const Unpacked& amax, int emax_elem) {
  int k = 0;
  switch (amax.kind) {
    case Unpacked::Kind::nan:
    case Unpacked::Kind::inf:
      return kNanScale;
    // The reference code's log2(amax + 2^-126 * (amax == 0)).
    case Unpacked::Kind::zero:
      k = -126 - emax_elem;
      break;
    // Unpacked's exponent is floor(log2(|amax|)) exactly: sig is normalized into [2^63, 2^64).
    case Unpacked::Kind::finite:
      k = amax.exp - emax_elem;
      break;
  }
  if (k > kScaleExpMax) return kNanScale;
  return static_cast<std::uint8_t>(std::max(k, kScaleExpMin) + kE8m0Bias);
}

namespace detail {

std::uint8_t encode_mx_block(const BlockFormat& format, std::span<const float> values,
                             std::span<std::uint8_t> codes, const BlockOptions& options,
                             std::size_t random_offset) {
  const BlockMagnitude magnitude = block_magnitude(values);
  // Elements are converted at the scale of the finite values even when the stored scale is NaN, so that
  // the codes of such a block are still defined (block.hpp).
  const std::uint8_t finite_scale = mx_scale_code(unpack_float32(magnitude.finite_amax), format.emax_elem());
  const int k = static_cast<int>(finite_scale) - kE8m0Bias;  // finite_scale is never NaN from fp32 input
  const FloatSpec* element_spec = is_int8(format) ? nullptr : &format.element_format().float_spec();
  Flags flags;
  for (std::size_t i = 0; i < values.size(); ++i) {
    Unpacked v = unpack_float32(values[i]);
    if (v.kind == Unpacked::Kind::finite) v.exp -= k;  // V_i / X, exactly
    RoundOptions round{options.rounding, options.policy, 0};
    if (options.rounding == Rounding::stochastic) round.random = options.random[random_offset + i];
    codes[i] = element_spec
                   ? static_cast<std::uint8_t>(pack_float(*element_spec, v, round, flags))
                   : sign_magnitude_to_twos_complement(pack_integer(kInt8RoundingGrid, v, round, flags));
  }
  if (options.flags) *options.flags |= flags;
  return magnitude.has_special ? kNanScale : finite_scale;
}

Unpacked mx_scale_value(std::uint8_t scale_code) {
  if (scale_code == kNanScale) return Unpacked::nan(false);
  return Unpacked::from_integer(false, 1, static_cast<int>(scale_code) - kE8m0Bias);
}

Unpacked decode_mx_element(const BlockFormat& format, std::uint8_t scale_code, std::uint8_t code) {
  if (scale_code == kNanScale) return Unpacked::nan(false);
  Unpacked v = format.element_format().unpack(code);
  if (v.kind == Unpacked::Kind::finite)
    v.exp += static_cast<int>(scale_code) - kE8m0Bias;  // P_i * X, exactly
  return v;
}

}  // namespace detail
}  // namespace lowbit
