// Independent references for the formats tests, written from the format specifications with
// Boost.Multiprecision exact rationals. Nothing here calls the engine under test.
#pragma once

#include <boost/multiprecision/cpp_int.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/formats/rounding.hpp"
#include "lowbit/formats/unpacked.hpp"

namespace lowbit::test {

using Rational = boost::multiprecision::cpp_rational;
using BigInt = boost::multiprecision::cpp_int;

// A float format as the specifications describe it, in plain words.
struct RefFormat {
  std::string name;
  int exp_bits, man_bits, bias;
  bool is_signed;
  bool has_inf;                  // all-ones exponent with zero fraction is +-inf (IEEE style)
  bool ieee_nans;                // all-ones exponent with nonzero fraction is NaN (IEEE style)
  bool nan_at_all_ones;          // only the all-ones magnitude is NaN (the "fn" formats, e8m0)
  bool nan_at_negative_zero;     // the code 1000...0 is the only NaN, and there is no -0 ("fnuz")
  bool exponent_zero_is_normal;  // e8m0: no zero, no subnormals
  int bits() const { return (is_signed ? 1 : 0) + exp_bits + man_bits; }
};

// Every float format of DESIGN.md section 3, described from its spec (OCP FP8/MX, IEEE 754, ml_dtypes docs).
const std::vector<RefFormat>& ref_formats();
const RefFormat& ref_format(const std::string& name);

struct RefValue {
  enum class Kind { finite, inf, nan } kind = Kind::finite;
  bool negative = false;  // sign of zero / inf / NaN, and of finite values
  Rational value;         // exact, for finite values (0 for zeros)
};

RefValue ref_decode(const RefFormat& f, std::uint64_t code);

// The exact value of an Unpacked (finite or zero), for comparing the engine with the references.
Rational to_rational(const Unpacked& v);
Rational pow2(long e);

struct RefRounder;
// One RefRounder per format, built on first use and kept (the 16-bit tables take a moment to build).
const RefRounder& ref_rounder(const std::string& name);

// A code with the IEEE 754 exception flags the rounding raises, written from the standard's definitions:
// inexact iff the result differs from the exact value (or overflow); underflow iff the value is tiny before
// rounding (|x| < the smallest normal) and inexact; overflow iff the value rounded with an unbounded
// exponent range exceeds the largest finite; invalid for negative values and zero into unsigned e8m0.
struct RefRounded {
  std::uint64_t code = 0;
  Flags flags;
};

// Correct rounding of an exact rational into a format, from the sorted table of its finite values:
// the rounding modes' definitions applied to the two neighbours, then the overflow rules of the policy.
// Returns the code. NaN/inf inputs are not handled here (the tests treat them as edge cases).
struct RefRounder {
  // Where a value lies in the table: found once, then every mode and policy is cheap (round_at).
  struct Location {
    bool negative = false;
    bool is_zero = false;
    bool below_smallest = false;  // |x| under the smallest value (only e8m0, which has no zero)
    bool exact = false;           // |x| == values[index]
    bool tiny = false;            // |x| < the smallest normal value
    std::size_t index = 0;        // values[index] <= |x| < the next grid value
    int versus_midpoint = 0;      // sign of |x| - (low + high) / 2
    bool past_next = false;       // |x| >= high where high lies beyond the largest finite value
    BigInt fraction32;            // floor((|x| - low) / (high - low) * 2^32): the stochastic threshold
  };

  explicit RefRounder(const RefFormat& f);
  std::uint64_t round(const Rational& x, bool negative_zero, Rounding mode, Policy policy,
                      std::uint32_t random = 0) const;
  RefRounded round_with_flags(const Rational& x, bool negative_zero, Rounding mode, Policy policy,
                              std::uint32_t random = 0) const;
  Location locate(const Rational& x, bool negative_zero) const;
  RefRounded round_at(const Location& at, Rounding mode, Policy policy, std::uint32_t random = 0) const;
  // The grid value after the largest finite one, as if the exponent range were unbounded.
  Rational beyond_max() const;
  Rational min_normal() const;
  // The sorted finite non-negative values and their codes (positive sign).
  const RefFormat& format;
  std::vector<Rational> values;
  std::vector<std::uint64_t> codes;
  std::uint64_t nan_code(bool negative) const;
  std::uint64_t inf_code(bool negative) const;
  std::uint64_t sign_bit() const;

