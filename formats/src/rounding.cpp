#include "lowbit/formats/rounding.hpp"

#include <array>
#include <string>
#include <utility>

#include "lowbit/formats/error.hpp"

namespace lowbit {
namespace {

constexpr std::array<std::pair<std::string_view, Rounding>, 7> kRoundingNames{{
    {"nearest-even", Rounding::nearest_even},
    {"toward-zero", Rounding::toward_zero},
    {"up", Rounding::up},
    {"down", Rounding::down},
    {"nearest-away", Rounding::nearest_away},
    {"odd", Rounding::odd},
    {"stochastic", Rounding::stochastic},
}};
constexpr std::array<std::pair<std::string_view, Policy>, 2> kPolicyNames{{
    {"ieee", Policy::ieee},
    {"saturate", Policy::saturate},
}};

template <typename Table>
std::string joined_names(const Table& table) {
  std::string out;
  for (const auto& [name, value] : table) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

}  // namespace

std::string_view to_string(Rounding rounding) {
  for (const auto& [name, value] : kRoundingNames)
    if (value == rounding) return name;
  return "?";
}

std::string_view to_string(Policy policy) {
  for (const auto& [name, value] : kPolicyNames)
    if (value == policy) return name;
  return "?";
}

Rounding parse_rounding(std::string_view text) {
  for (const auto& [name, value] : kRoundingNames)
    if (name == text) return value;
  throw ParseError("unknown rounding mode '" + std::string(text) + "' (expected one of " +
                       joined_names(kRoundingNames) + ")",
                   0);
}

Policy parse_policy(std::string_view text) {
  for (const auto& [name, value] : kPolicyNames)
    if (name == text) return value;
  throw ParseError(
      "unknown policy '" + std::string(text) + "' (expected one of " + joined_names(kPolicyNames) + ")", 0);
}

}  // namespace lowbit
