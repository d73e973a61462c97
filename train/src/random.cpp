#include "lowbit/train/random.hpp"

#include <cmath>
#include <numbers>

namespace lowbit::train {

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t Rng::next_u64() {
  return splitmix64(splitmix64(state_.seed) ^ state_.counter++);
}

double Rng::next_double() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

double Rng::next_normal() {
  const double u1 = 1.0 - next_double();  // (0, 1]: log is finite
  const double u2 = next_double();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::uint64_t Rng::next_below(std::uint64_t bound) {
  if (bound == 0) return 0;
  const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % bound);
  std::uint64_t x;
  do {
    x = next_u64();
  } while (x >= limit);
  return x % bound;
}

Rng& default_rng() {
  static Rng rng(0);
  return rng;
}

void manual_seed(std::uint64_t seed) {
  default_rng().set_state({seed, 0});
}

}  // namespace lowbit::train
