// Integers (intN, uintN, smintN sign-magnitude) and fixed point (qM.N, uqM.N): every code of every width
// up to 16 decodes to the value the encoding defines, and conversions from fp64, fp32 and decimal text
// round once in every mode, with out-of-range values, NaN and inf handled by the documented policy rules
// (saturate clamps; ieee wraps modulo 2^bits below 2^63; sign-magnitude always clamps) and flags raised
// as documented. The reference (reference.cpp, ref_integer_round) works on Boost rationals; the formats
// are described from their names by the test itself, not by the registry.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "conversion_checks.hpp"
#include "input_patterns.hpp"
#include "lowbit/formats/decimal.hpp"
#include "lowbit/formats/float_engine.hpp"
#include "lowbit/formats/format.hpp"
#include "lowbit/formats/integer.hpp"
#include "reference.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

// The format a family name spells, read by the test: intN, uintN, smintN, qM.N, uqM.N.
RefIntegerFormat described(const std::string& name) {
  auto number = [&](std::size_t from) { return std::stoi(name.substr(from)); };
  if (name.starts_with("smint")) return {number(5), true, 0, true};
  if (name.starts_with("uint")) return {number(4), false, 0, false};
  if (name.starts_with("int")) return {number(3), true, 0, false};
  const bool is_unsigned = name.starts_with("uq");
  const std::size_t start = is_unsigned ? 2 : 1, dot = name.find('.');
  const int m = std::stoi(name.substr(start, dot - start)), n = std::stoi(name.substr(dot + 1));
  return {(is_unsigned ? 0 : 1) + m + n, !is_unsigned, n, false};
}

std::vector<std::string> formats_up_to_16_bits() {
  std::vector<std::string> names;
  for (int n = 1; n <= 16; ++n) {
    names.push_back(fmt::format("int{}", n));
    names.push_back(fmt::format("uint{}", n));
    if (n >= 2) names.push_back(fmt::format("smint{}", n));
  }
  for (int m = 0; m <= 11; ++m) {
    for (int n = 0; m + n <= 11; ++n) {
      names.push_back(fmt::format("q{}.{}", m, n));
      if (m + n >= 1) names.push_back(fmt::format("uq{}.{}", m, n));
    }
  }
  for (const char* name : {"q7.8", "q0.15", "q15.0", "uq8.8", "uq0.16", "uq16.0", "q4.11"})
    names.push_back(name);
  return names;
}

const char* const kConversionFormats[] = {
    "int1",  "int2",  "int4",   "int7",   "int8",   "int16",  "int32",   "uint1",   "uint2",
    "uint4", "uint8", "uint13", "uint32", "smint2", "smint8", "smint16", "smint32", "q0.0",
    "q3.4",  "q0.7",  "q7.0",   "q15.16", "uq0.1",  "uq0.8",  "uq4.4",   "uq16.16", "q1.30"};

void check_value(const Format& format, const RefIntegerFormat& f, const Unpacked& input,
                 const Rational& exact, bool negative_zero, std::mt19937_64& rng,
                 const std::function<std::string()>& what, CheckLog& log) {
  std::vector<ModeCase> cases =
      mode_cases(static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng()));
  // Past 2^32 on the integer grid, the 64-bit significand of Unpacked keeps fewer than the 32 fraction
  // bits stochastic rounding reads (a limit of the exact form, met only out of range, where ieee wraps).
  const Rational scaled = exact * pow2(f.frac_bits);
  if ((scaled < 0 ? Rational(-scaled) : scaled) >= pow2(32)) {
    std::erase_if(cases, [](const ModeCase& c) { return c.mode == Rounding::stochastic; });
  }
  check_every_mode(
      format, input, cases,
      [&](Rounding mode, Policy policy, std::uint32_t random) {
        return ref_integer_round(f, exact, negative_zero, mode, policy, random);
      },
      what, log);
}

void check_double(const Format& format, const RefIntegerFormat& f, double x, std::mt19937_64& rng,
                  CheckLog& log) {
  check_value(
      format, f, unpack_float64(x), rational_of(x), std::signbit(x), rng,
      [&] { return fmt::format("fp64 {:a}", x); }, log);
}

}  // namespace

