// Every float format x every rounding mode x both policies, at the inputs where rounding goes wrong: each
// code's value and its fp64 neighbours, the midpoint to the next value (exact ties at every binade),
// midpoint +- one fp64 ulp and +- 2^-30 of the gap (which an fp32 intermediate would turn into a tie),
// quarter points and a random point of each gap, values between 0 and the smallest subnormal, and values
// at and beyond the largest finite value. Each is given as fp64, as fp32 where exact, and as exact decimal
// text (parse_number); code and flags must equal the table reference's (reference.cpp), which applies the
// modes' and flags' definitions to the sorted exact values of the format.
#include <catch2/catch.hpp>

#include <bit>
#include <cfloat>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "conversion_checks.hpp"
#include "lowbit/formats/decimal.hpp"
#include "lowbit/formats/float_engine.hpp"
#include "lowbit/formats/format.hpp"
#include "reference.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

struct Sampling {
  bool every_code;  // else: the bottom and top binades, the codes around 1, and a sample of the rest
  int text_every;   // decimal text for one code in this many
};

// The non-negative probe points of gap [values[j], next value).
std::vector<double> probe_points(const RefRounder& ref, std::size_t j, std::mt19937_64& rng) {
  const Rational& v = ref.values[j];
  const bool last = j + 1 == ref.values.size();
  const Rational w = last ? ref.beyond_max() : ref.values[j + 1];
  const Rational gap = w - v;
  const Rational mid = (v + w) / 2;
  const Rational wobble = gap * pow2(-30);
  const Rational random_point = v + gap * Rational(BigInt(rng() & 0xffffffffu), BigInt(1) << 32);
  std::vector<Rational> exact = {v,           mid, mid - wobble, mid + wobble, v + gap / 4, v + gap * 3 / 4,
                                 random_point};
  if (last) {
    for (const Rational& r : {w, Rational(w + gap), Rational(w * 2), Rational(w * 4)}) exact.push_back(r);
  }
  std::vector<double> points;
  for (const Rational& r : exact) {
    const double d = exact_double(r);
    if (rational_of(d) != r) throw std::logic_error("probe point not exact in fp64");  // by construction
    points.push_back(d);
  }
  const double dv = points[0], dmid = points[1];
  if (dv > 0) points.push_back(std::nextafter(dv, 0.0));
  points.push_back(std::nextafter(dv, INFINITY));  // for v = 0: the smallest fp64 subnormal
  points.push_back(std::nextafter(dmid, 0.0));
  points.push_back(std::nextafter(dmid, INFINITY));
  if (last) {
    points.push_back(1e300);
    points.push_back(DBL_MAX);
  }
  return points;
}

bool selected(const RefFormat& f, std::size_t j, std::size_t count, const Sampling& sampling,
              std::uint64_t pick) {
  if (sampling.every_code) return true;
  const std::size_t binade = std::size_t{1} << f.man_bits;
  if (j < 2 * binade || j + 2 * binade >= count) return true;  // subnormals, first normals, the top
  const std::uint64_t code = j;                                // codes increase with values
  const std::uint64_t one_code = static_cast<std::uint64_t>(f.bias) << f.man_bits;
  if (code + binade >= one_code && code <= one_code + binade) return true;
  return pick % 16 == 0;
}

void check_structured(const RefFormat& f, const Sampling& sampling, std::uint64_t seed) {
  const Format format = find_format(f.name);
  const RefRounder& ref = ref_rounder(f.name);
  std::mt19937_64 rng(seed);
  CheckLog log;
  const std::size_t count = ref.values.size();
  for (std::size_t j = 0; j < count; ++j) {
    if (!selected(f, j, count, sampling, rng())) continue;
    const bool with_text = rng() % static_cast<std::uint64_t>(sampling.text_every) == 0;
    for (const double point : probe_points(ref, j, rng)) {
      for (const double x : {point, -point}) {
        const Rational exact = rational_of(x);
        const bool negative_zero = x == 0 && std::signbit(x);
        const auto words = std::pair{static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng())};
        const auto cases = mode_cases(words.first, words.second);
        const RefRounder::Location at = ref.locate(exact, negative_zero);
        const Expected want = [&](Rounding mode, Policy policy, std::uint32_t random) {
          return ref.round_at(at, mode, policy, random);
        };
        check_every_mode(
            format, unpack_float64(x), cases, want, [&] { return fmt::format("fp64 {:a}", x); }, log);
        const float narrowed = static_cast<float>(x);
        if (std::isfinite(narrowed) && static_cast<double>(narrowed) == x) {
          check_every_mode(
              format, unpack_float32(narrowed), cases, want,
              [&] { return fmt::format("fp32 {:a}", narrowed); }, log);
        }
        if (with_text) {
          const std::string text = exact_decimal_text(exact, rng() % 2 == 0);
          const std::string signed_text = negative_zero ? "-" + text : text;
          check_every_mode(
              format, parse_number(signed_text), cases, want, [&] { return "text " + signed_text; }, log);
        }
      }
    }
  }
  INFO(log.summary());
  CHECK(log.count() == 0);
}

