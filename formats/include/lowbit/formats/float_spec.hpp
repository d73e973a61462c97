// The compile-time description of a binary floating-point format. Every float format of lowbit, from
// fp64 down to fp4 and e8m0, is one FloatSpec; the engine in float_engine.hpp is written once over it.
#pragma once

#include <cstdint>

namespace lowbit {

// How a format spends its codes on special values.
enum class Specials : std::uint8_t {
  ieee,  // IEEE 754: all-ones exponent holds +-inf (mantissa 0) and NaNs
  fn,    // finite + NaN: no inf, NaN only at all-ones exponent and mantissa (float8_e4m3fn, e8m0fnu)
  fnuz,  // finite + NaN, unsigned zero: no inf, no -0, the single NaN at the code of -0 (AMD/Graphcore)
  none,  // finite only: every code is a number (the OCP MX element types fp6/fp4)
};

struct FloatSpec {
  int exp_bits = 0;
  int man_bits = 0;  // stored fraction bits (the leading 1 is implicit)
  int bias = 0;
  bool is_signed = true;
  Specials specials = Specials::ieee;
  // false: exponent field 0 is an ordinary binade and there is neither zero nor subnormals (e8m0fnu).
  bool has_subnormals = true;

  constexpr int bits() const { return (is_signed ? 1 : 0) + exp_bits + man_bits; }
  constexpr std::uint64_t code_mask() const { return bits() == 64 ? ~0ull : (1ull << bits()) - 1; }
  constexpr std::uint64_t sign_mask() const { return is_signed ? 1ull << (exp_bits + man_bits) : 0; }
  constexpr std::uint64_t magnitude_mask() const { return (1ull << (exp_bits + man_bits)) - 1; }
  constexpr std::uint64_t man_mask() const { return (1ull << man_bits) - 1; }
  constexpr std::uint64_t exp_field_max() const { return (1ull << exp_bits) - 1; }

  constexpr bool has_inf() const { return specials == Specials::ieee; }
  constexpr bool has_nan() const { return specials != Specials::none; }
  constexpr bool has_negative_zero() const {
    return is_signed && has_subnormals && specials != Specials::fnuz;
  }
  constexpr bool has_zero() const { return has_subnormals; }

  // Magnitude code (sign bit clear) of the largest finite value.
  constexpr std::uint64_t max_finite_magnitude() const {
    switch (specials) {
      case Specials::ieee:
        return ((exp_field_max() - 1) << man_bits) | man_mask();
      case Specials::fn:
        return magnitude_mask() - 1;
      case Specials::fnuz:
      case Specials::none:
        return magnitude_mask();
    }
    return 0;
  }
  // Unbiased exponent of the smallest normal binade, and of the largest finite value's binade.
  constexpr int emin() const { return has_subnormals ? 1 - bias : -bias; }
  constexpr int emax() const { return static_cast<int>(max_finite_magnitude() >> man_bits) - bias; }

  // The NaN this format produces (quiet, sign as given where the format can carry it).
  constexpr std::uint64_t nan_code(bool negative) const {
    switch (specials) {
      case Specials::ieee: {
        const std::uint64_t quiet = man_bits > 0 ? 1ull << (man_bits - 1) : 0;
        return (negative ? sign_mask() : 0) | (exp_field_max() << man_bits) | quiet;
      }
      case Specials::fn:
        return (negative ? sign_mask() : 0) | magnitude_mask();
      case Specials::fnuz:
        return 1ull << (exp_bits + man_bits);
      case Specials::none:
        return 0;  // unreachable: callers check has_nan()
    }
    return 0;
  }
  constexpr std::uint64_t inf_code(bool negative) const {
    return (negative ? sign_mask() : 0) | (exp_field_max() << man_bits);
  }

  friend constexpr bool operator==(const FloatSpec&, const FloatSpec&) = default;
};

namespace spec {
inline constexpr FloatSpec float64{11, 52, 1023};
inline constexpr FloatSpec float32{8, 23, 127};
inline constexpr FloatSpec float16{5, 10, 15};
inline constexpr FloatSpec bfloat16{8, 7, 127};
inline constexpr FloatSpec float8_e4m3fn{4, 3, 7, true, Specials::fn};
inline constexpr FloatSpec float8_e4m3{4, 3, 7};
inline constexpr FloatSpec float8_e4m3fnuz{4, 3, 8, true, Specials::fnuz};
inline constexpr FloatSpec float8_e4m3b11fnuz{4, 3, 11, true, Specials::fnuz};
inline constexpr FloatSpec float8_e5m2{5, 2, 15};
inline constexpr FloatSpec float8_e5m2fnuz{5, 2, 16, true, Specials::fnuz};
inline constexpr FloatSpec float8_e3m4{3, 4, 3};
inline constexpr FloatSpec float6_e2m3fn{2, 3, 1, true, Specials::none};
inline constexpr FloatSpec float6_e3m2fn{3, 2, 3, true, Specials::none};
inline constexpr FloatSpec float4_e2m1fn{2, 1, 1, true, Specials::none};
inline constexpr FloatSpec float8_e8m0fnu{8, 0, 127, false, Specials::fn, false};
}  // namespace spec

}  // namespace lowbit