TEST_CASE("every code of every integer and fixed-point format up to 16 bits decodes to its specified value",
          "[formats]") {
  for (const std::string& name : formats_up_to_16_bits()) {
    const Format format = find_format(name);
    const RefIntegerFormat f = described(name);
    REQUIRE(format.bits() == f.bits);
    CheckLog log;
    for (std::uint64_t code = 0; code < (1ull << f.bits); ++code) {
      bool negative_zero = false;
      const Rational want = ref_integer_value(f, code, &negative_zero);
      const Unpacked got = format.unpack(code);
      log.count_check();
      if (to_rational(got) != want || (want == 0 && got.negative != negative_zero)) {
        log.add(fmt::format("{:#x}: got {}{}", code, got.negative ? "-" : "",
                            exact_decimal_text(to_rational(got))));
      }
    }
    INFO(name << ": " << log.summary());
    CHECK(log.count() == 0);
  }
}

TEST_CASE("the integer templates decode like the registry", "[formats]") {
  CHECK(to_rational(Int<4>::from_bits(0x8).unpacked()) == -8);
  CHECK(to_rational(UInt<4>::from_bits(0x8).unpacked()) == 8);
  CHECK(to_rational(SignMagnitudeInt<8>::from_bits(0x85).unpacked()) == -5);
  CHECK(SignMagnitudeInt<8>::from_bits(0x80).unpacked().negative);
  CHECK(to_rational(Fixed<3, 4>::from_bits(0xf8).unpacked()) == Rational(-1, 2));
  CHECK(to_rational(UFixed<0, 8>::from_bits(0x80).unpacked()) == Rational(1, 2));
  STATIC_REQUIRE(Fixed<3, 4>::spec == IntegerSpec{8, true, 4});
}

TEST_CASE("values at every integer code and between codes convert correctly in every mode and policy",
          "[formats]") {
  std::mt19937_64 rng(11);
  for (const char* name : kConversionFormats) {
    const Format format = find_format(name);
    const RefIntegerFormat f = described(name);
    CheckLog log;
    // Integers of the grid from 4 below the smallest to 4 above the largest (all of them up to 8 bits;
    // around 0 and the ends beyond), and quarter points, midpoints and fp64 neighbours of each.
    const std::int64_t lo = f.is_signed ? -(std::int64_t{1} << (f.bits - 1)) : 0;
    const std::int64_t hi =
        f.is_signed ? (std::int64_t{1} << (f.bits - 1)) - 1 : (std::int64_t{1} << f.bits) - 1;
    std::vector<std::int64_t> ks;
    for (std::int64_t k = lo - 4; k <= hi + 4; ++k) {
      const bool edge = k < lo + 20 || k > hi - 20 || (k > -20 && k < 20);
      if (f.bits <= 8 || edge) ks.push_back(k);
      if (!edge && f.bits > 8)
        k += std::max<std::int64_t>(1, (hi - lo) / 64) + static_cast<std::int64_t>(rng() % 7);
    }
    for (const std::int64_t k : ks) {
      const double unit = std::ldexp(1.0, -f.frac_bits);
      for (const double offset : {0.0, 0.25, 0.5, 0.75}) {
        const double x = (static_cast<double>(k) + offset) * unit;
        check_double(format, f, x, rng, log);
        check_double(format, f, std::nextafter(x, INFINITY), rng, log);
        check_double(format, f, std::nextafter(x, -INFINITY), rng, log);
      }
    }
    INFO(name << ": " << log.summary());
    CHECK(log.count() == 0);
  }
}

TEST_CASE("weighted random fp64 fp32 and decimal inputs convert to integers and fixed point correctly",
          "[formats]") {
  std::uint64_t seed = 21;
  for (const char* name : kConversionFormats) {
    const Format format = find_format(name);
    const RefIntegerFormat f = described(name);
    // Aim the generator's ties at the integer grid: below its `emin` it keeps e + frac_bits bits.
    InputGenerator gen({f.bits, f.bits - f.frac_bits, f.bits - f.frac_bits + 1}, seed++);
    std::mt19937_64 rng(seed);
    CheckLog log;
    for (int i = 0; i < 1000; ++i) check_double(format, f, gen.next_double(), rng, log);
    for (int i = 0; i < 400; ++i) {
      const float x = gen.next_float();
      check_value(
          format, f, unpack_float32(x), rational_of(x), std::signbit(x), rng,
          [&] { return fmt::format("fp32 {:a}", x); }, log);
    }
    for (int i = 0; i < 150; ++i) {
      const DecimalInput d = gen.next_decimal();
      check_value(
          format, f, parse_number(d.text), d.value, d.text.starts_with('-'), rng,
          [&] { return "text " + d.text; }, log);
    }
    INFO(name << ": " << log.summary());
    CHECK(log.count() == 0);
  }
}

