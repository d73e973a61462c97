// The report's error statistics against values worked out by hand.
#include <catch2/catch.hpp>

#include <cmath>

#include "lowbit/quant/error_stats.hpp"

using lowbit::quant::ErrorStats;

TEST_CASE("SQNR is 10 log10 of signal over noise energy, and max abs error the largest difference",
          "[quant]") {
  // signal 3^2 + 4^2 = 25, noise 0.5^2 + 0^2 = 0.25: 20 dB.
  const float x[] = {3.0f, 4.0f};
  const float y[] = {2.5f, 4.0f};
  ErrorStats s;
  s.add(x, y, 2);
  CHECK(s.signal == 25.0);
  CHECK(s.noise == 0.25);
  CHECK(s.sqnr_db() == Approx(20.0).epsilon(1e-12));
  CHECK(s.max_abs == 0.5);
  CHECK(s.count == 2);
}

TEST_CASE("error statistics merged over chunks equal those of the whole", "[quant]") {
  const float x[] = {1.0f, -2.0f, 0.5f, 8.0f};
  const float y[] = {1.25f, -2.0f, 0.0f, 7.0f};
  ErrorStats whole, a, b;
  whole.add(x, y, 4);
  a.add(x, y, 1);
  b.add(x + 1, y + 1, 3);
  a.merge(b);
  CHECK(a.signal == whole.signal);
  CHECK(a.noise == whole.noise);
  CHECK(a.max_abs == 1.0);
  // signal 1 + 4 + 0.25 + 64 = 69.25; noise 0.0625 + 0.25 + 1 = 1.3125.
  CHECK(whole.sqnr_db() == Approx(10 * std::log10(69.25 / 1.3125)));
}

TEST_CASE("an exact copy has infinite SQNR", "[quant]") {
  const float x[] = {1.0f, 2.0f};
  ErrorStats s;
  s.add(x, x, 2);
  CHECK(std::isinf(s.sqnr_db()));
  CHECK(s.sqnr_db() > 0);
}
