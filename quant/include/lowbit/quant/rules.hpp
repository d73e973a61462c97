// Which scheme each tensor of a checkpoint gets. By default, as llama.cpp does: tensors of two or more
// dimensions with a float dtype take the chosen scheme; 1-D tensors (norms, biases), scalars and integer
// tensors are kept as they are. `REGEX=SCHEME` rules override that, the first rule whose regex matches
// anywhere in the tensor name winning. A GGUF block type needs rows (the last dimension) that are a whole
// number of its blocks; where they are not, the tensor falls back as llama.cpp's does (q4_K -> q5_0,
// q5_K -> q5_1, q6_K -> q8_0, then f16).
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/quant/ggml_type.hpp"

namespace lowbit::quant {

struct Scheme {
  bool keep = false;              // store the tensor unchanged
  GgmlType type = GgmlType::f32;  // otherwise, this GGUF type
  std::string name() const;       // "keep", "q8_0", "q4_K", ...
};

// "keep" or a GGUF type lowbit can quantize to (q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K, f16,
// bf16, f32), case-insensitive. Throws RangeError naming the scheme and listing the accepted ones.
Scheme parse_scheme(std::string_view name);
// The names parse_scheme accepts, for --help and messages.
std::string scheme_names();

struct Rule {
  std::string pattern;
  std::regex regex;
  Scheme scheme;
};

// Parses "REGEX=SCHEME" (split at the last '='). Throws RangeError naming the rule on a missing '=', a bad
// regex or an unknown scheme.
Rule parse_rule(std::string_view text);

struct Decision {
  Scheme scheme;       // what the tensor becomes
  std::string reason;  // why, for the report: "default", "rule 2: attn", "1-D", "fallback from q4_K", ...
};

// The decision for a tensor named `name` of `shape` whose source dtype is a float (`is_float`). A named
// mix (see parse_mix) contributes its own rules after the user's.
Decision decide_scheme(std::string_view name, std::span<const std::int64_t> shape, bool is_float,
                       const Scheme& base, std::span<const Rule> rules);

// Named mixes as llama.cpp defines them: "q4_K_M" and "q5_K_M" (the base K type; q6_K for the output
// projection and for attention-value and feed-forward-down weights of the first and last eighth of the
// layers and every third layer between, llama.cpp's use_more_bits). `layer_count` comes from the
// tensor names. nullopt when `name` is not a mix.
struct Mix {
  Scheme base;
  std::vector<Rule> rules;
};
std::optional<Mix> parse_mix(std::string_view name, int layer_count);

}  // namespace lowbit::quant