TEST_CASE("far out of range values zeros NaN and inf convert to integers by the documented rules",
          "[formats]") {
  std::mt19937_64 rng(31);
  for (const char* name : kConversionFormats) {
    const Format format = find_format(name);
    const RefIntegerFormat f = described(name);
    CheckLog log;
    for (const double x :
         {0.0, -0.0, 0x1p63, -0x1p63, 0x1p63 - 1024, -0x1p63 + 1024, 0x1p31 + 5, -0x1p31 - 5, 0x1p40 + 5,
          -(0x1p40 + 5), 1e30, -1e30, 0x1p-1074, -0x1p-1074, 0x1.fffffffffffffp62})
      check_double(format, f, x, rng, log);
    struct NonFinite {
      std::string what;
      Unpacked value;
    };
    const NonFinite inputs[] = {{"fp64 nan", unpack_float64(std::nan(""))},
                                {"fp64 -nan", unpack_float64(-std::nan(""))},
                                {"fp64 snan", unpack_float64(std::bit_cast<double>(0x7ff0000000000001ull))},
                                {"fp32 nan", unpack_float32(std::nanf(""))},
                                {"text nan", parse_number("nan")},
                                {"fp64 inf", unpack_float64(INFINITY)},
                                {"fp64 -inf", unpack_float64(-INFINITY)},
                                {"text -inf", parse_number("-inf")}};
    for (const NonFinite& input : inputs) {
      check_every_mode(
          format, input.value, mode_cases(1, 2),
          [&](Rounding, Policy policy, std::uint32_t) {
            return ref_integer_non_finite(f, input.value.kind == Unpacked::Kind::nan, input.value.negative,
                                          policy);
          },
          [&] { return input.what; }, log);
    }
    INFO(name << ": " << log.summary());
    CHECK(log.count() == 0);
  }
}