// float32 as the target of fp64 inputs: in every binade (subnormals included), its first, second, last
// and a random code, and the largest finite value, probed like the narrow formats' codes.
void check_float32_structured(std::uint64_t seed) {
  const Format format = find_format("float32");
  const RefIeeeRounder ref(ref_float32());
  std::mt19937_64 rng(seed);
  CheckLog log;
  auto value_of = [](std::uint32_t code) { return rational_of(std::bit_cast<float>(code)); };
  for (std::uint32_t field = 0; field < 255; ++field) {
    for (const std::uint32_t low : {0u, 1u, 0x7fffffu, static_cast<std::uint32_t>(rng()) & 0x7fffffu}) {
      const std::uint32_t code = field << 23 | low;
      const Rational v = value_of(code);
      const bool last = code == 0x7f7fffffu;
      const Rational w = last ? pow2(128) : value_of(code + 1);
      const Rational gap = w - v, mid = (v + w) / 2;
      std::vector<double> points;
      for (const Rational& r :
           {v, mid, Rational(mid - gap * pow2(-20)), Rational(mid + gap * pow2(-20)), Rational(v + gap / 4)})
        points.push_back(exact_double(r));
      const double dv = points[0], dmid = points[1];
      if (dv > 0) points.push_back(std::nextafter(dv, 0.0));
      points.push_back(std::nextafter(dv, INFINITY));
      points.push_back(std::nextafter(dmid, 0.0));
      points.push_back(std::nextafter(dmid, INFINITY));
      if (last) {
        points.push_back(exact_double(w));
        points.push_back(exact_double(w * 2));
      }
      for (const double point : points) {
        for (const double x : {point, -point}) {
          const RefIeeeRounder::Location at = ref.locate(rational_of(x), std::signbit(x));
          check_every_mode(
              format, unpack_float64(x),
              mode_cases(static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng())),
              [&](Rounding mode, Policy policy, std::uint32_t random) {
                return ref.round_at(at, mode, policy, random);
              },
              [&] { return fmt::format("fp64 {:a}", x); }, log);
        }
      }
    }
  }
  INFO(log.summary());
  CHECK(log.count() == 0);
}

}  // namespace

TEST_CASE("neighbours and midpoints of float32 codes in every binade round correctly from fp64 in every mode",
          "[formats]") {
  check_float32_structured(5);
}

TEST_CASE("neighbours and midpoints of every code of the 4- to 8-bit formats round correctly in every mode",
          "[formats]") {
  std::uint64_t seed = 1;
  for (const RefFormat& f : ref_formats()) {
    if (f.bits() > 8) continue;
    SECTION(f.name) {
      check_structured(f, {true, 1}, seed);
    }
    ++seed;
  }
}

TEST_CASE("neighbours and midpoints of 16-bit codes at the edges and a sample round correctly in every mode",
          "[formats]") {
  for (const char* name : {"float16", "bfloat16"}) {
    SECTION(name) {
      check_structured(ref_format(name), {false, 64}, 99);
    }
  }
}

TEST_CASE("neighbours and midpoints of every 16-bit code round correctly in every mode", "[formats][slow]") {
  for (const char* name : {"float16", "bfloat16"}) {
    SECTION(name) {
      check_structured(ref_format(name), {true, 16}, 7);
    }
  }
}
