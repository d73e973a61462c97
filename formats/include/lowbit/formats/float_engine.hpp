// The one conversion engine for every float format: unpack a code into its exact value, and round an
// exact value into a code with any rounding mode and policy. Written over a FloatSpec value, so the same
// code serves the compile-time Float<S> (where the spec is a constant and folds away) and the runtime
// registry.
#pragma once

#include <bit>
#include <cstdint>

#include "lowbit/formats/float_spec.hpp"
#include "lowbit/formats/unpacked.hpp"

namespace lowbit {

// The exact value of `code` (which must fit the format).
constexpr Unpacked unpack_float(const FloatSpec& s, std::uint64_t code) {
  const bool negative = (code & s.sign_mask()) != 0;
  const std::uint64_t mag = code & s.magnitude_mask();
  const std::uint64_t field = mag >> s.man_bits;
  const std::uint64_t frac = mag & s.man_mask();
  switch (s.specials) {
    case Specials::ieee:
      if (field == s.exp_field_max()) {
        if (frac == 0) return Unpacked::inf(negative);
        const bool quiet = s.man_bits > 0 && (frac >> (s.man_bits - 1)) != 0;
        return Unpacked::nan(negative, !quiet);
      }
      break;
    case Specials::fn:
      if (mag == s.magnitude_mask()) return Unpacked::nan(negative);
      break;
    case Specials::fnuz:
      if (code == s.sign_mask()) return Unpacked::nan(true);
      break;
    case Specials::none:
      break;
  }
  if (s.has_subnormals && field == 0) {
    if (frac == 0) return Unpacked::zero(negative);
    return Unpacked::from_integer(negative, frac, s.emin() - s.man_bits);
  }
  const int exp = static_cast<int>(field) - s.bias;
  return Unpacked::from_integer(negative, (1ull << s.man_bits) | frac, exp - s.man_bits);
}

// Round an exact value into the format: one rounding, flags as IEEE 754 (tininess detected before
// rounding). The choices where IEEE has no answer, all matching ml_dtypes 0.6 under Policy::ieee:
// - NaN into a format without NaN: ieee gives zero with the NaN's sign inverted (ml_dtypes' bit pattern);
//   saturate gives +max finite (CUDA's cuda_fp6/fp4). Both raise invalid.
// - inf into a format without inf: NaN (fn, fnuz) or the signed max finite (none), raising invalid.
// - Unsigned formats (e8m0fnu): negative values, zero and NaN give NaN (invalid); values below the
//   smallest code give the smallest code (there is no zero), raising underflow and inexact.
constexpr std::uint64_t pack_float(const FloatSpec& s, const Unpacked& v, const RoundOptions& options,
                                   Flags& flags) {
  const bool saturate = options.policy == Policy::saturate;
  const std::uint64_t sign = (v.negative && s.is_signed) ? s.sign_mask() : 0;
  const std::uint64_t max_finite = s.max_finite_magnitude();

  if (v.kind == Unpacked::Kind::nan) {
    if (v.signaling || !s.has_nan()) flags.raise(Flags::kInvalid);
    if (s.has_nan()) return s.nan_code(v.negative);
    return saturate ? max_finite : (v.negative ? 0 : s.sign_mask());
  }
  if (!s.is_signed && v.negative && v.kind != Unpacked::Kind::zero) {
    flags.raise(Flags::kInvalid);
    return s.nan_code(false);
  }
  if (v.kind == Unpacked::Kind::zero) {
    if (s.has_zero()) return s.has_negative_zero() ? sign : 0;
    flags.raise(Flags::kInvalid);
    return s.nan_code(false);
  }
  if (v.kind == Unpacked::Kind::inf) {
    if (s.has_inf() && !saturate) return s.inf_code(v.negative);
    if (saturate || !s.has_nan()) {
      if (!s.has_inf()) flags.raise(Flags::kInvalid);
      return sign | max_finite;
    }
    flags.raise(Flags::kInvalid);
    return s.nan_code(v.negative);
  }

  // Finite, nonzero.
  const int emin = s.emin();
  auto overflow = [&]() -> std::uint64_t {
    flags.raise(Flags::kOverflow | Flags::kInexact);
    if (saturate || !overflow_goes_to_infinity(options.rounding, v.negative)) return sign | max_finite;
    if (s.has_inf()) return s.inf_code(v.negative);
    if (s.has_nan()) return s.nan_code(v.negative);
    return sign | max_finite;
  };
  if (v.exp > s.emax()) return overflow();
  if (v.exp < emin) {
    if (!s.has_subnormals) {  // no zero and no subnormals: everything below rounds to the smallest code
      flags.raise(Flags::kUnderflow | Flags::kInexact);
      return 0;
    }
  }
  // Normal binades keep man_bits fraction bits; below emin the subnormal grid is fixed at emin - man_bits.
  const int shift = 63 - s.man_bits + (v.exp < emin ? emin - v.exp : 0);
  const RoundedSignificand r = round_significand(v.sig, v.sticky, shift, v.negative, options);
  // q carries the leading bit for normals, so a carry out of the fraction moves into the exponent field.
  std::uint64_t mag = r.q;
  if (v.exp >= emin) mag += static_cast<std::uint64_t>(v.exp - emin) << s.man_bits;
  if (!s.has_subnormals) mag -= 1ull << s.man_bits;
  if (r.inexact) {
    flags.raise(Flags::kInexact);
    if (v.exp < emin) flags.raise(Flags::kUnderflow);
  }
  if (mag > max_finite) return overflow();
  if (mag == 0 && !s.has_negative_zero()) return 0;
  return sign | mag;
}

// Convenience: the code of an fp32 or fp64 bit pattern in any format, and back.
constexpr Unpacked unpack_float32(float x) {
  return unpack_float(spec::float32, std::bit_cast<std::uint32_t>(x));
}
constexpr Unpacked unpack_float64(double x) {
  return unpack_float(spec::float64, std::bit_cast<std::uint64_t>(x));
}

}  // namespace lowbit
