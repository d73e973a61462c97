// Integers (int1..int32, uint1..uint32, two's complement or sign-magnitude) and fixed point (Qm.n, UQm.n)
// are one template: an integer code scaled by 2^-frac_bits. Conversions round once, with any mode.
#pragma once

#include <cstdint>

#include "lowbit/formats/error.hpp"
#include "lowbit/formats/unpacked.hpp"

namespace lowbit {

[[noreturn]] void throw_too_wide(std::uint64_t bits, int width);

enum class IntEncoding : std::uint8_t { twos_complement, sign_magnitude };

struct IntegerSpec {
  int bits = 8;
  bool is_signed = true;
  int frac_bits = 0;  // fixed point: value = integer code / 2^frac_bits
  IntEncoding encoding = IntEncoding::twos_complement;

  constexpr std::uint64_t code_mask() const { return bits == 64 ? ~0ull : (1ull << bits) - 1; }
  // Largest and smallest integer codes, as values before scaling.
  constexpr std::int64_t max_int() const {
    return is_signed ? (std::int64_t{1} << (bits - 1)) - 1 : (std::int64_t{1} << bits) - 1;
  }
  constexpr std::int64_t min_int() const {
    if (!is_signed) return 0;
    return encoding == IntEncoding::twos_complement ? -(std::int64_t{1} << (bits - 1))
                                                    : -((std::int64_t{1} << (bits - 1)) - 1);
  }
  friend constexpr bool operator==(const IntegerSpec&, const IntegerSpec&) = default;
};

constexpr Unpacked unpack_integer(const IntegerSpec& s, std::uint64_t code) {
  bool negative = false;
  std::uint64_t magnitude = code;
  if (s.is_signed) {
    const std::uint64_t sign_bit = 1ull << (s.bits - 1);
    if (s.encoding == IntEncoding::sign_magnitude) {
      negative = (code & sign_bit) != 0;
      magnitude = code & (sign_bit - 1);
    } else if (code & sign_bit) {
      negative = true;
      magnitude = (~code + 1) & s.code_mask();
    }
  }
  if (magnitude == 0) return Unpacked::zero(negative);
  return Unpacked::from_integer(negative, magnitude, -s.frac_bits);
}

// Rounds once to the integer grid, then handles range. Out of range, NaN and inf raise invalid (as IEEE
// convertToInteger). Policy::saturate clamps (NaN -> 0). Policy::ieee wraps the two's-complement value
// modulo 2^bits for |value| < 2^63 and gives 0 beyond, for inf and for NaN. That matches ml_dtypes' and
// numpy's casts (which truncate, so compare with Rounding::toward_zero) for |value| < 2^31; beyond, their
// result is the x86 "integer indefinite" of an int32 conversion and not a semantics worth copying.
// Sign-magnitude has no wrap-around meaning, so it always clamps.
constexpr std::uint64_t pack_integer(const IntegerSpec& s, const Unpacked& v, const RoundOptions& options,
                                     Flags& flags) {
  const bool clamp = options.policy == Policy::saturate || s.encoding == IntEncoding::sign_magnitude;
  auto encode = [&](bool negative, std::uint64_t magnitude) -> std::uint64_t {
    if (s.encoding == IntEncoding::sign_magnitude && s.is_signed)
      return (negative ? 1ull << (s.bits - 1) : 0) | magnitude;
    return (negative ? ~magnitude + 1 : magnitude) & s.code_mask();
  };
  auto clamped = [&](bool negative) -> std::uint64_t {
    if (negative) return s.is_signed ? encode(true, static_cast<std::uint64_t>(-s.min_int())) : 0;
    return encode(false, static_cast<std::uint64_t>(s.max_int()));
  };
  switch (v.kind) {
    case Unpacked::Kind::nan:
      flags.raise(Flags::kInvalid);
      return 0;
    case Unpacked::Kind::inf:
      flags.raise(Flags::kInvalid);
      return clamp ? clamped(v.negative) : 0;
    case Unpacked::Kind::zero:
      return encode(v.negative && s.encoding == IntEncoding::sign_magnitude, 0);
    case Unpacked::Kind::finite:
      break;
  }
  const int exp = v.exp + s.frac_bits;  // exponent of the value on the integer grid
  if (exp >= 63) {                      // |value| >= 2^63: beyond every format and every wrap
    flags.raise(Flags::kInvalid);
    return clamp ? clamped(v.negative) : 0;
  }
  const RoundedSignificand r = round_significand(v.sig, v.sticky, 63 - exp, v.negative, options);
  if (r.inexact) flags.raise(Flags::kInexact);
  const std::uint64_t limit =
      v.negative ? static_cast<std::uint64_t>(-s.min_int()) : static_cast<std::uint64_t>(s.max_int());
  if (r.q > limit) {
    flags.raise(Flags::kInvalid);
    if (clamp) return clamped(v.negative);
    return encode(v.negative, r.q);  // two's-complement wrap
  }
  return encode(v.negative && (r.q != 0 || s.encoding == IntEncoding::sign_magnitude), r.q);
}

template <IntegerSpec S>
class Integer {
 public:
  static constexpr IntegerSpec spec = S;
  constexpr Integer() = default;
  // Throws RangeError when `bits` has bits set above the format's width.
  static constexpr Integer from_bits(std::uint64_t bits) {
    if ((bits & ~S.code_mask()) != 0) throw_too_wide(bits, S.bits);
    Integer i;
    i.bits_ = bits;
    return i;
  }
  static constexpr Integer from(const Unpacked& v, const RoundOptions& options = {}, Flags* flags = nullptr) {
    Flags local;
    return from_bits(pack_integer(S, v, options, flags ? *flags : local));
  }
  constexpr std::uint64_t bits() const { return bits_; }
  constexpr Unpacked unpacked() const { return unpack_integer(S, bits_); }
  friend constexpr bool operator==(Integer, Integer) = default;

 private:
  std::uint64_t bits_ = 0;
};

template <int Bits>
using Int = Integer<IntegerSpec{Bits, true}>;
template <int Bits>
using UInt = Integer<IntegerSpec{Bits, false}>;
template <int Bits>
using SignMagnitudeInt = Integer<IntegerSpec{Bits, true, 0, IntEncoding::sign_magnitude}>;
// Q notation (TI): Qm.n has a sign bit, m integer bits and n fraction bits; UQm.n has no sign bit.
template <int M, int N>
using Fixed = Integer<IntegerSpec{1 + M + N, true, N}>;
template <int M, int N>
using UFixed = Integer<IntegerSpec{M + N, false, N}>;

}  // namespace lowbit
