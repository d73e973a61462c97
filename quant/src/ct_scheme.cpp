// compressed-tensors schemes: names, scales and zero points, codes, packing.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "lowbit/formats/block.hpp"
#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/quant/compressed_tensors.hpp"

namespace lowbit::quant {
namespace {

constexpr float kFp8Max = 448.0f;  // largest finite float8_e4m3fn

struct Range {
  int lo, hi;
};
Range code_range(const CtScheme& s) {
  return {-(1 << (s.bits - 1)), (1 << (s.bits - 1)) - 1};
}

constexpr RoundOptions kSaturate{Rounding::nearest_even, Policy::saturate, 0};

float bf16_round(float v) {
  return bfloat16::from(v).to_float();
}

float quantize_one(const CtScheme& s, float x, float scale, int zp, float* back) {
  if (s.is_fp4()) {
    const auto code = float4_e2m1fn::from(scale != 0.0f ? x / scale : 0.0f, kSaturate);
    const float v = code.to_float() * scale;
    *back = s.kind == CtScheme::Kind::nvfp4 ? bf16_round(v) : v;
    return static_cast<float>(code.bits());
  }
  if (s.kind == CtScheme::Kind::fp8) {
    const auto code = float8_e4m3fn::from(x / scale);
    *back = code.to_float() * scale;
    return static_cast<float>(code.bits());
  }
  const Range r = code_range(s);
  const float q = std::clamp(std::nearbyint(x / scale) + static_cast<float>(zp), static_cast<float>(r.lo),
                             static_cast<float>(r.hi));
  *back = (q - static_cast<float>(zp)) * scale;
  return q;
}

// Scale and zero point of one group for a clipping ratio.
void group_params(const CtScheme& s, const float* x, std::int64_t n, float ratio, float& scale, int& zp) {
  float lo = 0, hi = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  lo *= ratio;
  hi *= ratio;
  zp = 0;
  if (s.kind == CtScheme::Kind::fp8) {
    scale = std::max(-lo, hi) / kFp8Max;
  } else if (s.symmetric) {
    scale = std::max(-lo, hi) / static_cast<float>(code_range(s).hi);
  } else {
    const Range r = code_range(s);
    scale = (hi - lo) / static_cast<float>(r.hi - r.lo);
    if (scale > 0) {
      zp = static_cast<int>(std::clamp(std::nearbyint(static_cast<float>(r.lo) - lo / scale),
                                       static_cast<float>(r.lo), static_cast<float>(r.hi)));
    }
  }
  if (!(scale > 0) || !std::isfinite(scale)) scale = 1.0f;  // an all-zero group: every code 0
}

double group_error(const CtScheme& s, const float* x, std::int64_t n, float scale, int zp) {
  double e = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    float back;
    quantize_one(s, x[i], scale, zp, &back);
    e += (double(x[i]) - back) * (double(x[i]) - back);
  }
  return e;
}

}  // namespace

std::string CtScheme::strategy() const {
  if (kind == Kind::nvfp4) return "tensor_group";
  return group > 0 ? "group" : group == 0 ? "channel" : "tensor";
}

std::string CtScheme::format() const {
  switch (kind) {
    case Kind::int_packed:
      return "pack-quantized";
    case Kind::fp8:
      return "float-quantized";
    case Kind::nvfp4:
      return "nvfp4-pack-quantized";
    case Kind::mxfp4:
      return "mxfp4-pack-quantized";
  }
  return "";
}

std::int64_t CtScheme::groups_per_row(std::int64_t cols) const {
  return group > 0 ? cols / group : 1;
}

std::optional<CtScheme> parse_ct_scheme(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  CtScheme s;
  std::string_view rest;
  if (lower == "nvfp4" || lower == "mxfp4") {
    s.kind = lower == "nvfp4" ? CtScheme::Kind::nvfp4 : CtScheme::Kind::mxfp4;
    s.bits = 4;
    s.group = lower == "nvfp4" ? 16 : 32;
    s.name = lower;
    return s;
  }
  if (lower.starts_with("int8")) {
    s.bits = 8;
    s.group = 0;
    rest = std::string_view(lower).substr(4);
  } else if (lower.starts_with("int4")) {
    s.bits = 4;
    s.group = 128;
    rest = std::string_view(lower).substr(4);
  } else if (lower.starts_with("fp8")) {
    s.kind = CtScheme::Kind::fp8;
    s.bits = 8;
    s.group = 0;
    rest = std::string_view(lower).substr(3);
  } else {
    return std::nullopt;
  }
  while (!rest.empty()) {
    if (rest.front() != '-')
      throw RangeError(fmt::format("scheme '{}': expected '-' before '{}'", name, rest));
    rest.remove_prefix(1);
    const auto end = rest.find('-');
    const std::string_view part = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    if (part == "channel") {
      s.group = 0;
    } else if (part == "tensor") {
      s.group = -1;
    } else if (part == "g32" || part == "g64" || part == "g128") {
      if (s.kind == CtScheme::Kind::fp8)
        throw RangeError(fmt::format("scheme '{}': fp8 has no groups", name));
      s.group = std::stoi(std::string(part.substr(1)));
    } else if (part == "asym" && s.kind == CtScheme::Kind::int_packed) {
      s.symmetric = false;
    } else if (part == "mse") {
      s.mse = true;
    } else {
      throw RangeError(
          fmt::format("scheme '{}': unknown part '{}' (int8|int4[-channel|-tensor|-g32|-g64|-g128]"
                      "[-asym][-mse], fp8[-channel|-tensor][-mse])",
                      name, part));
    }
  }
  if (!s.symmetric && s.group < 0) {
    throw RangeError(fmt::format("scheme '{}': asymmetric needs per-channel or group scales", name));
  }
  s.name = lower;
  return s;
}

