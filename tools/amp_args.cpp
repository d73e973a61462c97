#include "amp_args.hpp"

#include <fmt/format.h>

#include "lowbit/formats/error.hpp"

namespace lowbit::cli {

void AmpArgs::add_to(CLI::App& cmd, bool with_training) {
  cmd.add_option("--amp", amp, "mixed precision: bf16, fp16 or fp8 (default: float32 throughout)");
  cmd.add_option("--amp-allow", allow, "ops to run in the low-precision type (comma-separated)")
      ->delimiter(',');
  cmd.add_option("--amp-deny", deny, "ops to run in float32 (comma-separated)")->delimiter(',');
  cmd.add_option("--amp-policy", policy_file,
                 "JSON file editing the autocast lists (dtype, allow, deny, promote)");
  if (!with_training) return;
  cmd.add_option("--loss-scale", loss_scale,
                 "dynamic, static:S or none (default: dynamic for fp16, else none)");
  cmd.add_flag("--stochastic-rounding", stochastic_rounding,
               "round the bf16 working weights stochastically after each update");
  cmd.add_option("--fp8-scaling", fp8_scaling, "fp8 scales: delayed, current or mxfp8")
      ->capture_default_str();
  cmd.add_option("--fp8-history", fp8_history, "fp8 delayed scaling: amax history length")
      ->capture_default_str();
  cmd.add_option("--fp8-amax", fp8_amax, "fp8 delayed scaling: max or most-recent amax of the history")
      ->capture_default_str();
  cmd.add_option("--fp8-margin", fp8_margin, "fp8: scale = max / amax / 2^margin")->capture_default_str();
}

amp::AmpOptions AmpArgs::options(std::uint64_t seed) const {
  amp::AmpOptions o;
  o.mode = amp::parse_amp_mode(amp.empty() ? "bf16" : amp);
  if (!loss_scale.empty()) o.loss_scaling = amp::parse_loss_scaling(loss_scale);
  o.stochastic_rounding = stochastic_rounding;
  if (stochastic_rounding && o.mode == amp::AmpMode::fp16) {
    throw RangeError("--stochastic-rounding: applies to bf16 (and fp8's bf16) working weights, not fp16");
  }
  o.seed = seed;
  o.policy_file = policy_file;
  o.allow = allow;
  o.deny = deny;
  o.fp8.scaling = amp::parse_fp8_scaling(fp8_scaling);
  o.fp8.history = fp8_history;
  if (fp8_amax == "max") {
    o.fp8.reduction = amp::AmaxReduction::max;
  } else if (fp8_amax == "most-recent") {
    o.fp8.reduction = amp::AmaxReduction::most_recent;
  } else {
    throw RangeError(fmt::format("--fp8-amax {}: use max or most-recent", fp8_amax));
  }
  o.fp8.margin = fp8_margin;
  o.fp8.validate();
  return o;
}

}  // namespace lowbit::cli