 private:
  Rational beyond_max_;
  Rational min_normal_;
};

// Correct rounding by arithmetic rather than by table, for IEEE-style formats with inf and NaN (float32,
// float64, float16, ...): the quantum 2^(max(e, emin) - man_bits) of the value's binade, the rounding
// modes' definitions on the integer multiple, then the code built from its fields. Same results and flags
// as RefRounder where both apply; used where a table of every value would be too large.
struct RefIeeeRounder {
  struct Location {
    bool negative = false;
    bool is_zero = false;
    bool exact = false;
    bool tiny = false;     // |x| < 2^emin
    long quantum_exp = 0;  // |x| = (k + fraction) * 2^quantum_exp
    BigInt k;              // the truncated multiple of the quantum
    int versus_half = 0;   // sign of fraction - 1/2
    BigInt fraction32;     // floor(fraction * 2^32)
  };
  explicit RefIeeeRounder(const RefFormat& f);
  RefRounded round_with_flags(const Rational& x, bool negative_zero, Rounding mode, Policy policy,
                              std::uint32_t random = 0) const;
  Location locate(const Rational& x, bool negative_zero) const;
  RefRounded round_at(const Location& at, Rounding mode, Policy policy, std::uint32_t random = 0) const;
  const RefFormat& format;
};

// An integer or fixed-point format in plain words: `bits` wide, value = integer / 2^frac_bits, the integer
// in two's complement (signed) or sign-magnitude (top bit the sign, the rest the magnitude), or unsigned.
struct RefIntegerFormat {
  int bits;
  bool is_signed;
  int frac_bits;
  bool sign_magnitude;
};

// The exact value of a code; `negative_zero` tells sign-magnitude's -0 from +0.
Rational ref_integer_value(const RefIntegerFormat& f, std::uint64_t code, bool* negative_zero = nullptr);

// Rounding an exact value into an integer/fixed format, by the documented rules: x * 2^frac_bits rounds
// once to an integer by the mode's definition (inexact when that changes it); in range, that integer's
// code (sign-magnitude keeps the sign of a zero result); out of range, invalid and then: saturate (and
// always sign-magnitude) clamps to the nearest end; ieee wraps modulo 2^bits, except that |x * 2^frac| >=
// 2^63 gives 0. NaN gives 0 and inf clamps (saturate, sign-magnitude) or gives 0 (ieee), both invalid.
RefRounded ref_integer_round(const RefIntegerFormat& f, const Rational& x, bool negative_zero, Rounding mode,
                             Policy policy, std::uint32_t random = 0);
RefRounded ref_integer_non_finite(const RefIntegerFormat& f, bool is_nan, bool negative, Policy policy);

// float32 and float64 as RefFormats (not in ref_formats(): too wide for tables of every code).
const RefFormat& ref_float32();
const RefFormat& ref_float64();

// floor(log2(a)) for a > 0.
long floor_log2(const Rational& a);
// Exact values of binary floating-point numbers (finite).
Rational rational_of(double x);
Rational rational_of(float x);
// A dyadic rational with at most 53 significant bits as the fp64 holding it exactly (throws otherwise).
double exact_double(const Rational& x);
// The exact value of decimal text "[-]digits[.digits][e[+-]digits]" (the tests' own small parser).
Rational rational_of_decimal(const std::string& text);
// The exact value of hexadecimal float text "[-]0x hexdigits[.hexdigits][p[+-]digits]".
Rational rational_of_hex(const std::string& text);
// Either of the two above, by the text's form.
Rational rational_of_text(const std::string& text);
// Exact decimal text of a value with a finite decimal expansion (every dyadic rational), by long division:
// "[-]digits[.digits]" or, with `scientific`, "[-]d.ddd...e[+-]N". Throws if the expansion does not end.
std::string exact_decimal_text(const Rational& x, bool scientific = false);

}  // namespace lowbit::test
