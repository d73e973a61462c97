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
  bool has_inf;              // all-ones exponent with zero fraction is +-inf (IEEE style)
  bool ieee_nans;            // all-ones exponent with nonzero fraction is NaN (IEEE style)
  bool nan_at_all_ones;      // only the all-ones magnitude is NaN (the "fn" formats, e8m0)
  bool nan_at_negative_zero;  // the code 1000...0 is the only NaN, and there is no -0 ("fnuz")
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

// Correct rounding of an exact rational into a format, from the sorted table of its finite values:
// the rounding modes' definitions applied to the two neighbours, then the overflow rules of the policy.
// Returns the code. NaN/inf inputs are not handled here (the tests treat them as edge cases).
struct RefRounder {
  explicit RefRounder(const RefFormat& f);
  std::uint64_t round(const Rational& x, bool negative_zero, Rounding mode, Policy policy,
                      std::uint32_t random = 0) const;
  // The sorted finite non-negative values and their codes (positive sign).
  const RefFormat& format;
  std::vector<Rational> values;
  std::vector<std::uint64_t> codes;
  std::uint64_t nan_code(bool negative) const;
  std::uint64_t inf_code(bool negative) const;
  std::uint64_t sign_bit() const;
};

}  // namespace lowbit::test
