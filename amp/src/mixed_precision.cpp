#include "lowbit/amp/mixed_precision.hpp"

#include <fmt/format.h>

#include "lowbit/formats/error.hpp"

namespace lowbit::amp {

AmpMode parse_amp_mode(std::string_view text) {
  if (text == "bf16" || text == "bfloat16") return AmpMode::bf16;
  if (text == "fp16" || text == "float16") return AmpMode::fp16;
  if (text == "fp8") return AmpMode::fp8;
  throw RangeError(fmt::format("--amp {}: use bf16, fp16 or fp8", text));
}

std::string_view amp_mode_name(AmpMode mode) {
  switch (mode) {
    case AmpMode::bf16:
      return "bf16";
    case AmpMode::fp16:
      return "fp16";
    case AmpMode::fp8:
      return "fp8";
  }
  return "?";
}

AutocastPolicy make_policy(const AmpOptions& options) {
  // fp8 runs the linear layers in float8 and every other allowed op in bfloat16 (Transformer Engine's
  // layout: float8 only inside the GEMMs it scales).
  AutocastPolicy policy(options.mode == AmpMode::fp16 ? DType::float16 : DType::bfloat16);
  if (!options.policy_file.empty()) policy.apply_json_file(options.policy_file);
  for (const std::string& op : options.allow) policy.set(op, OpList::allow);
  for (const std::string& op : options.deny) policy.set(op, OpList::deny);
  return policy;
}

namespace {

LossScalerOptions scaling_for(const AmpOptions& o) {
  if (o.loss_scaling) return *o.loss_scaling;
  // fp16 needs scaling (its smallest subnormal is 2^-24); bfloat16 has float32's exponent range.
  return o.mode == AmpMode::fp16 ? LossScalerOptions{} : parse_loss_scaling("none");
}

}  // namespace

MixedPrecision::MixedPrecision(AmpOptions options)
    : options_(std::move(options)), policy_(make_policy(options_)), scaler_(scaling_for(options_)) {
  if (options_.mode == AmpMode::fp8) {
    fp8_ = std::make_shared<Fp8Recipe>(options_.fp8);
    policy_.set_fp8(fp8_);
  }
  scaler_state_ = train::zeros({2});
}

train::NamedTensors MixedPrecision::attach(train::Module& model) {
  if (masters_) throw RangeError("mixed precision: already attached to a model");
  if (fp8_ && options_.fp8.scaling == Fp8Scaling::mxfp8) {
    for (const auto& [name, p] : model.named_parameters()) {
      if (p.device() != train::Device::cpu) {
        throw RangeError(
            fmt::format("--fp8-scaling mxfp8: parameter '{}' is on {}; MX scaling runs on the cpu "
                        "only (delayed and current run on cuda)",
                        name, train::device_name(p.device())));
      }
    }
  }
  const DType working = options_.mode == AmpMode::fp16 ? DType::float16 : DType::bfloat16;
  masters_ = std::make_unique<MasterWeights>(model, working, options_.stochastic_rounding, options_.seed);
  if (fp8_) {
    for (const auto& [name, w] : masters_->working()) {
      if (w.dim() == 2) fp8_->register_weight(name, w);
    }
  }
  return masters_->masters();
}

void MixedPrecision::begin_step() {
  masters_->zero_gradients();
  policy_.clear_cache();
}

bool MixedPrecision::gradients_finite() {
  masters_->link_gradients();
  if (!scaler_.checks()) return true;
  const std::vector<train::Tensor> grads = masters_->working_gradients();
  return LossScaler::all_finite(grads);
}

void MixedPrecision::end_step(bool stepped) {
  if (scaler_.checks()) scaler_.update(!stepped);
  if (stepped) masters_->refresh();
  if (fp8_) fp8_->end_step();
  policy_.clear_cache();
}

train::NamedTensors MixedPrecision::state() const {
  float* s = scaler_state_.data<float>();
  s[0] = static_cast<float>(scaler_.scale());
  s[1] = static_cast<float>(scaler_.clean_streak());
  train::NamedTensors out{{"loss_scale", scaler_state_}};
  if (fp8_) {
    for (auto& [name, t] : fp8_->state()) out.emplace_back("fp8." + name, t);
  }
  return out;
}

void MixedPrecision::refresh() {
  const float* s = scaler_state_.data<float>();
  if (s[0] > 0) scaler_.restore(s[0], static_cast<std::int64_t>(s[1]));
  if (fp8_) fp8_->set_has_history();
  masters_->refresh();
}

}  // namespace lowbit::amp
