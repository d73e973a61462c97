// Conversions from fp64 and from decimal text round once. Each case here is a trap for an implementation
// that narrows through an intermediate format (fp64 -> fp32 -> target, or text -> fp64 -> target): the
// intermediate lands exactly on a tie or a representable value of the target, and the second rounding
// goes the wrong way. Every case checks that the trap is real (rounding through the intermediate gives a
// different code) and that lowbit gives the singly rounded code of the table reference.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "lowbit/formats/decimal.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/formats/format.hpp"
#include "reference.hpp"

using namespace lowbit;
using namespace lowbit::test;

TEST_CASE("1 + 2^-4 + 2^-30 in fp64 goes to 1.125 in float8_e4m3fn", "[formats]") {
  const double x = 1.0 + 0x1p-4 + 0x1p-30;
  // Through fp32 the value becomes 1.0625, the exact tie between 1 and 1.125, which goes to the even 1.0.
  // ml_dtypes 0.6 converts fp64 to float8 through fp32 and gives 1.0 here; lowbit rounds once.
  REQUIRE(static_cast<double>(static_cast<float>(x)) == 1.0625);
  CHECK(float8_e4m3fn::from(x).bits() == 0x39);
  CHECK(float8_e4m3fn::from(x).to_double() == 1.125);
  CHECK(float8_e4m3fn::from(static_cast<float>(x)).bits() == 0x38);  // fp32 input: the tie itself
  CHECK(encode_number(find_format("float8_e4m3fn"), "1.062500000931322574615478515625") == 0x39);
  CHECK(convert(find_format("float64"), find_format("e4m3fn"), std::bit_cast<std::uint64_t>(x)) == 0x39);
}

namespace {

// Single rounding of the exact value vs rounding of the value first narrowed to `intermediate` (nearest
// even, as a cast would): they must differ (the trap is real), and the engine must give the former.
void check_trap(const RefFormat& f, const Rational& exact, const Rational& intermediate,
                const Unpacked& input, Rounding mode, const std::string& what) {
  const RefRounder& ref = ref_rounder(f.name);
  const std::uint64_t once = ref.round(exact, false, mode, Policy::ieee);
  const std::uint64_t twice = ref.round(intermediate, false, mode, Policy::ieee);
  INFO(f.name << " " << what << " " << to_string(mode));
  REQUIRE(once != twice);
  Flags flags;
  CHECK(find_format(f.name).pack(input, {mode, Policy::ieee, 0}, flags) == once);
}

}  // namespace

TEST_CASE("fp64 values that fp32 would round onto a tie or a grid value round once", "[formats]") {
  for (const RefFormat& f : ref_formats()) {
    const long m = f.man_bits;
    // Midpoints in the normal range (just above 1) and in the subnormal range (half the smallest
    // subnormal; e8m0 has none, so its second case is its smallest binade's midpoint).
    const long emin = f.exponent_zero_is_normal ? -f.bias : 1 - f.bias;
    const std::vector<Rational> ties = {
        1 + pow2(-m - 1), f.exponent_zero_is_normal ? Rational(pow2(emin) * 3 / 2) : pow2(emin - m - 1)};
    for (const Rational& tie : ties) {
      const double t = tie.convert_to<double>();
      REQUIRE(rational_of(t) == tie);
      // 2^-40 relative: below fp32's precision (the fp32 cast lands on the tie), within fp64's.
      const double offset = std::ldexp(t, -40);
      for (const double x : {t + offset, t - offset}) {
        REQUIRE(static_cast<double>(static_cast<float>(x)) == t);
        const Rounding mode = Rounding::nearest_even;
        const RefRounder& ref = ref_rounder(f.name);
        const std::uint64_t once = ref.round(rational_of(x), false, mode, Policy::ieee);
        const std::uint64_t twice = ref.round(tie, false, mode, Policy::ieee);
        Flags flags;
        INFO(f.name << " " << fmt::format("{:a}", x));
        CHECK(find_format(f.name).pack(unpack_float64(x), {}, flags) == once);
        // The half of the pair that the tie's even neighbour does not absorb is a real trap.
        if (once != twice)
          check_trap(f, rational_of(x), tie, unpack_float64(x), mode, fmt::format("{:a}", x));
      }
    }
  }
}

