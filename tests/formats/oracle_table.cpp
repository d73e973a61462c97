#include "oracle_table.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <stdexcept>

namespace lowbit::test {

double dyadic_double(const Rational& value) {
  if (value == 0) return 0.0;
  const BigInt num = abs(numerator(value));
  const BigInt den = denominator(value);
  const std::size_t den_log2 = msb(den);
  if (den != (BigInt(1) << den_log2))
    throw std::logic_error("dyadic_double: denominator is not a power of 2");
  const std::size_t trailing_zeros = lsb(num);
  const BigInt odd = num >> trailing_zeros;
  if (odd >= (BigInt(1) << 53)) throw std::logic_error("dyadic_double: more than 53 significant bits");
  const double magnitude = std::ldexp(static_cast<double>(odd.convert_to<long long>()),
                                      static_cast<int>(trailing_zeros) - static_cast<int>(den_log2));
  return value < 0 ? -magnitude : magnitude;
}

TableOracle::TableOracle(const RefFormat& format)
    : format_(format), sign_bit_(format.is_signed ? 1ull << (format.exp_bits + format.man_bits) : 0) {
  if (format.exponent_zero_is_normal || format.man_bits == 0) {
    throw std::invalid_argument("TableOracle needs a format with zero and fraction bits: " + format.name);
  }
  const std::uint64_t codes = 1ull << format.bits();
  is_nan_.resize(codes);
  for (std::uint64_t code = 0; code < codes; ++code) {
    const RefValue v = ref_decode(format, code);
    is_nan_[code] = v.kind == RefValue::Kind::nan;
    // The table: non-negative finite values, each once (+0 only, not -0).
    if (v.kind == RefValue::Kind::finite && v.value >= 0 && (code & sign_bit_) == 0) {
      values_.push_back(dyadic_double(v.value));
      codes_.push_back(code);
    }
  }
  // Sort by value rather than trust that codes increase with values; equal values would be a bug.
  std::vector<std::size_t> order(values_.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return values_[a] < values_[b]; });
  std::vector<double> sorted_values;
  std::vector<std::uint64_t> sorted_codes;
  for (std::size_t i : order) {
    if (!sorted_values.empty() && sorted_values.back() == values_[i]) {
      throw std::logic_error("two codes with one value in " + format.name);
    }
    sorted_values.push_back(values_[i]);
    sorted_codes.push_back(codes_[i]);
  }
  values_ = std::move(sorted_values);
  codes_ = std::move(sorted_codes);
  if (values_.size() < 2 || values_.front() != 0) {
    throw std::logic_error("table without zero: " + format.name);
  }
  for (std::size_t i = 0; i < values_.size(); ++i) {
    const double next = i + 1 < values_.size() ? values_[i + 1] : values_[i] + (values_[i] - values_[i - 1]);
    midpoints_.push_back((values_[i] + next) / 2);
  }
  for (bool negative : {false, true}) {
    overflow_[negative] = overflow_codes(negative);
    infinity_[negative] = infinity_codes(negative);
    nan_[negative] = nan_codes(negative);
  }
}

const TableOracle& table_oracle(const std::string& name) {
  static std::map<std::string, std::unique_ptr<TableOracle>> cache;
  auto& slot = cache[name];
  if (!slot) slot = std::make_unique<TableOracle>(ref_format(name));
  return *slot;
}

std::vector<float> TableOracle::edge_values() const {
  const double max = values_.back(), below_max = values_[values_.size() - 2];
  return {static_cast<float>(values_[1]), static_cast<float>(values_[1] / 2),
          static_cast<float>(std::ldexp(1.0, 1 - format_.bias)), static_cast<float>(max),
          static_cast<float>(max + (max - below_max) / 2)};
}

std::size_t TableOracle::index_at_or_below(double x) const {
  const auto it = std::upper_bound(values_.begin(), values_.end(), x);
  return static_cast<std::size_t>(it - values_.begin()) - 1;  // values_[0] == 0 <= x
}

std::uint64_t TableOracle::nan_code(bool negative) const {
  const std::uint64_t sign = negative ? sign_bit_ : 0;
  const std::uint64_t all_ones_magnitude = (1ull << (format_.exp_bits + format_.man_bits)) - 1;
  if (format_.nan_at_negative_zero) return sign_bit_;
  if (format_.nan_at_all_ones) return sign | all_ones_magnitude;
  // IEEE: all-ones exponent with only the quiet (leading fraction) bit set.
  return sign | (((1ull << format_.exp_bits) - 1) << format_.man_bits) | (1ull << (format_.man_bits - 1));
}

PolicyCodes TableOracle::overflow_codes(bool negative) const {
  const std::uint64_t max = signed_code(max_code(), negative);
  if (format_.has_inf)
    return {((1ull << format_.exp_bits) - 1) << format_.man_bits | (negative ? sign_bit_ : 0), max};
  if (format_.nan_at_all_ones || format_.nan_at_negative_zero) return {nan_code(negative), max};
  return {max, max};
}

PolicyCodes TableOracle::infinity_codes(bool negative) const {
  // A finite-overflow and an infinite input meet the same rule in every policy.
  return overflow_codes(negative);
}

PolicyCodes TableOracle::nan_codes(bool negative) const {
  const bool has_nan = format_.ieee_nans || format_.nan_at_all_ones || format_.nan_at_negative_zero;
  if (has_nan) return {nan_code(negative), nan_code(negative)};
  return {negative ? 0 : sign_bit_, max_code()};
}

}  // namespace lowbit::test
