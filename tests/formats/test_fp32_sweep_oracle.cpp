// The sweeps' table oracle (oracle_table.hpp: doubles, a merge walk, midpoints) is itself checked here
// against the Boost.Multiprecision rounder of reference.cpp, on every input where rounding can go wrong:
// each value of the format, each midpoint between neighbours (and above the largest value), and the
// fp32 numbers on either side of both. This backs the comment in oracle_table.hpp that double arithmetic
// is exact for these formats.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "oracle_table.hpp"
#include "reference.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

Rational fp32_rational(float x) {
  int exponent = 0;
  const double fraction = std::frexp(static_cast<double>(x), &exponent);  // x = fraction * 2^exponent
  const auto integer = static_cast<long long>(std::ldexp(fraction, 24));  // exact: fp32 has 24 bits
  return Rational(BigInt(integer)) * pow2(exponent - 24);
}

// fp32 inputs around `value`: the nearest fp32 numbers below, at (when representable) and above it.
void add_inputs_around(double value, std::vector<float>& inputs) {
  const auto near = static_cast<float>(value);
  if (!std::isfinite(near)) return;
  inputs.push_back(near);
  inputs.push_back(std::nextafter(near, 0.0f));
  inputs.push_back(std::nextafter(near, std::numeric_limits<float>::infinity()));
}

}  // namespace

TEST_CASE("the sweep's table oracle rounds like the exact Boost reference at every value and midpoint",
          "[formats]") {
  for (const char* name : {"float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float6_e2m3fn",
                           "float6_e3m2fn", "float4_e2m1fn"}) {
    const RefFormat& format = ref_format(name);
    const TableOracle& oracle = table_oracle(name);
    const RefRounder exact(format);
    std::vector<float> inputs;
    // The 16-bit formats have 31-32k positive values: every 31st (every binade still meets several), and
    // the smallest and largest few, keep this quick; every value of the narrower formats.
    const std::size_t step = format.bits() > 8 ? 31 : 1;
    const std::size_t n = exact.values.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (i % step != 0 && i >= 4 && i + 4 < n) continue;
      const double v = dyadic_double(exact.values[i]);
      const double next = i + 1 < exact.values.size()
                              ? dyadic_double(exact.values[i + 1])
                              : v + (v - dyadic_double(exact.values[i - 1]));  // the step past the largest
      add_inputs_around(v, inputs);
      add_inputs_around((v + next) / 2, inputs);
    }
    std::size_t hint = 0;
    std::size_t checked = 0;
    for (float x : inputs) {
      for (float signed_x : {x, -x}) {
        const auto bits = std::bit_cast<std::uint32_t>(signed_x);
        const PolicyCodes got = oracle.round_fp32(bits, hint);
        const Rational value = fp32_rational(signed_x);
        const bool negative_zero = std::signbit(signed_x);
        INFO(name << " input " << std::hexfloat << signed_x);
        CHECK(got.ieee == exact.round(value, negative_zero, Rounding::nearest_even, Policy::ieee));
        CHECK(got.saturate == exact.round(value, negative_zero, Rounding::nearest_even, Policy::saturate));
        ++checked;
      }
    }
    CHECK(checked >= 6 * n / step);
  }
}
