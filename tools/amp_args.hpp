// The mixed-precision options `lowbit train` and `lowbit amp policy` share: --amp, --loss-scale, the
// autocast list edits (--amp-allow, --amp-deny, --amp-policy FILE) and the float8 recipe.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "lowbit/amp/mixed_precision.hpp"

namespace lowbit::cli {

struct AmpArgs {
  std::string amp;         // empty: float32 training
  std::string loss_scale;  // empty: the mode's default
  std::vector<std::string> allow, deny;
  std::string policy_file;
  bool stochastic_rounding = false;
  std::string fp8_scaling = "delayed";
  std::int64_t fp8_history = 16;
  std::string fp8_amax = "max";
  int fp8_margin = 0;

  // `with_training`: also the options only training has (--loss-scale, stochastic rounding, float8).
  void add_to(CLI::App& cmd, bool with_training);
  // Resolved after parsing so errors get lowbit's messages (RangeError: exit code 2); an empty --amp
  // means bf16 here (the policy command's default).
  amp::AmpOptions options(std::uint64_t seed) const;
};

}  // namespace lowbit::cli