TEST_CASE("integer conversions give the documented results in hand-worked cases", "[formats]") {
  struct Case {
    const char* format;
    const char* value;
    Rounding mode;
    Policy policy;
    std::uint64_t code;
    std::uint8_t flags;
  };
  constexpr std::uint8_t kInexact = Flags::kInexact, kInvalid = Flags::kInvalid;
  const Case cases[] = {
      {"int4", "7.5", Rounding::nearest_even, Policy::ieee, 0x8, kInexact | kInvalid},      // 8 wraps to -8
      {"int4", "7.5", Rounding::nearest_even, Policy::saturate, 0x7, kInexact | kInvalid},  // clamps
      {"int4", "7.5", Rounding::toward_zero, Policy::ieee, 0x7, kInexact},
      {"int4", "-8.5", Rounding::nearest_even, Policy::ieee, 0x8, kInexact},  // tie to even -8
      {"int4", "9", Rounding::nearest_even, Policy::ieee, 0x9, kInvalid},     // 9 wraps to -7
      {"uint4", "-1", Rounding::nearest_even, Policy::ieee, 0xf, kInvalid},
      {"uint4", "-1", Rounding::nearest_even, Policy::saturate, 0x0, kInvalid},
      {"uint4", "-0.4", Rounding::nearest_even, Policy::ieee, 0x0, kInexact},   // rounds to 0: in range
      {"smint4", "-9", Rounding::nearest_even, Policy::ieee, 0xf, kInvalid},    // sign-magnitude clamps: -7
      {"smint4", "-0.2", Rounding::nearest_even, Policy::ieee, 0x8, kInexact},  // -0
      {"smint4", "-0", Rounding::nearest_even, Policy::ieee, 0x8, 0},
      {"int4", "-0", Rounding::nearest_even, Policy::ieee, 0x0, 0},
      {"q3.4", "1.03125", Rounding::nearest_even, Policy::ieee, 0x10, kInexact},  // tie 16.5/16 -> 16/16
      {"q3.4", "-8", Rounding::nearest_even, Policy::ieee, 0x80, 0},
      {"q3.4", "8", Rounding::nearest_even, Policy::ieee, 0x80, kInvalid},  // 128/16 wraps to -8
      {"q3.4", "8", Rounding::nearest_even, Policy::saturate, 0x7f, kInvalid},
      {"uq0.8", "0.998", Rounding::nearest_even, Policy::saturate, 0xff, kInexact},
      {"uq0.8", "0.998", Rounding::up, Policy::saturate, 0xff, kInexact | kInvalid},
      {"uq0.8", "0.999", Rounding::nearest_even, Policy::saturate, 0xff,
       kInexact | kInvalid},                                                   // 255.744 -> 256
      {"int32", "1e30", Rounding::nearest_even, Policy::ieee, 0x0, kInvalid},  // >= 2^63: 0
      {"int32", "1e30", Rounding::nearest_even, Policy::saturate, 0x7fffffff, kInvalid},
      {"uint32", "-1", Rounding::nearest_even, Policy::ieee, 0xffffffff, kInvalid},
      {"int8", "2.5", Rounding::nearest_away, Policy::ieee, 0x3, kInexact},
      {"int8", "2.5", Rounding::odd, Policy::ieee, 0x3, kInexact},
      {"int8", "3.5", Rounding::odd, Policy::ieee, 0x3, kInexact},
      {"int8", "-2.5", Rounding::down, Policy::ieee, 0xfd, kInexact},
      {"int8", "-2.5", Rounding::up, Policy::ieee, 0xfe, kInexact},
  };
  for (const Case& c : cases) {
    INFO(c.format << " " << c.value << " " << options_text(c.mode, c.policy, 0));
    Flags flags;
    CHECK(encode_number(find_format(c.format), c.value, {c.mode, c.policy, 0}, &flags) == c.code);
    CHECK(flags_text(flags) == flags_text(Flags(c.flags)));
    const RefRounded want = ref_integer_round(described(c.format), rational_of_decimal(c.value),
                                              c.value[0] == '-', c.mode, c.policy);
    CHECK(want.code == c.code);
    CHECK(flags_text(want.flags) == flags_text(Flags(c.flags)));
  }
}

TEST_CASE("stochastic rounding to integers rounds small fractions up with their probability", "[formats]") {
  // 0.25 rounds up iff random + 2^30 >= 2^32; so does 2.25. Nothing about the size of the integer part
  // may change that.
  const Format int8 = find_format("int8");
  for (const char* text : {"0.25", "2.25", "-0.25", "0.0625"}) {
    const Rational exact = rational_of_decimal(text);
    for (const std::uint32_t random : {0u, 0xbfffffffu, 0xc0000000u, 0xf0000000u, 0xffffffffu}) {
      INFO(text << " random " << random);
      Flags flags;
      const std::uint64_t want =
          ref_integer_round(described("int8"), exact, false, Rounding::stochastic, Policy::ieee, random).code;
      CHECK(encode_number(int8, text, {Rounding::stochastic, Policy::ieee, random}, &flags) == want);
    }
  }
}

TEST_CASE("in-range toward-zero conversions to int4 uint4 int2 agree with ml_dtypes casts", "[formats]") {
  // ml_dtypes 0.6 casts float64 to its sub-byte integers by C truncation; for values whose truncation is
  // in range that is the two's-complement code of trunc(x) (checked against ml_dtypes when this test was
  // written: every x in [-10, 10) step 1/8 for int4, uint4, int2, uint2, int1, uint1).
  for (const auto& [name, bits, lo, hi] :
       {std::tuple{"int4", 4, -8, 7}, std::tuple{"uint4", 4, 0, 15}, std::tuple{"int2", 2, -2, 1},
        std::tuple{"uint2", 2, 0, 3}, std::tuple{"int1", 1, -1, 0}, std::tuple{"uint1", 1, 0, 1}}) {
    const Format format = find_format(name);
    for (double x = -10; x < 10; x += 0.125) {
      const double t = std::trunc(x);
      if (t < lo || t > hi) continue;
      INFO(name << " " << x);
      Flags flags;
      const auto want = static_cast<std::uint64_t>(static_cast<std::int64_t>(t)) & ((1ull << bits) - 1);
      CHECK(format.pack(unpack_float64(x), {Rounding::toward_zero, Policy::ieee, 0}, flags) == want);
    }
  }
}
