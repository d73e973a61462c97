// The K-quants (ggml-quants.c quantize_row_q{4,5,6}_K_ref and dequantize_row_*): super-blocks of 256 with
// 6- or 8-bit sub-block scales found by ggml's weighted searches (make_qkx2_quants for the asymmetric
// q4_K/q5_K, make_qx_quants for the symmetric q6_K). Every float operation keeps ggml's order: a
// reassociated sum picks a different scale now and then.
#include <cmath>
#include <cstring>

#include "lowbit/quant/ggml_quants.hpp"
#include "quants_internal.hpp"

namespace lowbit::quant::detail {
namespace {

constexpr int kQkK = 256;
constexpr float kGroupMaxEps = 1e-15f;

inline int max_int(int a, int b) {
  return a > b ? a : b;
}
inline int min_int(int a, int b) {
  return a < b ? a : b;
}

// make_qkx2_quants: the scale and (negated) minimum of an asymmetric group of n, trying nstep + 1 scales
// around nmax / (max - min) and keeping the one of least weighted squared (or absolute) error.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, std::uint8_t* L, float* the_min,
                       std::uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<std::uint8_t>(max_int(0, min_int(nmax, l)));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    const float w = weights[i];
    best_error += w * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = max_int(0, min_int(nmax, l));
      Laux[i] = static_cast<std::uint8_t>(l);
      const float w = weights[i];
      const auto lf = static_cast<float>(l);
      sum_l += w * lf;
      sum_l2 += w * lf * lf;
      sum_xl += w * lf * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        const float w = weights[i];
        cur_error += w * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// make_qx_quants with rmse_type 1 and no importance weights (weights x^2): the scale of a symmetric group
// of n, searching 18 scales around -nmax / max for the largest sum(w x l)^2 / sum(w l^2).
float make_qx_quants_rmse1(int n, int nmax, const float* x, std::int8_t* L) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = max_int(-nmax, min_int(nmax - 1, l));
    L[i] = static_cast<std::int8_t>(l + nmax);
    const float w = x[i] * x[i];
    const auto lf = static_cast<float>(l);
    sumlx += w * x[i] * lf;
    suml2 += w * lf * lf;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = max_int(-nmax, min_int(nmax - 1, l));
      const float w = x[i] * x[i];
      const auto lf = static_cast<float>(l);
      sumlx += w * x[i] * lf;
      suml2 += w * lf * lf;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = static_cast<std::int8_t>(nmax + max_int(-nmax, min_int(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// The 12 bytes of eight 6-bit scales and eight 6-bit minima of q4_K and q5_K.
inline void get_scale_min_k4(int j, const std::uint8_t* q, std::uint8_t* d, std::uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<std::uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<std::uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// What q4_K and q5_K share: the sub-block search, the 6-bit scales and minima, the requantization with
// the stored scales. Writes d, dmin and scales at `head` (4 + 12 bytes) and the levels to L.
void quantize_k_scales(const float* x, int nmax, float rmin, float rdelta, int nstep, std::uint8_t* head,
                       std::uint8_t* L) {
  std::uint8_t Laux[32];
  float weights[32];
  float mins[kQkK / 32];
  float scales[kQkK / 32];
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < kQkK / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta,
                                 nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::uint8_t* sc = head + 4;
  std::memset(sc, 0, 12);
  for (int j = 0; j < kQkK / 32; ++j) {
    auto ls = static_cast<std::uint8_t>(nearest_int(inv_scale * scales[j]));
    auto lm = static_cast<std::uint8_t>(nearest_int(inv_min * mins[j]));
    ls = static_cast<std::uint8_t>(min_int(63, ls));
    lm = static_cast<std::uint8_t>(min_int(63, lm));
    if (j < 4) {
      sc[j] = ls;
      sc[j + 4] = lm;
    } else {
      sc[j + 4] = static_cast<std::uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      sc[j - 4] |= static_cast<std::uint8_t>((ls >> 4) << 6);
      sc[j - 0] |= static_cast<std::uint8_t>((lm >> 4) << 6);
    }
  }
  store_u16(head, fp32_to_fp16(max_scale / 63.f));
  store_u16(head + 2, fp32_to_fp16(max_min / 63.f));
  const float d_all = fp16_to_fp32(load_u16(head));
  const float dmin_all = fp16_to_fp32(load_u16(head + 2));
  for (int j = 0; j < kQkK / 32; ++j) {
    std::uint8_t s, m;
    get_scale_min_k4(j, sc, &s, &m);
    const float d = d_all * static_cast<float>(s);
    if (d == 0.0f) continue;  // keeps the search's levels, as ggml does
    const float dm = dmin_all * static_cast<float>(m);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<std::uint8_t>(max_int(0, min_int(nmax, l)));
    }
  }
}

}  // namespace

void quantize_q4_k(const float* x, std::int64_t blocks, std::uint8_t* out) {
  std::uint8_t L[kQkK];
  for (std::int64_t i = 0; i < blocks; ++i, x += kQkK, out += 144) {
    quantize_k_scales(x, 15, -1.f, 0.1f, 20, out, L);
    std::uint8_t* q = out + 16;
    for (int j = 0; j < kQkK; j += 64) {
      for (int l = 0; l < 32; ++l) q[l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 4));
      q += 32;
    }
  }
}

void quantize_q5_k(const float* x, std::int64_t blocks, std::uint8_t* out) {
  std::uint8_t L[kQkK];
  for (std::int64_t i = 0; i < blocks; ++i, x += kQkK, out += 176) {
    quantize_k_scales(x, 31, -0.5f, 0.1f, 15, out, L);
    std::uint8_t* qh = out + 16;
    std::uint8_t* ql = out + 48;
    std::memset(qh, 0, kQkK / 8);
    std::uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < kQkK; n += 64) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[n + j];
        if (l1 > 15) {
          l1 -= 16;
          qh[j] |= m1;
        }
        int l2 = L[n + j + 32];
        if (l2 > 15) {
          l2 -= 16;
          qh[j] |= m2;
        }
        ql[j] = static_cast<std::uint8_t>(l1 | (l2 << 4));
      }
      m1 = static_cast<std::uint8_t>(m1 << 2);
      m2 = static_cast<std::uint8_t>(m2 << 2);
      ql += 32;
    }
  }
}

