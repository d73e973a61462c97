// An exact table oracle for rounding fp32 into a narrow float format with nearest-even, under both
// policies. It knows nothing of the engine: the table is the sorted list of the format's finite values,
// decoded from the format's specification with Boost rationals (reference.cpp, itself checked code by
// code by test_decode_exact.cpp), and the rounding is the definition of nearest-even applied to the two
// neighbours of the input, found by walking the table alongside inputs that increase.
//
// Why double is exact here: every table value of the formats this oracle serves (fp16, bf16, fp8, fp6,
// fp4) has at most 11 significant bits and, when nonzero, lies in [2^-133, 2^128]; the sum of two
// neighbours then has at most 12 significant bits, and halving it stays far above double's subnormals, so
// the values, the midpoints and every fp32 input are doubles exactly (53-bit significand, exponents far
// from double's limits), and every comparison below is a comparison of exact values.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "reference.hpp"

namespace lowbit::test {

// The expected code of one input under each policy.
struct PolicyCodes {
  std::uint64_t ieee;
  std::uint64_t saturate;
  friend bool operator==(const PolicyCodes&, const PolicyCodes&) = default;
};

class TableOracle {
 public:
  // Formats with a zero and at least one fraction bit (every format but e8m0fnu).
  explicit TableOracle(const RefFormat& format);

  std::uint64_t sign_bit() const { return sign_bit_; }
  std::uint64_t max_code() const { return codes_.back(); }  // largest finite magnitude
  bool is_nan_code(std::uint64_t code) const { return is_nan_[code]; }
  // Where rounding changes character: the smallest subnormal and half of it, the smallest normal, the
  // largest finite value and the midpoint above it (where overflow starts).
  std::vector<float> edge_values() const;

  // The expected codes of the fp32 input with bit pattern `bits`, rounded to nearest-even.
  // `hint` carries the table position between calls: inputs whose magnitudes increase (or repeat, as
  // +x then -x) cost O(1) each; any other input costs a binary search. Start it at 0.
  PolicyCodes round_fp32(std::uint32_t bits, std::size_t& hint) const {
    const bool negative = (bits >> 31) != 0;
    const std::uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return nan_[negative];
    if (magnitude == 0x7f800000u) return infinity_[negative];
    return with_sign(nearest_index(static_cast<double>(std::bit_cast<float>(magnitude)), hint), negative);
  }
  // The same for +x and -x at once, x given by its positive bit pattern (the sweeps' inner loop).
  void round_fp32_both_signs(std::uint32_t magnitude, std::size_t& hint, PolicyCodes& positive,
                             PolicyCodes& negative) const {
    if (magnitude >= 0x7f800000u) {
      positive = round_fp32(magnitude, hint);
      negative = round_fp32(magnitude | 0x80000000u, hint);
      return;
    }
    const std::size_t index = nearest_index(static_cast<double>(std::bit_cast<float>(magnitude)), hint);
    positive = with_sign(index, false);
    negative = with_sign(index, true);
  }

  // The table index nearest to a finite x >= 0, ties to the even code, or kOverflow.
  static constexpr std::size_t kOverflow = ~std::size_t{0};
  std::size_t nearest_index(double x, std::size_t& hint) const {
    if (hint >= values_.size() || values_[hint] > x) hint = index_at_or_below(x);
    while (hint + 1 < values_.size() && values_[hint + 1] <= x) ++hint;
    const std::size_t i = hint;  // values_[i] <= x < values_[i + 1]
    // Nearest, ties to the neighbour whose code (last fraction bit) is even.
    const bool up = x > midpoints_[i] || (x == midpoints_[i] && (codes_[i] & 1) != 0);
    if (!up) return i;
    return i + 1 < values_.size() ? i + 1 : kOverflow;
  }
  PolicyCodes with_sign(std::size_t index, bool negative) const {
    if (index == kOverflow) return overflow_[negative];
    return both(signed_code(codes_[index], negative));
  }

  // DESIGN.md section 3, written from the policy definitions:
  // - ieee (ml_dtypes): a finite value rounding past the largest finite goes to inf where the format has
  //   inf, else to NaN (sign kept) where it has NaN, else clamps to the largest finite;
  // - saturate (CUDA __NV_SATFINITE): clamps to the largest finite, sign kept.
  PolicyCodes overflow_codes(bool negative) const;
  // inf: ieee keeps inf where the format has it, else NaN where it has NaN, else the signed largest
  // finite; saturate gives the signed largest finite.
  PolicyCodes infinity_codes(bool negative) const;
  // NaN: the format's canonical quiet NaN with the input's sign (fnuz has one NaN, 0x80) under both
  // policies. Formats without NaN (fp6, fp4): ieee gives zero with the sign inverted (ml_dtypes' bit
  // pattern), saturate gives +largest finite (cuda_fp6.hpp / cuda_fp4.hpp).
  PolicyCodes nan_codes(bool negative) const;

 private:
  static PolicyCodes both(std::uint64_t code) { return {code, code}; }
  std::uint64_t signed_code(std::uint64_t magnitude_code, bool negative) const {
    // fnuz formats have no -0: a negative value rounding to zero is +0.
    if (magnitude_code == 0 && format_.nan_at_negative_zero) return 0;
    return negative ? (magnitude_code | sign_bit_) : magnitude_code;
  }
  std::size_t index_at_or_below(double x) const;
  std::uint64_t nan_code(bool negative) const;

  RefFormat format_;
  std::uint64_t sign_bit_;
  std::vector<double> values_;  // sorted finite non-negative values
  std::vector<std::uint64_t> codes_;
  // midpoints_[i]: halfway between values_[i] and the next value up. Above the largest finite value the
  // next value up is one unit further in the same binade: the value the format would have with an
  // unbounded exponent (for IEEE formats, where inf sits).
  std::vector<double> midpoints_;
  std::vector<bool> is_nan_;  // per code
  // The rules below, by sign of the input (index 1: negative), computed once.
  PolicyCodes overflow_[2], infinity_[2], nan_[2];
};

// The oracle of a format of ref_formats(), built once per program (building one decodes every code with
// rationals). Not thread-safe: call it before starting threads.
const TableOracle& table_oracle(const std::string& name);

// The exact double of a dyadic rational of at most 53 significant bits; throws otherwise.
double dyadic_double(const Rational& value);

}  // namespace lowbit::test
