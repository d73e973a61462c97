// classify, next_up, next_down, ulp and the limits, for every code of every float format up to 16 bits,
// against a reference built from the sorted table of the format's values (decoded from the spec in
// reference.cpp): next_up is the next larger value in the table (IEEE nextUp: -0 and +0 are the same
// value, the next value above -min_subnormal is -0 where the format has it, inf and NaN as IEEE says),
// next_down the next smaller, ulp the gap to the next larger magnitude.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "conversion_checks.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/formats/float_queries.hpp"
#include "lowbit/formats/format.hpp"
#include "reference.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

// Every non-NaN code of a format in value order (infinities at the ends; -0 just before +0).
class ValueTable {
 public:
  explicit ValueTable(const RefFormat& f) : f_(f) {
    for (std::uint64_t code = 0; code < (1ull << f.bits()); ++code) {
      const RefValue v = ref_decode(f, code);
      decoded_.push_back(v);
      if (v.kind == RefValue::Kind::nan) continue;
      // Sorting 65536 rationals is slow; every value of these formats is exact in fp64, so sort by that.
      double key =
          v.kind == RefValue::Kind::inf ? (v.negative ? -INFINITY : INFINITY) : exact_double(v.value);
      if (v.kind == RefValue::Kind::finite && rational_of(key) != v.value)
        throw std::logic_error("inexact key");
      if (key == 0 && v.negative) key = -0.0;
      entries_.push_back({code, v, key});
    }
    std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
      if (a.key != b.key) return a.key < b.key;
      return std::signbit(a.key) && !std::signbit(b.key);  // the zeros: -0 first
    });
    position_.assign(1ull << f.bits(), kNone);
    for (std::size_t i = 0; i < entries_.size(); ++i) position_[entries_[i].code] = i;
  }

  // The code of the least value greater than that of `code` (nullopt: none, or NaN).
  std::optional<std::uint64_t> next_up(std::uint64_t code) const {
    const std::size_t i = position_[code];
    if (i == kNone) return std::nullopt;
    std::size_t j = i + 1;
    while (j < entries_.size() && !less(entries_[i].value, entries_[j].value)) ++j;  // past the other zero
    if (j == entries_.size()) return std::nullopt;
    // Onto zero from below: -0 where the format has it (it sorts first).
    return entries_[j].code;
  }
  std::optional<std::uint64_t> next_down(std::uint64_t code) const {
    const std::size_t i = position_[code];
    if (i == kNone) return std::nullopt;
    std::size_t j = i;
    while (j > 0 && !less(entries_[j - 1].value, entries_[i].value)) --j;  // before the other zero
    if (j == 0) return std::nullopt;
    // Onto zero from above: +0 (the last of the zeros).
    std::size_t k = j - 1;
    return entries_[k].code;
  }

  std::optional<Rational> ulp(std::uint64_t code) const {
    const RefValue& v = decoded_[code];
    if (v.kind != RefValue::Kind::finite) return std::nullopt;
    const Rational a = v.value < 0 ? Rational(-v.value) : v.value;
    // The gap to the next larger value in the table, from |x|'s own entry.
    const auto it =
        std::upper_bound(entries_.begin(), entries_.end(), a, [](const Rational& x, const Entry& e) {
          return e.value.kind == RefValue::Kind::inf ? !e.value.negative : x < e.value.value;
        });
    if (it != entries_.end() && it->value.kind == RefValue::Kind::finite) return it->value.value - a;
    // The largest value: the spacing of its binade (e8m0's neighbours below it are a binade apart).
    return pow2(floor_log2(a) - f_.man_bits);
  }

  Rational max_value() const { return last_finite().value.value; }
  // The code holding exactly this value (the positive zero for 0).
  std::uint64_t code_of(const Rational& value) const {
    for (const Entry& e : entries_) {
      if (e.value.kind == RefValue::Kind::finite && e.value.value == value &&
          !(value == 0 && e.value.negative))
        return e.code;
    }
    throw std::logic_error("no code for value");
  }
  std::uint64_t lowest_code() const { return first_finite().code; }
  const RefValue& value(std::uint64_t code) const { return decoded_[code]; }
  std::vector<std::pair<std::uint64_t, RefValue>> codes() const {
    std::vector<std::pair<std::uint64_t, RefValue>> out;
    for (const Entry& e : entries_) out.emplace_back(e.code, e.value);
    return out;
  }

 private:
  struct Entry {
    std::uint64_t code;
    RefValue value;
    double key;  // the value, exactly
  };
  static constexpr std::size_t kNone = ~std::size_t{0};
  static int rank(const RefValue& v) {
    if (v.kind == RefValue::Kind::inf) return v.negative ? -1 : 1;
    return 0;
  }
  static bool less(const RefValue& a, const RefValue& b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    return rank(a) == 0 && a.value < b.value;
  }
  const Entry& first_finite() const {
    for (const Entry& e : entries_)
      if (e.value.kind == RefValue::Kind::finite) return e;
    throw std::logic_error("no finite value");
  }
  const Entry& last_finite() const {
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
      if (it->value.kind == RefValue::Kind::finite) return *it;
    throw std::logic_error("no finite value");
  }

  const RefFormat& f_;
  std::vector<RefValue> decoded_;  // by code
  std::vector<Entry> entries_;
  std::vector<std::size_t> position_;  // code -> index in entries_ (kNone for NaN codes)
};

