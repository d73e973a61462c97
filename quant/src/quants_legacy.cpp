// The blocks of 32 (ggml-quants.c quantize_row_q{8_0,4_0,4_1,5_0,5_1}_ref and dequantize_row_*): one fp16
// scale (and an fp16 minimum for the _1 types) per 32 elements.
#include <bit>
#include <cfloat>
#include <cmath>

#include "lowbit/quant/ggml_quants.hpp"
#include "quants_internal.hpp"

namespace lowbit::quant::detail {
namespace {

constexpr int kQk = 32;

// ggml's roundf of x * id, |x * id| <= 127.5: truncate, then add one where the dropped fraction is at least
// a half (exact: both parts are representable), away from zero as roundf rounds.
inline std::int8_t round_away(float v) {
  const float a = std::fabs(v);
  const int t = static_cast<int>(a);
  const int r = t + ((a - static_cast<float>(t)) >= 0.5f ? 1 : 0);
  return static_cast<std::int8_t>(v < 0 ? -r : r);
}

// The element of largest magnitude, the first of equals (ggml scans with a strict `<`): the largest
// sign-cleared bit pattern (an integer max that vectorizes; inputs are finite), then its first position.
inline float signed_absmax(const float* x) {
  std::uint32_t bits[kQk];
  std::uint32_t amax = 0;
  for (int j = 0; j < kQk; ++j) {
    bits[j] = std::bit_cast<std::uint32_t>(x[j]) & 0x7fffffffu;
    amax = bits[j] > amax ? bits[j] : amax;
  }
  if (amax == 0) return 0.0f;  // ggml's max stays 0 when no |x| exceeds 0
  int first = 0;
  while (bits[first] != amax) ++first;
  return x[first];
}

inline void min_max(const float* x, float& min, float& max) {
  min = FLT_MAX;
  max = -FLT_MAX;
  for (int j = 0; j < kQk; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
}

inline int min_int(int a, int b) {
  return a < b ? a : b;
}

}  // namespace

LOWBIT_QUANT_CLONES void quantize_q8_0(const float* x, std::int64_t blocks, std::uint8_t* out) {
  for (std::int64_t i = 0; i < blocks; ++i, x += kQk, out += 34) {
    // ggml's MAX(amax, fabsf(v)); for finite inputs (checked by quantize_row) the largest magnitude is the
    // largest of the sign-cleared bit patterns, an integer max the compiler vectorizes.
    std::uint32_t amax_bits = 0;
    for (int j = 0; j < kQk; ++j) {
      const std::uint32_t bits = std::bit_cast<std::uint32_t>(x[j]) & 0x7fffffffu;
      amax_bits = bits > amax_bits ? bits : amax_bits;
    }
    const float amax = std::bit_cast<float>(amax_bits);
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(out, fp32_to_fp16(d));
    auto* qs = reinterpret_cast<std::int8_t*>(out + 2);
    for (int j = 0; j < kQk; ++j) qs[j] = round_away(x[j] * id);
  }
}

LOWBIT_QUANT_CLONES void quantize_q4_0(const float* x, std::int64_t blocks, std::uint8_t* out) {
  for (std::int64_t i = 0; i < blocks; ++i, x += kQk, out += 18) {
    const float d = signed_absmax(x) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(out, fp32_to_fp16(d));
    std::uint8_t q[kQk];
    for (int j = 0; j < kQk; ++j) {
      // (int8_t)(x * id + 8.5f): truncation of a value in [0, 17), then MIN(15, ...).
      const int v = static_cast<int>(x[j] * id + 8.5f);
      q[j] = static_cast<std::uint8_t>(v < 15 ? v : 15);
    }
    for (int j = 0; j < kQk / 2; ++j)
      out[2 + j] = static_cast<std::uint8_t>(q[j] | static_cast<std::uint8_t>(q[kQk / 2 + j] << 4));
  }
}

LOWBIT_QUANT_CLONES void quantize_q4_1(const float* x, std::int64_t blocks, std::uint8_t* out) {
  for (std::int64_t i = 0; i < blocks; ++i, x += kQk, out += 20) {
    float min, max;
    min_max(x, min, max);
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(out, fp32_to_fp16(d));
    store_u16(out + 2, fp32_to_fp16(min));
    for (int j = 0; j < kQk / 2; ++j) {
      const float x0 = (x[j] - min) * id;
      const float x1 = (x[kQk / 2 + j] - min) * id;
      const auto xi0 = static_cast<std::uint8_t>(min_int(15, static_cast<std::int8_t>(x0 + 0.5f)));
      const auto xi1 = static_cast<std::uint8_t>(min_int(15, static_cast<std::int8_t>(x1 + 0.5f)));
      out[4 + j] = static_cast<std::uint8_t>(xi0 | (xi1 << 4));
    }
  }
}

void quantize_q5_0(const float* x, std::int64_t blocks, std::uint8_t* out) {
  for (std::int64_t i = 0; i < blocks; ++i, x += kQk, out += 22) {
    const float d = signed_absmax(x) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(out, fp32_to_fp16(d));
    std::uint32_t qh = 0;
    for (int j = 0; j < kQk / 2; ++j) {
      const float x0 = x[j] * id;
      const float x1 = x[kQk / 2 + j] * id;
      const auto xi0 = static_cast<std::uint8_t>(min_int(31, static_cast<std::int8_t>(x0 + 16.5f)));
      const auto xi1 = static_cast<std::uint8_t>(min_int(31, static_cast<std::int8_t>(x1 + 16.5f)));
      out[6 + j] = static_cast<std::uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
      qh |= ((xi0 & 0x10u) >> 4) << j;
      qh |= ((xi1 & 0x10u) >> 4) << (j + kQk / 2);
    }
    std::memcpy(out + 2, &qh, 4);
  }
}

void quantize_q5_1(const float* x, std::int64_t blocks, std::uint8_t* out) {
  for (std::int64_t i = 0; i < blocks; ++i, x += kQk, out += 24) {
    float min, max;
    min_max(x, min, max);
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(out, fp32_to_fp16(d));
    store_u16(out + 2, fp32_to_fp16(min));
    std::uint32_t qh = 0;
    for (int j = 0; j < kQk / 2; ++j) {
      const float x0 = (x[j] - min) * id;
      const float x1 = (x[kQk / 2 + j] - min) * id;
      // ggml does not clamp here: (max - min) * id rounds to at most 31 + 2^-19, so x + 0.5 < 32.
      const auto xi0 = static_cast<std::uint8_t>(x0 + 0.5f);
      const auto xi1 = static_cast<std::uint8_t>(x1 + 0.5f);
      out[8 + j] = static_cast<std::uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
      qh |= ((xi0 & 0x10u) >> 4) << j;
      qh |= ((xi1 & 0x10u) >> 4) << (j + kQk / 2);
    }
    std::memcpy(out + 4, &qh, 4);
  }
}

LOWBIT_QUANT_CLONES void dequantize_q8_0(const std::uint8_t* in, std::int64_t blocks, float* y) {
  for (std::int64_t i = 0; i < blocks; ++i, in += 34, y += kQk) {
    const float d = fp16_to_fp32(load_u16(in));
    const auto* qs = reinterpret_cast<const std::int8_t*>(in + 2);
    for (int j = 0; j < kQk; ++j) y[j] = static_cast<float>(qs[j]) * d;
  }
}

LOWBIT_QUANT_CLONES void dequantize_q4_0(const std::uint8_t* in, std::int64_t blocks, float* y) {
  for (std::int64_t i = 0; i < blocks; ++i, in += 18, y += kQk) {
    const float d = fp16_to_fp32(load_u16(in));
    // Low nibbles, then high nibbles: two loops the compiler vectorizes.
    for (int j = 0; j < kQk / 2; ++j) y[j] = static_cast<float>((in[2 + j] & 0x0F) - 8) * d;
    for (int j = 0; j < kQk / 2; ++j) y[j + kQk / 2] = static_cast<float>((in[2 + j] >> 4) - 8) * d;
  }
}

LOWBIT_QUANT_CLONES void dequantize_q4_1(const std::uint8_t* in, std::int64_t blocks, float* y) {
  for (std::int64_t i = 0; i < blocks; ++i, in += 20, y += kQk) {
    const float d = fp16_to_fp32(load_u16(in));
    const float m = fp16_to_fp32(load_u16(in + 2));
    for (int j = 0; j < kQk / 2; ++j) {
      y[j] = static_cast<float>(in[4 + j] & 0x0F) * d + m;
      y[j + kQk / 2] = static_cast<float>(in[4 + j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const std::uint8_t* in, std::int64_t blocks, float* y) {
  for (std::int64_t i = 0; i < blocks; ++i, in += 22, y += kQk) {
    const float d = fp16_to_fp32(load_u16(in));
    std::uint32_t qh;
    std::memcpy(&qh, in + 2, 4);
    for (int j = 0; j < kQk / 2; ++j) {
      const int xh0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int xh1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      y[j] = static_cast<float>(((in[6 + j] & 0x0F) | xh0) - 16) * d;
      y[j + kQk / 2] = static_cast<float>(((in[6 + j] >> 4) | xh1) - 16) * d;
    }
  }
}

void dequantize_q5_1(const std::uint8_t* in, std::int64_t blocks, float* y) {
  for (std::int64_t i = 0; i < blocks; ++i, in += 24, y += kQk) {
    const float d = fp16_to_fp32(load_u16(in));
    const float m = fp16_to_fp32(load_u16(in + 2));
    std::uint32_t qh;
    std::memcpy(&qh, in + 4, 4);
    for (int j = 0; j < kQk / 2; ++j) {
      const int xh0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int xh1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      y[j] = static_cast<float>((in[8 + j] & 0x0F) | xh0) * d + m;
      y[j + kQk / 2] = static_cast<float>((in[8 + j] >> 4) | xh1) * d + m;
    }
  }
}

}  // namespace lowbit::quant::detail
