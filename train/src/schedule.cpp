#include "lowbit/train/schedule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "lowbit/formats/error.hpp"

namespace lowbit::train {

double Schedule::lr_at(std::int64_t step) const {
  if (step < warmup_steps) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const std::int64_t s = step - warmup_steps;
  switch (kind) {
    case ScheduleKind::constant:
      return base_lr;
    case ScheduleKind::step:
      if (step_size <= 0) return base_lr;
      return base_lr * std::pow(gamma, static_cast<double>(s / step_size));
    case ScheduleKind::cosine: {
      if (total_steps <= 0) return base_lr;
      const std::int64_t span = std::max<std::int64_t>(total_steps - warmup_steps, 1);
      const double progress = std::min(1.0, static_cast<double>(s) / static_cast<double>(span));
      return min_lr + 0.5 * (base_lr - min_lr) * (1 + std::cos(std::numbers::pi * progress));
    }
  }
  return base_lr;
}

ScheduleKind parse_schedule_kind(std::string_view name) {
  if (name == "constant") return ScheduleKind::constant;
  if (name == "step") return ScheduleKind::step;
  if (name == "cosine") return ScheduleKind::cosine;
  throw RangeError(fmt::format("unknown schedule '{}'; use constant, step or cosine", name));
}

}  // namespace lowbit::train
