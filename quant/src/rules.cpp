// Scheme names, --rule parsing, and the per-tensor decision with llama.cpp's fallbacks.
#include "lowbit/quant/rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "lowbit/formats/error.hpp"
#include "lowbit/quant/ggml_quants.hpp"

namespace lowbit::quant {

std::string Scheme::name() const {
  return keep ? "keep" : std::string(ggml_type_name(type));
}

std::string scheme_names() {
  std::string names = "keep";
  for (const auto& t : ggml_types()) {
    if (can_quantize(t.type)) names += fmt::format(", {}", t.name);
  }
  return names;
}

Scheme parse_scheme(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "keep") return Scheme{true, GgmlType::f32};
  if (const auto type = parse_ggml_type(lower); type && can_quantize(*type)) return Scheme{false, *type};
  throw RangeError(fmt::format("unknown scheme '{}' (schemes: {})", name, scheme_names()));
}

Rule parse_rule(std::string_view text) {
  const auto eq = text.rfind('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw RangeError(fmt::format("rule '{}': expected REGEX=SCHEME", text));
  }
  Rule rule;
  rule.pattern = std::string(text.substr(0, eq));
  try {
    rule.regex = std::regex(rule.pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw RangeError(fmt::format("rule '{}': bad regular expression '{}': {}", text, rule.pattern, e.what()));
  }
  try {
    rule.scheme = parse_scheme(text.substr(eq + 1));
  } catch (const RangeError& e) {
    throw RangeError(fmt::format("rule '{}': {}", text, e.what()));
  }
  return rule;
}

namespace {

// llama.cpp's fallback when rows are not a whole number of blocks (llama-quant.cpp).
std::optional<GgmlType> fallback_of(GgmlType type) {
  switch (type) {
    case GgmlType::q4_k:
      return GgmlType::q5_0;
    case GgmlType::q5_k:
      return GgmlType::q5_1;
    case GgmlType::q6_k:
      return GgmlType::q8_0;
    case GgmlType::q4_0:
    case GgmlType::q4_1:
    case GgmlType::q5_0:
    case GgmlType::q5_1:
    case GgmlType::q8_0:
      return GgmlType::f16;
    default:
      return std::nullopt;
  }
}

}  // namespace

Decision decide_scheme(std::string_view name, std::span<const std::int64_t> shape, bool is_float,
                       const Scheme& base, std::span<const Rule> rules) {
  Decision d;
  bool chosen = false;
  const std::string n(name);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (std::regex_search(n, rules[i].regex)) {
      d.scheme = rules[i].scheme;
      d.reason = fmt::format("rule {}: {}", i + 1, rules[i].pattern);
      chosen = true;
      break;
    }
  }
  if (!chosen) {
    if (!is_float) {
      d = {Scheme{true, GgmlType::f32}, "not a float"};
    } else if (shape.size() < 2) {
      d = {Scheme{true, GgmlType::f32}, fmt::format("{}-D", shape.size())};
    } else {
      d = {base, "default"};
    }
  }
  if (d.scheme.keep) return d;
  if (!is_float) {
    throw RangeError(fmt::format("tensor \"{}\": {} applies to float tensors only", name, d.scheme.name()));
  }
  const std::int64_t row = shape.empty() ? 1 : shape.back();
  const GgmlType wanted = d.scheme.type;
  while (row % ggml_type_info(d.scheme.type).block_size != 0) {
    const auto next = fallback_of(d.scheme.type);
    if (!next) break;  // block size 1 always fits
    d.scheme.type = *next;
  }
  if (d.scheme.type != wanted) {
    d.reason += fmt::format("; rows of {} not a multiple of {}: fallback from {}", row,
                            ggml_type_info(wanted).block_size, ggml_type_name(wanted));
  }
  return d;
}

std::optional<Mix> parse_mix(std::string_view name, int layer_count) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  GgmlType base;
  if (lower == "q4_k_m") {
    base = GgmlType::q4_k;
  } else if (lower == "q5_k_m") {
    base = GgmlType::q5_k;
  } else {
    return std::nullopt;
  }
  Mix mix;
  mix.base = Scheme{false, base};
  // The output projection (llama.cpp: output.weight; Hugging Face: lm_head.weight) gets q6_K.
  mix.rules.push_back(parse_rule("(^|\\.)(lm_head|output)\\.weight$=q6_K"));
  // use_more_bits(i, n): i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2, for attention-value and
  // feed-forward-down weights.
  std::string more;
  for (int i = 0; i < layer_count; ++i) {
    const int n = layer_count;
    if (i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2) {
      if (!more.empty()) more += '|';
      more += std::to_string(i);
    }
  }
  if (!more.empty()) {
    mix.rules.push_back(
        parse_rule(fmt::format("(^|\\.)(layers|h|blk|layer)\\.({})\\..*(v_proj|attn_v|value|down_proj|ffn_"
                               "down|fc2|w2)\\.weight$=q6_K",
                               more)));
  }
  return mix;
}

}  // namespace lowbit::quant