// One table per format, built on first use (sorting 65536 rationals takes a moment).
const ValueTable& value_table(const RefFormat& f) {
  static std::map<std::string, std::unique_ptr<ValueTable>> cache;
  auto& slot = cache[f.name];
  if (!slot) slot = std::make_unique<ValueTable>(f);
  return *slot;
}

FloatClass expected_class(const RefFormat& f, const RefValue& v) {
  if (v.kind == RefValue::Kind::nan) return FloatClass::nan;
  if (v.kind == RefValue::Kind::inf) return FloatClass::inf;
  if (v.value == 0) return FloatClass::zero;
  const Rational a = v.value < 0 ? Rational(-v.value) : v.value;
  const long emin = f.exponent_zero_is_normal ? -f.bias : 1 - f.bias;
  return a < pow2(emin) ? FloatClass::subnormal : FloatClass::normal;
}

std::string text(std::optional<std::uint64_t> code) {
  return code ? fmt::format("{:#x}", *code) : "none";
}

}  // namespace

TEST_CASE("classify next_up next_down and ulp of every code agree with the sorted value table", "[formats]") {
  for (const RefFormat& f : ref_formats()) {
    const FloatSpec spec = find_format(f.name).float_spec();
    const ValueTable& table = value_table(f);
    CheckLog log;
    for (std::uint64_t code = 0; code < (1ull << f.bits()); ++code) {
      const RefValue& v = table.value(code);
      log.count_check();
      if (classify(spec, code) != expected_class(f, v)) log.add(fmt::format("classify {:#x}", code));
      const auto up = next_up(spec, code), want_up = table.next_up(code);
      if (up != want_up) log.add(fmt::format("next_up {:#x}: got {} want {}", code, text(up), text(want_up)));
      const auto down = next_down(spec, code), want_down = table.next_down(code);
      if (down != want_down)
        log.add(fmt::format("next_down {:#x}: got {} want {}", code, text(down), text(want_down)));
      const auto u = ulp(spec, code);
      const auto want_ulp = table.ulp(code);
      if (u.has_value() != want_ulp.has_value() || (u && to_rational(*u) != *want_ulp))
        log.add(fmt::format("ulp {:#x}", code));
    }
    INFO(f.name << ": " << log.summary());
    CHECK(log.count() == 0);
  }
}

