// Bulk conversion of arrays between any two formats. The pairs among float32, bfloat16, float16,
// float8_e4m3fn and float8_e5m2 run on SIMD (Highway, runtime dispatch); every other pair takes the
// scalar engine element by element. Bit-identical to the scalar path for every input, mode and policy.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/format.hpp"
#include "lowbit/formats/rounding.hpp"

namespace lowbit {

struct BulkOptions {
  Rounding rounding = Rounding::nearest_even;
  Policy policy = Policy::ieee;
  // Stochastic rounding: element i uses stochastic_bits(seed, first_index + i) as its random bits, so a
  // stream converted in chunks gives the same result as one call.
  std::uint64_t seed = 0;
  std::uint64_t first_index = 0;
};

// The 32 random bits of element `index` of a stochastic stream: a counter-based hash, reproducible and the
// same on every SIMD target: key = splitmix64(seed), then two keyed rounds of a 32-bit multiply-xorshift
// mix over the index's low and high words (formats/src/bulk_simd.hpp).
std::uint32_t stochastic_bits(std::uint64_t seed, std::uint64_t index);

// Bytes one element of `format` occupies in a bulk array: 1, 2, 4 or 8 (formats narrower than 8 bits
// take one byte, in its low bits).
std::size_t element_bytes(const Format& format);

// Converts `count` elements. `src` and `dst` must not overlap; neither needs any alignment. Codes wider
// than the source format (in the unused high bits of a byte) raise RangeError naming the element's stream
// index (options.first_index + i) and the pattern; `dst` is then partly written. Single-threaded and
// thread-safe: callers may convert disjoint parts of an array on several threads (set first_index for
// stochastic rounding). Outputs of 32 MiB or more are written with non-temporal stores.
void convert_bulk(const Format& from, const void* src, const Format& to, void* dst, std::size_t count,
                  const BulkOptions& options = {});

// The largest magnitude among `count` floats, NaNs ignored and infinities counted (0 for none): the amax
// of per-tensor scaling recipes, which must come from the data that has a magnitude.
float abs_max(const float* values, std::size_t count);

// The SIMD target chosen on this machine (for benchmark reports), e.g. "AVX3".
const char* bulk_target_name();

}  // namespace lowbit
