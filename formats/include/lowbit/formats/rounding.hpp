// Rounding modes, overflow/NaN policies and IEEE-style exception flags shared by every conversion.
#pragma once

#include <cstdint>
#include <string_view>

namespace lowbit {

enum class Rounding : std::uint8_t {
  nearest_even,  // IEEE roundTiesToEven (the default)
  toward_zero,   // truncate
  up,            // toward +infinity
  down,          // toward -infinity
  nearest_away,  // IEEE roundTiesToAway
  odd,           // round to odd (sticky in the last bit: exact double-rounding-free narrowing)
  stochastic,    // up with probability equal to the dropped fraction, from caller-supplied random bits
};

// What happens to values beyond the largest finite value and to non-finite inputs.
enum class Policy : std::uint8_t {
  // The default: ml_dtypes 0.6 semantics. Overflow gives inf where the format has it, else NaN where it
  // has NaN, else the largest finite. Directed modes follow IEEE 754 (toward zero never overflows to inf).
  ieee,
  // CUDA __NV_SATFINITE: finite overflow and infinities clamp to the largest finite; NaN stays NaN.
  saturate,
};

// SoftFloat-style exception flags, raised by the scalar conversions.
class Flags {
 public:
  static constexpr std::uint8_t kInexact = 1, kUnderflow = 2, kOverflow = 4, kInvalid = 8;
  constexpr Flags() = default;
  constexpr explicit Flags(std::uint8_t bits) : bits_(bits) {}
  constexpr std::uint8_t bits() const { return bits_; }
  constexpr bool inexact() const { return bits_ & kInexact; }
  constexpr bool underflow() const { return bits_ & kUnderflow; }
  constexpr bool overflow() const { return bits_ & kOverflow; }
  constexpr bool invalid() const { return bits_ & kInvalid; }
  constexpr bool any() const { return bits_ != 0; }
  constexpr Flags& operator|=(Flags other) {
    bits_ |= other.bits_;
    return *this;
  }
  constexpr void raise(std::uint8_t bits) { bits_ |= bits; }
  friend constexpr bool operator==(Flags, Flags) = default;

 private:
  std::uint8_t bits_ = 0;
};

// Rounding and policy of one conversion; `random` feeds Rounding::stochastic (its top 32 bits are used).
struct RoundOptions {
  Rounding rounding = Rounding::nearest_even;
  Policy policy = Policy::ieee;
  std::uint32_t random = 0;
};

std::string_view to_string(Rounding rounding);
std::string_view to_string(Policy policy);
// Parse the CLI spelling (`nearest-even`, `toward-zero`, ...); throws ParseError naming the text.
Rounding parse_rounding(std::string_view text);
Policy parse_policy(std::string_view text);

}  // namespace lowbit
