// parse_number: every accepted spelling (decimal, hexadecimal float, fraction, digit separators, inf and
// nan, exponents far beyond every format) reads the exact value, so encoding it is one correct rounding in
// every format and mode (compared with the references on the exact rational the tests compute themselves,
// and with libstdc++'s correctly rounded std::from_chars for fp32 and fp64); malformed text throws
// ParseError whose position() is the first bad character and whose message quotes the text.
#include <catch2/catch.hpp>
#include <optional>

#include <bit>
#include <charconv>

#include "conversion_checks.hpp"
#include "lowbit/formats/decimal.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/formats/format.hpp"
#include "reference.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

// Every narrow format through the table reference, float32 and float64 through the arithmetic one.
void check_in_every_format(const std::string& text, const Rational& exact, bool negative_zero = false) {
  const std::vector<ModeCase> cases = mode_cases(0x9e3779b9, 0x7f4a7c15);
  CheckLog log;
  for (const RefFormat& f : ref_formats()) {
    const RefRounder& ref = ref_rounder(f.name);
    check_every_mode(
        find_format(f.name), parse_number(text), cases, ref, exact, negative_zero,
        [&] { return "text " + text; }, log);
  }
  for (const RefFormat* f : {&ref_float32(), &ref_float64()}) {
    const RefIeeeRounder ref(*f);
    const RefIeeeRounder::Location at = ref.locate(exact, negative_zero);
    // Stochastic rounding into float64 sees only the 11 fraction bits that the 64-bit significand of
    // Unpacked keeps below float64's last place (the rest is a sticky bit), not the 32 the rule uses:
    // a documented limit of the exact form, so float64 is checked in the other modes.
    std::vector<ModeCase> f_cases = cases;
    if (f == &ref_float64())
      std::erase_if(f_cases, [](const ModeCase& c) { return c.mode == Rounding::stochastic; });
    check_every_mode(
        find_format(f->name), parse_number(text), f_cases,
        [&](Rounding mode, Policy policy, std::uint32_t random) {
          return ref.round_at(at, mode, policy, random);
        },
        [&] { return "text " + text; }, log);
  }
  INFO(text << ": " << log.summary());
  CHECK(log.count() == 0);
}

Rational fraction(long num, long den) {
  return Rational(BigInt(num), BigInt(den));
}

}  // namespace

TEST_CASE("decimal text is read exactly and rounds once in every format and mode", "[formats]") {
  for (const char* text : {"12",
                           "-0.1",
                           ".5E+3",
                           "1e-9",
                           "0.000001",
                           "123456789012345678901234567890",
                           "0.3",
                           "-2.5",
                           "448",
                           "464",
                           "65520",
                           "3.4028235677973366e38",
                           "1.0000000000000000000000000001",
                           "0.999999999999999999999999999999999999",
                           "5e-324",
                           "2.4703282292062327e-324",
                           "2.4703282292062328e-324",
                           "1.7976931348623158e308",
                           "1.7976931348623159e308",
                           "00012.50000",
                           "1E+5",
                           "+7"}) {
    std::string plain = text;
    if (plain.starts_with('+')) plain.erase(0, 1);
    check_in_every_format(text, rational_of_decimal(plain));
  }
  check_in_every_format("-0", 0, true);
  check_in_every_format("0.000e-5", 0);
}

TEST_CASE("hexadecimal floats are read exactly including digits past 64 bits", "[formats]") {
  for (const char* text :
       {"0x1.8p3", "0X10", "-0x.8p-1", "0x1p-1074", "0x1.fffffffffffff8p1023", "0xffffffffffffffffff",
        "0x1.000000000000000001p0", "0x1.0000000000000001p0", "0xF.Fp-4", "0x1P+4", "0x1.8p-127"}) {
    check_in_every_format(text, rational_of_hex(text));
  }
  CHECK(to_rational(parse_number("0x1.8p3")) == 12);
  CHECK(to_rational(parse_number("0X10")) == 16);
}

