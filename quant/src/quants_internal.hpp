// Shared by the block quantizers: ggml's rounding helper and the per-family entry points.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

// The hot loops are compiled for AVX-512, AVX2 and the x86-64 baseline and picked at run time (GCC's
// target_clones): wider vectors, the same IEEE operations in the same order, so the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LOWBIT_QUANT_CLONES [[gnu::target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")]]
#else
#define LOWBIT_QUANT_CLONES
#endif

namespace lowbit::quant::detail {

// ggml's nearest_int: adding 1.5 * 2^23 makes the float unit round the value to an integer (nearest,
// ties to even), read back from the mantissa. Valid for |x| <= 2^22, as in ggml.
inline int nearest_int(float x) {
  const float shifted = x + 12582912.f;
  const auto bits = std::bit_cast<std::int32_t>(shifted);
  return (bits & 0x007fffff) - 0x00400000;
}

inline void store_u16(std::uint8_t* p, std::uint16_t v) {
  std::memcpy(p, &v, 2);
}
inline std::uint16_t load_u16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Blocks of 32 (q8_0, q4_0, q4_1, q5_0, q5_1): `blocks` blocks from x.
void quantize_q8_0(const float* x, std::int64_t blocks, std::uint8_t* out);
void quantize_q4_0(const float* x, std::int64_t blocks, std::uint8_t* out);
void quantize_q4_1(const float* x, std::int64_t blocks, std::uint8_t* out);
void quantize_q5_0(const float* x, std::int64_t blocks, std::uint8_t* out);
void quantize_q5_1(const float* x, std::int64_t blocks, std::uint8_t* out);
void dequantize_q8_0(const std::uint8_t* in, std::int64_t blocks, float* y);
void dequantize_q4_0(const std::uint8_t* in, std::int64_t blocks, float* y);
void dequantize_q4_1(const std::uint8_t* in, std::int64_t blocks, float* y);
void dequantize_q5_0(const std::uint8_t* in, std::int64_t blocks, float* y);
void dequantize_q5_1(const std::uint8_t* in, std::int64_t blocks, float* y);

// Super-blocks of 256.
void quantize_q4_k(const float* x, std::int64_t blocks, std::uint8_t* out);
void quantize_q5_k(const float* x, std::int64_t blocks, std::uint8_t* out);
void quantize_q6_k(const float* x, std::int64_t blocks, std::uint8_t* out);
void dequantize_q4_k(const std::uint8_t* in, std::int64_t blocks, float* y);
void dequantize_q5_k(const std::uint8_t* in, std::int64_t blocks, float* y);
void dequantize_q6_k(const std::uint8_t* in, std::int64_t blocks, float* y);

}  // namespace lowbit::quant::detail
