// TestFloat-style inputs for the conversion tests: weighted random values aimed at a target format's
// interesting range (its subnormals, its binade edges, just past its largest value), with significands
// from mixed bit patterns (runs of ones and zeros, exact ties and near-ties at the target's rounding
// position, random bits), as fp64, fp32 and decimal text. Each input carries its exact value.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "reference.hpp"

namespace lowbit::test {

// The exponent range and precision of a target format, as the generator needs them.
struct TargetRange {
  int man_bits;
  int emin;  // exponent of the smallest normal binade
  int emax;  // exponent of the largest finite value's binade
};
TargetRange target_range(const RefFormat& f);

struct DecimalInput {
  std::string text;
  Rational value;
};

class InputGenerator {
 public:
  InputGenerator(TargetRange target, std::uint64_t seed);

  double next_double();
  float next_float();
  // Short and long digit strings (1 to 40 digits) with decimal exponents around the target's range, and
  // exact decimal expansions of generated doubles nudged by one unit in the 40th digit (near-ties).
  DecimalInput next_decimal();
  std::uint32_t next_word() { return static_cast<std::uint32_t>(rng_()); }
  std::mt19937_64& rng() { return rng_; }

 private:
  // A binary float of the given width (fraction bits, exponent range), as sign, exponent and fraction.
  std::uint64_t next_bits(int frac_bits, int exp_bits);
  int next_exponent(int source_emin, int source_emax);
  std::uint64_t next_fraction(int frac_bits, int kept);
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : rng_() % n; }

  TargetRange target_;
  std::mt19937_64 rng_;
};

}  // namespace lowbit::test