namespace {

CtParams fp4_params(const CtScheme& s, const float* x, std::int64_t rows, std::int64_t cols) {
  const std::int64_t count = rows * cols / s.group;
  CtParams p;
  p.scale.resize(count);
  p.scale_code.resize(count);
  if (s.kind == CtScheme::Kind::nvfp4) {
    const float amax = abs_max(x, rows * cols);
    p.global_scale = amax > 0 ? 448.0f * 6.0f / amax : 1.0f;
    if (!std::isfinite(p.global_scale)) p.global_scale = std::numeric_limits<float>::max();
  }
  for (std::int64_t g = 0; g < count; ++g) {
    const float amax = abs_max(x + g * s.group, s.group);
    if (s.kind == CtScheme::Kind::nvfp4) {
      const auto code = float8_e4m3fn::from(amax / 6.0f * p.global_scale, kSaturate);
      p.scale_code[g] = code.bits();
      // The package's arithmetic: the e4m3 scale (exact in bf16) divided by G in fp32.
      p.scale[g] = code.to_float() / p.global_scale;
    } else {
      p.scale_code[g] = mx_scale_code(unpack_float32(amax), 2);  // e2m1's largest normal is 2^2
      p.scale[g] = float8_e8m0fnu::from_bits(p.scale_code[g]).to_float();
    }
  }
  return p;
}

}  // namespace

CtParams ct_params(const CtScheme& s, const float* x, std::int64_t rows, std::int64_t cols) {
  if (s.is_fp4()) return fp4_params(s, x, rows, cols);
  const std::int64_t groups = s.groups_per_row(cols);
  const std::int64_t len = s.group > 0 ? s.group : s.group == 0 ? cols : rows * cols;
  const std::int64_t count = s.group < 0 ? 1 : rows * groups;
  CtParams p;
  p.scale.resize(count);
  if (!s.symmetric) p.zero_point.resize(count);
  for (std::int64_t g = 0; g < count; ++g) {
    const float* gx = x + g * len;  // groups are contiguous in row-major order
    float scale;
    int zp;
    group_params(s, gx, len, 1.0f, scale, zp);
    if (s.mse) {
      double best = group_error(s, gx, len, scale, zp);
      for (int step = 1; step <= 50; ++step) {
        const float ratio = 1.0f - 0.01f * static_cast<float>(step);
        float sc;
        int z;
        group_params(s, gx, len, ratio, sc, z);
        const double e = group_error(s, gx, len, sc, z);
        if (e < best) {
          best = e;
          scale = sc;
          zp = z;
        }
      }
    }
    p.scale[g] = scale;
    if (!s.symmetric) p.zero_point[g] = static_cast<std::int8_t>(zp);
  }
  return p;
}

void ct_quantize_rows(const CtScheme& s, const CtParams& p, const float* x, std::int64_t first_row,
                      std::int64_t rows, std::int64_t cols, std::int8_t* codes, float* back) {
  const std::int64_t groups = s.groups_per_row(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) {
      std::int64_t g = 0;
      if (s.group >= 0) g = (first_row + r) * groups + (s.group > 0 ? c / s.group : 0);
      const int zp = s.symmetric ? 0 : p.zero_point[g];
      const float q = quantize_one(s, x[r * cols + c], p.scale[g], zp, &back[r * cols + c]);
      codes[r * cols + c] = s.kind == CtScheme::Kind::fp8
                                ? static_cast<std::int8_t>(static_cast<std::uint8_t>(q))
                                : static_cast<std::int8_t>(q);
    }
  }
}

void pack_int32_row(const std::int8_t* codes, std::int64_t n, int bits, std::int32_t* words) {
  const std::int64_t count = (n * bits + 31) / 32;
  std::vector<std::uint32_t> out(count, 0);
  const int offset = 1 << (bits - 1);
  const std::uint32_t mask = (1u << bits) - 1;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto v = static_cast<std::uint32_t>(codes[i] + offset) & mask;
    const std::int64_t bit = i * bits;
    out[bit / 32] |= v << (bit % 32);
    if (bit % 32 + bits > 32) out[bit / 32 + 1] |= v >> (32 - bit % 32);
  }
  std::memcpy(words, out.data(), count * 4);
}

void unpack_int32_row(const std::int32_t* words, std::int64_t n, int bits, std::int8_t* codes) {
  const int offset = 1 << (bits - 1);
  const std::uint32_t mask = (1u << bits) - 1;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t bit = i * bits;
    std::uint64_t pair = static_cast<std::uint32_t>(words[bit / 32]);
    if (bit % 32 + bits > 32) pair |= std::uint64_t{static_cast<std::uint32_t>(words[bit / 32 + 1])} << 32;
    codes[i] = static_cast<std::int8_t>(static_cast<int>((pair >> (bit % 32)) & mask) - offset);
  }
}

}  // namespace lowbit::quant