TEST_CASE("limits are the table's extreme values", "[formats]") {
  for (const RefFormat& f : ref_formats()) {
    const FloatSpec spec = find_format(f.name).float_spec();
    const ValueTable& table = value_table(f);
    INFO(f.name);
    const Rational max = table.max_value();
    CHECK(max_finite_code(spec) == table.code_of(max));
    CHECK(lowest_code(spec) == table.lowest_code());
    // Smallest positive value, smallest positive normal, and 2^-man_bits (the gap above 1).
    Rational smallest = max;
    for (const auto& [code, v] : table.codes())
      if (v.kind == RefValue::Kind::finite && v.value > 0 && v.value < smallest) smallest = v.value;
    CHECK(min_subnormal_code(spec) == table.code_of(smallest));
    const long emin = f.exponent_zero_is_normal ? -f.bias : 1 - f.bias;
    CHECK(min_normal_code(spec) == table.code_of(pow2(emin)));
    CHECK(epsilon_code(spec) == table.code_of(*table.ulp(table.code_of(1))));
  }
}

TEST_CASE("Float<S> queries agree with the spec-level queries for every code", "[formats]") {
  auto check_template = [](auto tag) {
    using F = decltype(tag);
    for (std::uint64_t code = 0; code < (1ull << F::spec.bits()); ++code) {
      const F x = F::from_bits(code);
      const auto up = x.next_up();
      const auto want = next_up(F::spec, code);
      INFO(code);
      CHECK(up.has_value() == want.has_value());
      if (up && want) CHECK(up->bits() == *want);
      CHECK(x.classify() == classify(F::spec, code));
    }
  };
  check_template(float8_e4m3fn{});
  check_template(float8_e4m3fnuz{});
  check_template(float8_e8m0fnu{});
  check_template(float4_e2m1fn{});
  CHECK(float16::from_bits(0x3c00).ulp() == 0x1p-10);
  CHECK(float8_e8m0fnu::from_bits(0xfe).ulp() == 0x1p127);
  CHECK(std::isnan(float16::from_bits(0x7c00).ulp()));
}

TEST_CASE("next_up and next_down handle zeros infinities and the ends as IEEE nextUp and nextDown",
          "[formats]") {
  const FloatSpec fp16 = spec::float16, fn = spec::float8_e4m3fn, fnuz = spec::float8_e4m3fnuz,
                  e8m0 = spec::float8_e8m0fnu;
  CHECK(next_up(fp16, 0x8000) == 0x0001);    // -0 -> min subnormal
  CHECK(next_up(fp16, 0x8001) == 0x8000);    // -min subnormal -> -0
  CHECK(next_down(fp16, 0x0000) == 0x8001);  // +0 -> -min subnormal
  CHECK(next_down(fp16, 0x0001) == 0x0000);  // min subnormal -> +0
  CHECK(next_up(fp16, 0x7bff) == 0x7c00);    // max -> inf
  CHECK(next_up(fp16, 0x7c00) == std::nullopt);
  CHECK(next_up(fp16, 0xfc00) == 0xfbff);  // -inf -> lowest
  CHECK(next_down(fp16, 0xfc00) == std::nullopt);
  CHECK(next_up(fp16, 0x7e00) == std::nullopt);  // NaN
  CHECK(next_up(fn, 0x7e) == std::nullopt);      // no inf above 448
  CHECK(next_down(fn, 0xfe) == std::nullopt);
  CHECK(next_up(fnuz, 0x81) == 0x00);  // no -0: -min subnormal -> +0
  CHECK(next_down(fnuz, 0x00) == 0x81);
  CHECK(next_up(fnuz, 0x80) == std::nullopt);    // 0x80 is the NaN
  CHECK(next_down(e8m0, 0x00) == std::nullopt);  // 2^-127 is the smallest value
  CHECK(next_up(e8m0, 0xfe) == std::nullopt);
  CHECK(next_up(e8m0, 0xff) == std::nullopt);
}
