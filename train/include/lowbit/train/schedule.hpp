// Learning-rate schedules: constant, step decay and cosine annealing, each with an optional linear warmup.
#pragma once

#include <cstdint>
#include <string_view>

namespace lowbit::train {

enum class ScheduleKind { constant, step, cosine };

struct Schedule {
  ScheduleKind kind = ScheduleKind::constant;
  double base_lr = 1e-3;
  std::int64_t warmup_steps = 0;  // lr rises linearly from base_lr / warmup_steps to base_lr
  // The run's length, which the decaying kinds need; 0 (unknown: an optimizer stepped by hand before
  // Trainer::fit has set them) keeps base_lr instead of decaying on a guess.
  std::int64_t step_size = 0;  // step: multiply by gamma every step_size steps (after warmup)
  double gamma = 0.1;
  std::int64_t total_steps = 0;  // cosine: from base_lr down to min_lr over the steps after warmup
  double min_lr = 0.0;

  // The learning rate of step `step` (0-based).
  double lr_at(std::int64_t step) const;
};

// "constant", "step" or "cosine"; throws RangeError otherwise.
ScheduleKind parse_schedule_kind(std::string_view name);

}  // namespace lowbit::train