TEST_CASE("fractions of decimal integers are read exactly", "[formats]") {
  check_in_every_format("1/3", fraction(1, 3));
  check_in_every_format("-22/7", fraction(-22, 7));
  check_in_every_format("2/3", fraction(2, 3));
  check_in_every_format("1/1000", fraction(1, 1000));
  check_in_every_format("1_000/3", fraction(1000, 3));
  check_in_every_format("448/1", 448);
  check_in_every_format("0/5", 0);
  check_in_every_format("1/3145728", fraction(1, 3145728));  // 1 / (3 * 2^20)
}

TEST_CASE("a fraction's numerator with a point or exponent is rejected or read exactly", "[formats]") {
  // The grammar's fractions are of decimal integers; "1.5/3" must not silently read as 15/3.
  for (const auto& [text, value] :
       {std::pair{"1.5/3", fraction(1, 2)}, std::pair{"1e3/7", fraction(1000, 7)}}) {
    INFO(text);
    const std::uint64_t want = RefIeeeRounder(ref_float64())
                                   .round_with_flags(value, false, Rounding::nearest_even, Policy::ieee)
                                   .code;
    // Evaluated outside CHECK: Catch would report the ParseError as a failure instead of letting it through.
    std::optional<std::uint64_t> got;
    try {
      got = encode_number(find_format("float64"), text);
    } catch (const ParseError& e) {
      SUCCEED("rejected: " << e.what());
    }
    if (got) CHECK(*got == want);
  }
}

TEST_CASE("digit separators are allowed between digits only", "[formats]") {
  CHECK(to_rational(parse_number("1_000")) == 1000);
  CHECK(to_rational(parse_number("1'000'000")) == 1000000);
  check_in_every_format("1_000.000_1", rational_of_decimal("1000.0001"));
  CHECK(to_rational(parse_number("0xff_ff")) == 65535);
  CHECK(to_rational(parse_number("-1_0/4")) == fraction(-10, 4));
  for (const auto& [text, position] :
       {std::pair{"_1", 0}, std::pair{"1_", 1}, std::pair{"1__0", 1}, std::pair{"1_.5", 1},
        std::pair{"1._5", 2}, std::pair{"0x_1", 2}, std::pair{"1e1_0", 3}, std::pair{"0x1_p1", 3}}) {
    INFO(text);
    try {
      parse_number(text);
      FAIL("accepted");
    } catch (const ParseError& e) {
      CHECK(e.position() == static_cast<std::size_t>(position));
    }
  }
}

TEST_CASE("inf and nan are read in any case with either sign", "[formats]") {
  for (const char* text : {"inf", "Infinity", "INF", "+inf", "-inf", "-INFINITY"}) {
    INFO(text);
    const Unpacked v = parse_number(text);
    CHECK(v.kind == Unpacked::Kind::inf);
    CHECK(v.negative == (text[0] == '-'));
  }
  for (const char* text : {"nan", "NaN", "NAN", "+nan", "-nan"}) {
    INFO(text);
    const Unpacked v = parse_number(text);
    CHECK(v.kind == Unpacked::Kind::nan);
    CHECK_FALSE(v.signaling);
    CHECK(v.negative == (text[0] == '-'));
  }
}