void quantize_q6_k(const float* x, std::int64_t blocks, std::uint8_t* out) {
  std::int8_t L[kQkK];
  float scales[kQkK / 16];
  for (std::int64_t i = 0; i < blocks; ++i, x += kQkK, out += 210) {
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int ib = 0; ib < kQkK / 16; ++ib) {
      const float scale = make_qx_quants_rmse1(16, 32, x + 16 * ib, L + 16 * ib);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    std::uint8_t* ql = out;
    std::uint8_t* qh = out + 128;
    auto* sc = reinterpret_cast<std::int8_t*>(out + 192);
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(out, 0, 210);
      continue;
    }
    const float iscale = -128.f / max_scale;
    store_u16(out + 208, fp32_to_fp16(1 / iscale));
    for (int ib = 0; ib < kQkK / 16; ++ib) {
      sc[ib] = static_cast<std::int8_t>(min_int(127, nearest_int(iscale * scales[ib])));
    }
    const float d_all = fp16_to_fp32(load_u16(out + 208));
    for (int j = 0; j < kQkK / 16; ++j) {
      const float d = d_all * static_cast<float>(sc[j]);
      if (d == 0.0f) continue;
      for (int ii = 0; ii < 16; ++ii) {
        int l = nearest_int(x[16 * j + ii] / d);
        l = max_int(-32, min_int(31, l));
        L[16 * j + ii] = static_cast<std::int8_t>(l + 32);
      }
    }
    for (int j = 0; j < kQkK; j += 128) {
      for (int l = 0; l < 32; ++l) {
        const std::uint8_t q1 = L[j + l + 0] & 0xF;
        const std::uint8_t q2 = L[j + l + 32] & 0xF;
        const std::uint8_t q3 = L[j + l + 64] & 0xF;
        const std::uint8_t q4 = L[j + l + 96] & 0xF;
        ql[l + 0] = static_cast<std::uint8_t>(q1 | (q3 << 4));
        ql[l + 32] = static_cast<std::uint8_t>(q2 | (q4 << 4));
        qh[l] = static_cast<std::uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                                          ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
      }
      ql += 64;
      qh += 32;
    }
  }
}

void dequantize_q4_k(const std::uint8_t* in, std::int64_t blocks, float* y) {
  for (std::int64_t i = 0; i < blocks; ++i, in += 144) {
    const float d = fp16_to_fp32(load_u16(in));
    const float min = fp16_to_fp32(load_u16(in + 2));
    const std::uint8_t* q = in + 16;
    int is = 0;
    for (int j = 0; j < kQkK; j += 64) {
      std::uint8_t sc, m;
      get_scale_min_k4(is + 0, in + 4, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      get_scale_min_k4(is + 1, in + 4, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}

void dequantize_q5_k(const std::uint8_t* in, std::int64_t blocks, float* y) {
  for (std::int64_t i = 0; i < blocks; ++i, in += 176) {
    const float d = fp16_to_fp32(load_u16(in));
    const float min = fp16_to_fp32(load_u16(in + 2));
    const std::uint8_t* qh = in + 16;
    const std::uint8_t* ql = in + 48;
    int is = 0;
    std::uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < kQkK; j += 64) {
      std::uint8_t sc, m;
      get_scale_min_k4(is + 0, in + 4, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      get_scale_min_k4(is + 1, in + 4, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32;
      is += 2;
      u1 = static_cast<std::uint8_t>(u1 << 2);
      u2 = static_cast<std::uint8_t>(u2 << 2);
    }
  }
}

void dequantize_q6_k(const std::uint8_t* in, std::int64_t blocks, float* y) {
  for (std::int64_t i = 0; i < blocks; ++i, in += 210) {
    const float d = fp16_to_fp32(load_u16(in + 208));
    const std::uint8_t* ql = in;
    const std::uint8_t* qh = in + 128;
    const auto* sc = reinterpret_cast<const std::int8_t*>(in + 192);
    for (int n = 0; n < kQkK; n += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

}  // namespace lowbit::quant::detail
