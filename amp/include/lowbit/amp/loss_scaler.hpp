// Loss scaling: the loss is multiplied by a scale before backward so small fp16 gradients stay above the
// underflow threshold, and the gradients are divided by it before the update. Dynamic scaling follows
// PyTorch's torch.amp.GradScaler: start at 2^16, double after 2000 consecutive steps with finite gradients,
// halve and skip the step when a gradient holds inf or NaN. Beyond GradScaler: a floor and a cap on the
// scale, a count of skipped steps and the scale's history.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "lowbit/train/tensor.hpp"

namespace lowbit::amp {

enum class LossScaling : std::uint8_t { none, fixed, dynamic };

struct LossScalerOptions {
  LossScaling mode = LossScaling::dynamic;
  double init_scale = 65536.0;  // 2^16 (GradScaler's init_scale); the scale itself for `fixed`
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  std::int64_t growth_interval = 2000;
  double min_scale = 1.0;         // the floor: backoff never goes below it
  double max_scale = 16777216.0;  // the cap (2^24): growth never goes above it

  // Throws RangeError naming the field and value (factors must grow/shrink, floor <= init <= cap, ...).
  void validate() const;
};

// "dynamic", "static:S" (S > 0, e.g. static:1024) or "none", as the CLI's --loss-scale takes it; throws
// RangeError naming the text.
LossScalerOptions parse_loss_scaling(std::string_view text);

class LossScaler {
 public:
  explicit LossScaler(LossScalerOptions options = {});

  // The factor the loss is multiplied by (1 for `none`).
  double scale() const { return scale_; }
  const LossScalerOptions& options() const { return options_; }
  // True when every element of every tensor is finite (one pass over the raw bits; any float dtype).
  static bool all_finite(std::span<const train::Tensor> tensors);
  // After a step's gradients are complete (once per effective batch, after all micro-batches): with
  // `found_inf` the step is counted as skipped and a dynamic scale backs off; otherwise a dynamic scale
  // grows after growth_interval clean steps in a row. `none` never skips (nothing is checked).
  void update(bool found_inf);
  // Whether this scaler checks gradients and skips steps (static and dynamic do; none does not).
  bool checks() const { return options_.mode != LossScaling::none; }

  std::int64_t skipped_steps() const { return skipped_; }
  std::int64_t clean_streak() const { return streak_; }
  // (step index, new scale) at every change of the scale, starting with (0, initial scale).
  const std::vector<std::pair<std::int64_t, double>>& history() const { return history_; }
  // Restores a saved scale and streak (checkpoints).
  void restore(double scale, std::int64_t streak);

 private:
  LossScalerOptions options_;
  double scale_;
  std::int64_t streak_ = 0, skipped_ = 0, steps_ = 0;
  std::vector<std::pair<std::int64_t, double>> history_;
};

}  // namespace lowbit::amp
