#include "cli_common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "lowbit/formats/bulk.hpp"

namespace lowbit::cli {

void RoundingArgs::add_to(CLI::App& app) {
  app.add_option(
      "--round", round,
      "rounding mode: nearest-even (default), toward-zero, up, down, nearest-away, odd, stochastic");
  app.add_option("--policy", policy, "overflow/NaN policy: ieee (default, ml_dtypes semantics) or saturate");
  app.add_option("--seed", seed, "seed of the random bits for --round stochastic (default 0)");
}

RoundOptions RoundingArgs::options() const {
  RoundOptions o;
  o.rounding = parse_rounding(round);
  o.policy = parse_policy(policy);
  o.random = stochastic_bits(seed, 0);
  return o;
}

void print_json(const nlohmann::json& document) {
  std::cout << document.dump(2) << '\n';
}

nlohmann::json tensor_json(const train::SafetensorsTensor& t) {
  return {{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}, {"bytes", t.data.size()}};
}

void print_rows(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  for (const auto& [label, value] : rows) fmt::print("{:<{}}  {}\n", label, width, value);
}

}  // namespace lowbit::cli
