// The public bulk API: pairs among the five SIMD formats go to the Highway kernels (bulk_simd.cpp), every
// other pair runs Format::unpack + Format::pack element by element.
#include "lowbit/formats/bulk.hpp"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <optional>

#include "bulk_simd.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/formats/float_engine.hpp"

namespace lowbit {
namespace {

using bulk_detail::SimdFormat;
using bulk_detail::SimdParams;

static_assert(std::endian::native == std::endian::little, "bulk arrays hold little-endian codes");

std::optional<SimdFormat> simd_format(const Format& format) {
  if (!format.is_float()) return std::nullopt;
  const FloatSpec& s = format.float_spec();
  if (s == spec::float32) return SimdFormat::float32;
  if (s == spec::bfloat16) return SimdFormat::bfloat16;
  if (s == spec::float16) return SimdFormat::float16;
  if (s == spec::float8_e4m3fn) return SimdFormat::float8_e4m3fn;
  if (s == spec::float8_e5m2) return SimdFormat::float8_e5m2;
  return std::nullopt;
}

// The policy's choices for the target, asked of the scalar engine: the magnitude codes of a finite
// overflow (by sign), of an infinity and of a NaN.
SimdParams simd_params(const FloatSpec& to, const BulkOptions& options) {
  const RoundOptions round{options.rounding, options.policy, 0};
  auto magnitude = [&](const Unpacked& value) {
    Flags ignored;
    return static_cast<std::uint32_t>(pack_float(to, value, round, ignored) & to.magnitude_mask());
  };
  const bulk_detail::StochasticKey key = bulk_detail::stochastic_key(options.seed);
  SimdParams p;
  p.rounding = options.rounding;
  p.policy = options.policy;
  p.overflow_positive = magnitude(Unpacked::from_integer(false, 1, to.emax() + 1));
  p.overflow_negative = magnitude(Unpacked::from_integer(true, 1, to.emax() + 1));
  p.inf = magnitude(Unpacked::inf(false));
  p.nan = magnitude(Unpacked::nan(false));
  p.key_lo = key.lo;
  p.key_hi = key.hi;
  p.first_index = options.first_index;
  return p;
}

std::uint64_t load_code(const std::uint8_t* p, std::size_t bytes) {
  std::uint64_t code = 0;
  std::memcpy(&code, p, bytes);
  return code;
}

void store_code(std::uint8_t* p, std::size_t bytes, std::uint64_t code) {
  std::memcpy(p, &code, bytes);
}

void convert_generic(const Format& from, const std::uint8_t* src, const Format& to, std::uint8_t* dst,
                     std::size_t count, const BulkOptions& options) {
  const std::size_t from_bytes = element_bytes(from), to_bytes = element_bytes(to);
  const std::uint64_t from_mask = from.code_mask();
  const bulk_detail::StochasticKey key = bulk_detail::stochastic_key(options.seed);
  RoundOptions round{options.rounding, options.policy, 0};
  Flags ignored;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t code = load_code(src + i * from_bytes, from_bytes);
    const std::uint64_t index = options.first_index + i;
    if ((code & ~from_mask) != 0) {
      throw RangeError(fmt::format("element {}: bit pattern {:#x} is wider than {} ({} bits)", index, code,
                                   from.name(), from.bits()));
    }
    if (options.rounding == Rounding::stochastic) round.random = bulk_detail::stochastic_hash(key, index);
    store_code(dst + i * to_bytes, to_bytes, to.pack(from.unpack(code), round, ignored));
  }
}

}  // namespace

std::uint32_t stochastic_bits(std::uint64_t seed, std::uint64_t index) {
  return bulk_detail::stochastic_hash(bulk_detail::stochastic_key(seed), index);
}

std::size_t element_bytes(const Format& format) {
  const int bits = format.bits();
  if (bits <= 8) return 1;
  if (bits <= 16) return 2;
  if (bits <= 32) return 4;
  return 8;
}

void convert_bulk(const Format& from, const void* src, const Format& to, void* dst, std::size_t count,
                  const BulkOptions& options) {
  if (count == 0) return;
  const auto simd_from = simd_format(from), simd_to = simd_format(to);
  if (simd_from && simd_to) {
    bulk_detail::convert_simd(*simd_from, src, *simd_to, dst, count, simd_params(to.float_spec(), options));
    return;
  }
  convert_generic(from, static_cast<const std::uint8_t*>(src), to, static_cast<std::uint8_t*>(dst), count,
                  options);
}

const char* bulk_target_name() {
  return bulk_detail::simd_target_name();
}

}  // namespace lowbit
