// Internal interface between the public bulk API (bulk.cpp) and its Highway kernels (bulk_simd.cpp,
// bulk-inl.h), and the counter-based hash behind stochastic rounding, shared by both so the scalar and
// the SIMD random bits are one definition.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/rounding.hpp"

namespace lowbit::bulk_detail {

// The formats with SIMD kernels. Every value of the narrow ones is exact in float32, so every pair
// converts as: widen the source exactly to an fp32 bit pattern, then round that once into the target.
enum class SimdFormat : std::uint8_t { float32, bfloat16, float16, float8_e4m3fn, float8_e5m2 };

// Per-call constants of a SIMD conversion. What a finite overflow, an infinity and a NaN become depends
// on the policy, the mode and the sign; those choices are taken from the scalar engine once per call
// (bulk.cpp), so they are defined in one place. Codes are magnitudes: the kernels add the input's sign.
struct SimdParams {
  Rounding rounding = Rounding::nearest_even;
  Policy policy = Policy::ieee;
  std::uint32_t overflow_positive = 0;   // magnitude code of a finite positive value beyond the range
  std::uint32_t overflow_negative = 0;   // ... of a negative one (differs under the directed modes)
  std::uint32_t inf = 0;                 // magnitude code of +-inf
  std::uint32_t nan = 0;                 // magnitude code of a NaN
  std::uint32_t key_lo = 0, key_hi = 0;  // stochastic_key(seed)
  std::uint64_t first_index = 0;
};

// Runs the SIMD conversion on the best Highway target this CPU supports (runtime dispatch).
void convert_simd(SimdFormat from, const void* src, SimdFormat to, void* dst, std::size_t count,
                  const SimdParams& params);
const char* simd_target_name();

// --- The stochastic hash -------------------------------------------------------------------------
// Element `index` of stream `seed` gets mix32(mix32(lo ^ key_lo) ^ hi ^ key_hi), where lo/hi are the
// index's 32-bit halves and key = splitmix64(seed). mix32 is "lowbias32" (two multiply-xorshift rounds,
// a bijection with low avalanche bias). Two keyed rounds decorrelate neighbouring indices and seeds; the
// 32-bit lanes keep it cheap on every SIMD target (no 64-bit multiplies needed).
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
inline constexpr std::uint32_t kMix1 = 0x7feb352du, kMix2 = 0x846ca68bu;
constexpr std::uint32_t mix32(std::uint32_t x) {
  x ^= x >> 16;
  x *= kMix1;
  x ^= x >> 15;
  x *= kMix2;
  return x ^ (x >> 16);
}
struct StochasticKey {
  std::uint32_t lo, hi;
};
constexpr StochasticKey stochastic_key(std::uint64_t seed) {
  const std::uint64_t k = splitmix64(seed);
  return {static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(k >> 32)};
}
constexpr std::uint32_t stochastic_hash(StochasticKey key, std::uint64_t index) {
  const auto lo = static_cast<std::uint32_t>(index), hi = static_cast<std::uint32_t>(index >> 32);
  return mix32(mix32(lo ^ key.lo) ^ hi ^ key.hi);
}

}  // namespace lowbit::bulk_detail