TEST_CASE("fp64 values that fp32 would make exact round once in the directed and odd modes", "[formats]") {
  for (const RefFormat& f : ref_formats()) {
    const long m = f.man_bits;
    // 1 + 2^-50 narrows to exactly 1 in fp32: up and odd must still see it as inexact.
    const double just_above_one = 1.0 + 0x1p-50;
    check_trap(f, rational_of(just_above_one), 1, unpack_float64(just_above_one), Rounding::up, "1 + 2^-50");
    if (m > 0)
      check_trap(f, rational_of(just_above_one), 1, unpack_float64(just_above_one), Rounding::odd,
                 "1 + 2^-50");
    // The next value above 1, less 2^-50, narrows to that value in fp32: toward zero must still go to 1.
    const double next = 1.0 + std::ldexp(1.0, static_cast<int>(m > 0 ? -m : 0)) - 0x1p-50;
    const Rational next_value = 1 + pow2(m > 0 ? -m : 0);
    check_trap(f, rational_of(next), next_value, unpack_float64(next), Rounding::toward_zero, "next - 2^-50");
    if (f.is_signed) {
      check_trap(f, rational_of(-next), -next_value, unpack_float64(-next), Rounding::up, "-(next - 2^-50)");
    }
  }
}

TEST_CASE("decimal text within a relative 10^-40 of a tie rounds by the exact value not by an fp64 reading",
          "[formats]") {
  const std::vector<std::string> names = {"float16",       "bfloat16",       "float8_e4m3fn",
                                          "float8_e5m2",   "float8_e3m4",    "float6_e2m3fn",
                                          "float4_e2m1fn", "float8_e8m0fnu", "float8_e4m3fnuz"};
  const Rational nudge(BigInt(1), boost::multiprecision::pow(BigInt(10), 40));
  for (const std::string& name : names) {
    const RefFormat& f = ref_format(name);
    const RefRounder& ref = ref_rounder(f.name);
    const Format format = find_format(name);
    // Ties: above 1, at the top binade, and between the two smallest values.
    const std::size_t n = ref.values.size();
    const std::vector<Rational> ties = {(ref.values[n - 2] + ref.values[n - 1]) / 2,
                                        (ref.values[0] + ref.values[1]) / 2, 1 + pow2(-f.man_bits - 1)};
    for (const Rational& tie : ties) {
      for (const Rational& value : {Rational(tie + nudge * tie), Rational(tie - nudge * tie)}) {
        for (const bool negative : {false, true}) {
          if (negative && !f.is_signed) continue;
          const Rational signed_value = negative ? Rational(-value) : value;
          const std::string text = exact_decimal_text(signed_value);
          REQUIRE(text.size() > 40);
          // An fp64 reading lands on the tie itself: only the exact value decides.
          REQUIRE(rational_of(std::strtod(text.c_str(), nullptr)) == (negative ? Rational(-tie) : tie));
          for (const Rounding mode : {Rounding::nearest_even, Rounding::nearest_away, Rounding::toward_zero,
                                      Rounding::up, Rounding::down, Rounding::odd}) {
            INFO(name << " " << text << " " << to_string(mode));
            const std::uint64_t want = ref.round(signed_value, false, mode, Policy::ieee);
            CHECK(encode_number(format, text, {mode, Policy::ieee, 0}) == want);
          }
          // Nearest: above the tie goes away from zero, below toward zero, whatever the tie rule.
          const std::uint64_t nearest = encode_number(format, text);
          const std::uint64_t truncated =
              encode_number(format, text, {Rounding::toward_zero, Policy::ieee, 0});
          INFO(name << " " << text);
          CHECK((nearest == truncated) == (value < tie));
        }
      }
    }
  }
}

TEST_CASE("decimal text within a relative 10^-40 of a float32 tie rounds by the exact value", "[formats]") {
  const RefIeeeRounder ref(ref_float32());
  const Format format = find_format("float32");
  const Rational nudge(BigInt(1), boost::multiprecision::pow(BigInt(10), 40));
  // 1 + 2^-24 (tie above 1), the tie between the two largest finite values, and 2^-150.
  for (const Rational& tie :
       {Rational(1 + pow2(-24)), Rational(pow2(128) - pow2(128 - 24) * 3 / 2), pow2(-150)}) {
    for (const Rational& value : {Rational(tie + nudge * tie), Rational(tie - nudge * tie)}) {
      const std::string text = exact_decimal_text(value, true);
      for (const Rounding mode :
           {Rounding::nearest_even, Rounding::nearest_away, Rounding::odd, Rounding::up}) {
        INFO(text << " " << to_string(mode));
        CHECK(encode_number(format, text, {mode, Policy::ieee, 0}) ==
              ref.round_with_flags(value, false, mode, Policy::ieee).code);
      }
    }
  }
}
