// TestFloat-style weighted random inputs (input_patterns.hpp: random sign, exponents biased toward the
// target's subnormals, binade edges and overflow threshold, significands from runs of ones and zeros,
// ties and near-ties at the target's rounding position) into every format in every rounding mode and
// policy, given as fp64, fp32 and decimal text. Code and flags are compared with the table reference
// (RefRounder) for the narrow formats and with the arithmetic reference (RefIeeeRounder) for float32;
// float32's nearest-even results are also compared with the CPU's own conversions.
#include <catch2/catch.hpp>

#include <bit>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "conversion_checks.hpp"
#include "input_patterns.hpp"
#include "lowbit/formats/decimal.hpp"
#include "lowbit/formats/float_engine.hpp"
#include "lowbit/formats/format.hpp"
#include "reference.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

struct Counts {
  int doubles, floats, decimals;
};

void check_random_into(const RefFormat& f, const Counts& counts, std::uint64_t seed) {
  const Format format = find_format(f.name);
  const RefRounder& ref = ref_rounder(f.name);
  InputGenerator gen(target_range(f), seed);
  CheckLog log;
  for (int i = 0; i < counts.doubles; ++i) {
    const double x = gen.next_double();
    check_every_mode(
        format, unpack_float64(x), mode_cases(gen.next_word(), gen.next_word()), ref, rational_of(x),
        std::signbit(x), [&] { return fmt::format("fp64 {:a}", x); }, log);
  }
  for (int i = 0; i < counts.floats; ++i) {
    const float x = gen.next_float();
    check_every_mode(
        format, unpack_float32(x), mode_cases(gen.next_word(), gen.next_word()), ref, rational_of(x),
        std::signbit(x), [&] { return fmt::format("fp32 {:a}", x); }, log);
  }
  for (int i = 0; i < counts.decimals; ++i) {
    const DecimalInput d = gen.next_decimal();
    check_every_mode(
        format, parse_number(d.text), mode_cases(gen.next_word(), gen.next_word()), ref, d.value,
        d.text.starts_with('-'), [&] { return "text " + d.text; }, log);
  }
  INFO(log.summary());
  CHECK(log.count() == 0);
}

void check_random_into_float32(const Counts& counts, std::uint64_t seed) {
  const Format format = find_format("float32");
  const RefIeeeRounder ref(ref_float32());
  InputGenerator gen(target_range(ref_float32()), seed);
  CheckLog log, hardware;
  auto check = [&](const Unpacked& input, const Rational& exact, bool negative,
                   const std::function<std::string()>& what) {
    const RefIeeeRounder::Location at = ref.locate(exact, negative);
    check_every_mode(
        format, input, mode_cases(gen.next_word(), gen.next_word()),
        [&](Rounding mode, Policy policy, std::uint32_t random) {
          return ref.round_at(at, mode, policy, random);
        },
        what, log);
  };
  for (int i = 0; i < counts.doubles; ++i) {
    const double x = gen.next_double();
    check(unpack_float64(x), rational_of(x), std::signbit(x), [&] { return fmt::format("fp64 {:a}", x); });
    // The CPU's double -> float conversion (round to nearest even) is a second, independent oracle.
    Flags ignored;
    const std::uint64_t got = pack_float(spec::float32, unpack_float64(x), {}, ignored);
    hardware.count_check();
    if (got != std::bit_cast<std::uint32_t>(static_cast<float>(x))) {
      hardware.add(fmt::format("fp64 {:a}: got {:#x}, CPU gives {:a}", x, got, static_cast<float>(x)));
    }
  }
  for (int i = 0; i < counts.decimals; ++i) {
    const DecimalInput d = gen.next_decimal();
    check(parse_number(d.text), d.value, d.text.starts_with('-'), [&] { return "text " + d.text; });
    // libstdc++'s from_chars is correctly rounded (nearest even): a second oracle for the text path.
    float parsed = 0;
    const auto result = std::from_chars(d.text.data(), d.text.data() + d.text.size(), parsed);
    if (result.ec == std::errc{}) {
      const std::uint64_t got = encode_number(format, d.text);
      hardware.count_check();
      if (got != std::bit_cast<std::uint32_t>(parsed)) {
        hardware.add(fmt::format("text {}: got {:#x}, from_chars gives {:a}", d.text, got, parsed));
      }
    }
  }
  INFO(log.summary());
  CHECK(log.count() == 0);
  INFO(hardware.summary());
  CHECK(hardware.count() == 0);
}

}  // namespace

TEST_CASE(
    "weighted random fp64 fp32 and decimal inputs round correctly into every narrow format in every mode",
    "[formats]") {
  std::uint64_t seed = 1000;
  for (const RefFormat& f : ref_formats()) {
    SECTION(f.name) {
      check_random_into(f, {6000, 3000, 600}, seed);
    }
    ++seed;
  }
}

TEST_CASE("weighted random fp64 and decimal inputs round correctly into float32 in every mode", "[formats]") {
  check_random_into_float32({6000, 0, 1500}, 2000);
}

TEST_CASE("many weighted random inputs round correctly into every format in every mode", "[formats][slow]") {
  std::uint64_t seed = 3000;
  for (const RefFormat& f : ref_formats()) {
    SECTION(f.name) {
      check_random_into(f, {60000, 30000, 6000}, seed);
    }
    ++seed;
  }
  SECTION("float32") {
    check_random_into_float32({60000, 0, 15000}, seed);
  }
}
