// Mixed-precision training for train::Trainer: the autocast policy during forward passes, fp32 master
// weights with low-precision working copies, and a loss scaler, behind train/'s TrainingPrecision
// interface. `lowbit train --amp bf16|fp16|fp8 --loss-scale dynamic|static:S|none` builds one.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/amp/autocast_policy.hpp"
#include "lowbit/amp/fp8.hpp"
#include "lowbit/amp/loss_scaler.hpp"
#include "lowbit/amp/master_weights.hpp"
#include "lowbit/train/training_precision.hpp"

namespace lowbit::amp {

enum class AmpMode : std::uint8_t { bf16, fp16, fp8 };
// "bf16" | "fp16" | "fp8" (also "bfloat16", "float16"); RangeError naming the text otherwise.
AmpMode parse_amp_mode(std::string_view text);
std::string_view amp_mode_name(AmpMode mode);

struct AmpOptions {
  AmpMode mode = AmpMode::bf16;
  // Default (unset): dynamic for fp16, none for bf16 and fp8 (bfloat16 has float32's exponent range).
  std::optional<LossScalerOptions> loss_scaling;
  bool stochastic_rounding = false;  // of the bfloat16 working copies
  std::uint64_t seed = 1;
  std::string policy_file;  // JSON edits of the autocast lists (empty: none)
  std::vector<std::string> allow, deny;
  Fp8Options fp8;
};

// The policy an AmpOptions describes (defaults, then the file, then --amp-allow / --amp-deny).
AutocastPolicy make_policy(const AmpOptions& options);

class MixedPrecision final : public train::TrainingPrecision {
 public:
  explicit MixedPrecision(AmpOptions options);

  train::NamedTensors attach(train::Module& model) override;
  const train::PrecisionPolicy* policy() const override { return &policy_; }
  void begin_step() override;
  double loss_scale() const override { return scaler_.scale(); }
  bool gradients_finite() override;
  void end_step(bool stepped) override;
  std::int64_t skipped_steps() const override { return scaler_.skipped_steps(); }
  train::NamedTensors state() const override;
  void refresh() override;

  const AmpOptions& options() const { return options_; }
  AutocastPolicy& autocast_policy() { return policy_; }
  const LossScaler& scaler() const { return scaler_; }
  const MasterWeights& master_weights() const { return *masters_; }
  Fp8Recipe* fp8() { return fp8_.get(); }

 private:
  AmpOptions options_;
  AutocastPolicy policy_;
  LossScaler scaler_;
  std::unique_ptr<MasterWeights> masters_;
  std::shared_ptr<Fp8Recipe> fp8_;
  train::Tensor scaler_state_;  // [scale, clean streak], for checkpoints
};

}  // namespace lowbit::amp
