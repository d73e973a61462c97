#include "lowbit/amp/loss_scaler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/device.hpp"

namespace lowbit::amp {

void LossScalerOptions::validate() const {
  auto bad = [](const char* field, double value, const char* rule) {
    throw RangeError(fmt::format("loss scaler {} {}: {}", field, value, rule));
  };
  if (!(init_scale > 0) || !std::isfinite(init_scale))
    bad("init_scale", init_scale, "must be finite and > 0");
  if (mode != LossScaling::dynamic) return;
  if (!(growth_factor > 1) || !std::isfinite(growth_factor))
    bad("growth_factor", growth_factor, "must be > 1");
  if (!(backoff_factor > 0 && backoff_factor < 1)) bad("backoff_factor", backoff_factor, "must be in (0, 1)");
  if (growth_interval < 1) bad("growth_interval", static_cast<double>(growth_interval), "must be at least 1");
  if (!(min_scale > 0)) bad("min_scale", min_scale, "must be > 0");
  if (!(max_scale >= min_scale) || !std::isfinite(max_scale))
    bad("max_scale", max_scale, "must be finite and >= min_scale");
  if (init_scale < min_scale || init_scale > max_scale)
    bad("init_scale", init_scale, "must lie in [min_scale, max_scale]");
}

LossScalerOptions parse_loss_scaling(std::string_view text) {
  LossScalerOptions o;
  if (text == "dynamic") return o;
  if (text == "none") {
    o.mode = LossScaling::none;
    o.init_scale = 1.0;
    return o;
  }
  if (text.starts_with("static:")) {
    const std::string number(text.substr(7));
    double s = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), s);
    if (ec == std::errc() && end == number.data() + number.size() && s > 0 && std::isfinite(s)) {
      o.mode = LossScaling::fixed;
      o.init_scale = s;
      return o;
    }
  }
  throw RangeError(
      fmt::format("--loss-scale {}: use dynamic, static:S (S > 0, e.g. static:1024) or none", text));
}

LossScaler::LossScaler(LossScalerOptions options) : options_(options), scale_(options.init_scale) {
  options_.validate();
  if (options_.mode == LossScaling::none) scale_ = 1.0;
  history_.emplace_back(0, scale_);
}

namespace {

// Exponent-all-ones test on the bits: inf and NaN in every IEEE-style type; float8_e4m3fn has no inf and its
// NaN is S.1111.111, e5m2 is IEEE-style.
template <class Bits>
bool finite_bits(const void* data, std::int64_t n, Bits exponent_mask, Bits nan_code = 0) {
  const auto* p = static_cast<const Bits*>(data);
  Bits bad = 0;
  if (nan_code != 0) {
    for (std::int64_t i = 0; i < n; ++i) bad |= static_cast<Bits>((p[i] & exponent_mask) == nan_code);
  } else {
    for (std::int64_t i = 0; i < n; ++i) bad |= static_cast<Bits>((p[i] & exponent_mask) == exponent_mask);
  }
  return bad == 0;
}

}  // namespace

bool LossScaler::all_finite(std::span<const train::Tensor> tensors) {
  for (const train::Tensor& t : tensors) {
    // GPU gradients are checked on the device: one kernel each, one host round trip for all.
    if (t.defined() && t.device() != train::Device::cpu) return train::all_finite_cuda(tensors);
  }
  for (const train::Tensor& t0 : tensors) {
    if (!t0.defined()) continue;
    const train::Tensor t = train::contiguous(t0.detach());
    const void* d = t.raw_data();
    const std::int64_t n = t.numel();
    bool ok = true;
    switch (t.dtype()) {
      case DType::float64:
        ok = finite_bits<std::uint64_t>(d, n, 0x7ff0000000000000ull);
        break;
      case DType::float32:
        ok = finite_bits<std::uint32_t>(d, n, 0x7f800000u);
        break;
      case DType::bfloat16:
        ok = finite_bits<std::uint16_t>(d, n, 0x7f80);
        break;
      case DType::float16:
        ok = finite_bits<std::uint16_t>(d, n, 0x7c00);
        break;
      case DType::float8_e5m2:
        ok = finite_bits<std::uint8_t>(d, n, 0x7c);
        break;
      case DType::float8_e4m3fn:
        ok = finite_bits<std::uint8_t>(d, n, 0x7f, 0x7f);
        break;
      default:
        break;  // integers are always finite
    }
    if (!ok) return false;
  }
  return true;
}

void LossScaler::update(bool found_inf) {
  ++steps_;
  if (options_.mode == LossScaling::none) return;
  const double before = scale_;
  if (found_inf) {
    ++skipped_;
    streak_ = 0;
    if (options_.mode == LossScaling::dynamic)
      scale_ = std::max(scale_ * options_.backoff_factor, options_.min_scale);
  } else if (options_.mode == LossScaling::dynamic && ++streak_ >= options_.growth_interval) {
    streak_ = 0;
    scale_ = std::min(scale_ * options_.growth_factor, options_.max_scale);
  }
  if (scale_ != before) history_.emplace_back(steps_, scale_);
}

void LossScaler::restore(double scale, std::int64_t streak) {
  if (!(scale > 0) || !std::isfinite(scale) || streak < 0) {
    throw RangeError(
        fmt::format("loss scaler state: scale {} and streak {} must be > 0 and >= 0", scale, streak));
  }
  scale_ = options_.mode == LossScaling::none ? 1.0 : scale;
  streak_ = streak;
  history_.emplace_back(steps_, scale_);
}

}  // namespace lowbit::amp