TEST_CASE("exponents far beyond every format round like any value that far out", "[formats]") {
  // 10^999999 lies beyond the grid value after every format's largest finite (float64's included), as
  // does 2^4000; both are past the midpoint and their stochastic fraction is at least 1, so they round
  // alike in every mode. Likewise 10^-999999 and 2^-4000 lie below 2^-32 of every smallest subnormal.
  const Rational huge = pow2(4000), tiny = pow2(-4000);
  for (const char* text : {"1e999999", "1e1000000000000", "0x1p999999999", "123e400", "1e401"})
    check_in_every_format(text, huge);
  for (const char* text : {"-1e999999", "-0x1p999999"}) check_in_every_format(text, -huge);
  for (const char* text : {"1e-999999", "1e-1000000000000", "0x1p-999999999", "123e-405", "1e-402"})
    check_in_every_format(text, tiny);
  check_in_every_format("-1e-999999", -tiny);
  check_in_every_format("0e999999", 0);
  // Close to the cut-off the parser computes exactly.
  check_in_every_format("1e-400", rational_of_decimal("1e-400"));
  check_in_every_format("1e308", rational_of_decimal("1e308"));
  check_in_every_format("4e-320", rational_of_decimal("4e-320"));
}

TEST_CASE("decimal text rounds to fp32 and fp64 as std::from_chars does", "[formats]") {
  const Format f32 = find_format("float32"), f64 = find_format("float64");
  for (const char* text :
       {"0.1", "3.4028235677973366e38", "3.4028235677973367e38", "1.17549435e-38", "1.4012984643e-45",
        "7.006492321624085e-46", "7.006492321624086e-46", "16777217", "9007199254740993",
        "2.2250738585072011e-308", "2.2250738585072012e-308", "4.9406564584124654e-324",
        "2.4703282292062327e-324", "2.4703282292062328e-324", "1.7976931348623157e308", "8.589973e9",
        "1.00000005960464477539062499", "123456789e-20"}) {
    INFO(text);
    float f = 0;
    double d = 0;
    const char* end = text + std::char_traits<char>::length(text);
    if (std::from_chars(text, end, f).ec == std::errc{})
      CHECK(encode_number(f32, text) == std::bit_cast<std::uint32_t>(f));
    if (std::from_chars(text, end, d).ec == std::errc{})
      CHECK(encode_number(f64, text) == std::bit_cast<std::uint64_t>(d));
  }
}

TEST_CASE("malformed numbers throw ParseError at the first bad character quoting the text", "[formats]") {
  const std::pair<const char*, std::size_t> cases[] = {
      {"", 0},     {"1.2.3", 3}, {"1e", 2},   {"0x", 2},    {"1/0", 2},    {"abc", 0},     {"--1", 1},
      {"+", 1},    {"-", 1},     {".", 1},    {"1e+", 3},   {"1x", 1},     {"0x1.8q3", 5}, {"1/", 2},
      {"1/-3", 2}, {"1/3/4", 3}, {"infx", 0}, {"nan1", 0},  {"1 ", 1},     {" 1", 0},      {"1e5.5", 3},
      {"0x1p", 4}, {"0x.p1", 3}, {"+-1", 1},  {"1/3e2", 3}, {"0x10/2", 4}, {"0/0", 2},     {"1e-", 3},
  };
  for (const auto& [text, position] : cases) {
    INFO("'" << text << "'");
    try {
      parse_number(text);
      FAIL("accepted");
    } catch (const ParseError& e) {
      CHECK(e.position() == position);
      CHECK_THAT(e.what(), Catch::Contains("'" + std::string(text) + "'"));
    }
    CHECK_THROWS_AS(encode_number(find_format("fp16"), text), ParseError);
  }
}

TEST_CASE("rounding mode and policy names parse and unknown ones throw ParseError", "[formats]") {
  for (const Rounding mode : {Rounding::nearest_even, Rounding::toward_zero, Rounding::up, Rounding::down,
                              Rounding::nearest_away, Rounding::odd, Rounding::stochastic}) {
    CHECK(parse_rounding(to_string(mode)) == mode);
  }
  CHECK(parse_policy("ieee") == Policy::ieee);
  CHECK(parse_policy("saturate") == Policy::saturate);
  CHECK_THROWS_AS(parse_rounding("nearest"), ParseError);
  CHECK_THROWS_WITH(parse_policy("clamp"), Catch::Contains("clamp") && Catch::Contains("saturate"));
}
