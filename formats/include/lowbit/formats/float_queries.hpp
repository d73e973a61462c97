// Classification, neighbours, ulp and limits of float codes, over a FloatSpec value (one implementation
// for Float<S> and for the runtime registry).
#pragma once

#include <cstdint>
#include <optional>

#include "lowbit/formats/float_engine.hpp"

namespace lowbit {

enum class FloatClass : std::uint8_t { zero, subnormal, normal, inf, nan };

constexpr FloatClass classify(const FloatSpec& s, std::uint64_t code) {
  const Unpacked v = unpack_float(s, code);
  switch (v.kind) {
    case Unpacked::Kind::zero:
      return FloatClass::zero;
    case Unpacked::Kind::inf:
      return FloatClass::inf;
    case Unpacked::Kind::nan:
      return FloatClass::nan;
    case Unpacked::Kind::finite:
      break;
  }
  return v.exp < s.emin() ? FloatClass::subnormal : FloatClass::normal;
}

// Limits as codes.
constexpr std::uint64_t max_finite_code(const FloatSpec& s) {
  return s.max_finite_magnitude();
}
constexpr std::uint64_t lowest_code(const FloatSpec& s) {
  return s.is_signed ? s.sign_mask() | s.max_finite_magnitude() : 0;
}
constexpr std::uint64_t min_normal_code(const FloatSpec& s) {
  return s.has_subnormals ? 1ull << s.man_bits : 0;
}
constexpr std::uint64_t min_subnormal_code(const FloatSpec& s) {
  return s.has_subnormals ? 1 : 0;
}
// The gap between 1 and the next larger value, 2^-man_bits, as a code of the format.
constexpr std::uint64_t epsilon_code(const FloatSpec& s) {
  Flags ignored;
  return pack_float(s, Unpacked::from_integer(false, 1, -s.man_bits), {}, ignored);
}

// The least value above x (IEEE nextUp); nullopt for NaN and where no larger value exists.
constexpr std::optional<std::uint64_t> next_up(const FloatSpec& s, std::uint64_t code) {
  const Unpacked v = unpack_float(s, code);
  const std::uint64_t mag = code & s.magnitude_mask();
  const bool negative = v.negative && v.kind != Unpacked::Kind::zero;
  if (v.kind == Unpacked::Kind::nan) return std::nullopt;
  if (v.kind == Unpacked::Kind::inf) {
    if (!v.negative) return std::nullopt;
    return s.sign_mask() | s.max_finite_magnitude();
  }
  if (negative) {                                                          // toward zero in magnitude
    if (mag == 0 || (mag == 1 && !s.has_subnormals)) return std::nullopt;  // unreachable: no negative zero
    const std::uint64_t next = mag - 1;
    if (next == 0 && !s.has_negative_zero()) return 0;
    return s.sign_mask() | next;
  }
  if (v.kind == Unpacked::Kind::zero) return 1;  // +-0 -> smallest subnormal
  if (mag < s.max_finite_magnitude()) return mag + 1;
  if (s.has_inf()) return s.inf_code(false);
  return std::nullopt;
}

// The greatest value below x (IEEE nextDown).
constexpr std::optional<std::uint64_t> next_down(const FloatSpec& s, std::uint64_t code) {
  const Unpacked v = unpack_float(s, code);
  if (v.kind == Unpacked::Kind::nan) return std::nullopt;
  if (!s.is_signed) {
    if (v.kind == Unpacked::Kind::inf) return s.max_finite_magnitude();
    if (code == 0) return std::nullopt;
    return code - 1;
  }
  // nextDown(x) = -nextUp(-x); negating a code flips the sign bit, except where -x has no code of its own.
  auto negate = [&](std::uint64_t c) -> std::uint64_t {
    if ((c & s.magnitude_mask()) == 0 && !s.has_negative_zero()) return c & s.magnitude_mask();
    return c ^ s.sign_mask();
  };
  const std::optional<std::uint64_t> up = next_up(s, negate(code));
  if (!up) return std::nullopt;
  return negate(*up);
}

// The unit in the last place of x: 2^(max(exponent of x, emin) - man_bits), for finite x (inf, NaN: none).
constexpr std::optional<Unpacked> ulp(const FloatSpec& s, std::uint64_t code) {
  const Unpacked v = unpack_float(s, code);
  if (v.kind == Unpacked::Kind::nan || v.kind == Unpacked::Kind::inf) return std::nullopt;
  const int exp = v.kind == Unpacked::Kind::zero || v.exp < s.emin() ? s.emin() : v.exp;
  return Unpacked::from_integer(false, 1, exp - s.man_bits);
}

}  // namespace lowbit
