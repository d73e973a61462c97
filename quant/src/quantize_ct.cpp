// quantize_to_compressed_tensors: the plan (rules, fallbacks), then safetensors entries streamed in the
// writer's order. Scales are computed on first need and kept (they are small); codes are computed when
// their entry is written, measured against the source, packed and written.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "lowbit/formats/error.hpp"
#include "lowbit/quant/checkpoint.hpp"
#include "lowbit/quant/compressed_tensors.hpp"
#include "lowbit/train/atomic_file.hpp"
#include "source_tensor.hpp"
#include "tensor_names.hpp"

namespace lowbit::quant {
namespace {

namespace fs = std::filesystem;

struct CtRule {
  std::string pattern;
  std::regex regex;
  std::optional<CtScheme> scheme;  // nullopt: keep
};

std::optional<CtScheme> parse_ct_or_keep(std::string_view name, std::string_view context) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "keep") return std::nullopt;
  auto s = parse_ct_scheme(name);
  if (!s) {
    throw RangeError(
        fmt::format("{}unknown compressed-tensors scheme '{}' (int8, int4, fp8 with -channel, -tensor, "
                    "-g32/-g64/-g128, -asym, -mse; or keep)",
                    context, name));
  }
  return s;
}

CtRule parse_ct_rule(const std::string& text) {
  const auto eq = text.rfind('=');
  if (eq == std::string::npos || eq == 0)
    throw RangeError(fmt::format("rule '{}': expected REGEX=SCHEME", text));
  CtRule r;
  r.pattern = text.substr(0, eq);
  try {
    r.regex = std::regex(r.pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw RangeError(fmt::format("rule '{}': bad regular expression '{}': {}", text, r.pattern, e.what()));
  }
  r.scheme = parse_ct_or_keep(text.substr(eq + 1), fmt::format("rule '{}': ", text));
  return r;
}

struct Planned {
  const train::SafetensorsTensor* source;
  std::optional<CtScheme> scheme;
  std::string reason;
  std::string module;  // name without ".weight"
};

struct State {
  std::map<std::size_t, CtParams> params;
  std::map<std::size_t, std::vector<std::int64_t>> shapes;
  std::vector<TensorReport> reports;
};

const CtParams& params_of(State& st, const std::vector<Planned>& plan, std::size_t i) {
  auto it = st.params.find(i);
  if (it != st.params.end()) return it->second;
  const auto& t = *plan[i].source;
  std::vector<float> x(static_cast<std::size_t>(t.element_count()));
  detail::read_f32(t, 0, x.size(), x.data());
  return st.params[i] = ct_params(*plan[i].scheme, x.data(), t.shape[0], t.shape[1]);
}

nlohmann::json weight_args(const CtScheme& s) {
  nlohmann::json a = {{"num_bits", s.bits},
                      {"type", s.kind == CtScheme::Kind::int_packed ? "int" : "float"},
                      {"symmetric", s.symmetric},
                      {"group_size", s.group > 0 ? nlohmann::json(s.group) : nlohmann::json(nullptr)},
                      {"strategy", s.strategy()},
                      {"dynamic", false},
                      {"observer", s.mse ? "mse" : "minmax"}};
  return a;
}

std::string format_of(const CtScheme& s) {
  return s.format();
}

}  // namespace

QuantizeReport quantize_to_compressed_tensors(const train::SafetensorsCheckpoint& input,
                                              const fs::path& output, const QuantizeOptions& options) {
  const auto base = parse_ct_or_keep(options.scheme, "");
  std::vector<CtRule> rules;
  for (const auto& text : options.rules) rules.push_back(parse_ct_rule(text));

  std::vector<Planned> plan;
  for (const auto* t : input.tensors()) {
    Planned p{t, std::nullopt, "", ""};
    bool chosen = false;
    for (std::size_t r = 0; r < rules.size(); ++r) {
      if (std::regex_search(t->name, rules[r].regex)) {
        p.scheme = rules[r].scheme;
        p.reason = fmt::format("rule {}: {}", r + 1, rules[r].pattern);
        chosen = true;
        break;
      }
    }
    const bool eligible =
        detail::is_float_dtype(t->dtype) && t->shape.size() == 2 && t->name.ends_with(".weight");
    if (!chosen) {
      p.scheme = eligible ? base : std::nullopt;
      p.reason = eligible               ? "default"
                 : t->shape.size() != 2 ? fmt::format("{}-D", t->shape.size())
                                        : "not a weight";
    }
    if (p.scheme && !eligible) {
      throw RangeError(
          fmt::format("tensor \"{}\" ({} {}-D): compressed-tensors quantizes 2-D float *.weight "
                      "tensors only",
                      t->name, t->dtype, t->shape.size()));
    }
    if (p.scheme && p.scheme->is_fp4() && t->shape[1] % p.scheme->group != 0) {
      p.reason += fmt::format("; rows of {} not a multiple of {}: kept", t->shape[1], p.scheme->group);
      p.scheme.reset();
    }
    if (p.scheme && p.scheme->group > 0 && t->shape[1] % p.scheme->group != 0) {
      p.reason +=
          fmt::format("; rows of {} not a multiple of {}: per-channel scales", t->shape[1], p.scheme->group);
      p.scheme->group = 0;
      p.scheme->name += "-channel";
    }
    if (p.scheme) p.module = t->name.substr(0, t->name.size() - 7);
    plan.push_back(std::move(p));
  }

  // quantization_config: one group per distinct scheme, its targets the module names.
  std::map<std::string, std::pair<CtScheme, std::vector<std::string>>> groups;
  for (const auto& p : plan) {
    if (p.scheme) {
      auto& g = groups[p.scheme->name];
      g.first = *p.scheme;
      g.second.push_back(p.module);
    }
  }
  nlohmann::json config_groups = nlohmann::json::object();
  std::set<std::string> formats;
  int gi = 0;
  for (const auto& [name, g] : groups) {
    formats.insert(format_of(g.first));
    config_groups[fmt::format("group_{}", gi++)] = {{"targets", g.second},
                                                    {"weights", weight_args(g.first)},
                                                    {"input_activations", nullptr},
                                                    {"output_activations", nullptr},
                                                    {"format", format_of(g.first)}};
  }
  const nlohmann::json qconfig = {{"quant_method", "compressed-tensors"},
                                  {"format", formats.size() == 1 ? *formats.begin()
                                             : formats.empty()   ? "dense"
                                                                 : "mixed-precision"},
                                  {"quantization_status", "compressed"},
                                  {"config_groups", config_groups},
                                  {"ignore", nlohmann::json::array()},
                                  {"kv_cache_scheme", nullptr},
                                  {"global_compression_ratio", nullptr}};

  State st;
  st.reports.resize(plan.size());
  std::vector<train::SafetensorsEntry> entries;
  std::uint64_t total_bytes = 0, done_bytes = 0;
  for (const auto* t : input.tensors()) total_bytes += t->data.size();
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& p = plan[i];
    const auto& t = *p.source;
    auto& r = st.reports[i];
    r.name = t.name;
    r.shape = t.shape;
    r.source_dtype = t.dtype;
    r.reason = p.reason;
    r.elements = static_cast<std::uint64_t>(t.element_count());
    r.bytes_before = t.data.size();
    if (!p.scheme) {
      r.scheme = "keep";
      r.stored_as = t.dtype;
      r.bytes_after = t.data.size();
      r.error.count = r.elements;
      entries.push_back(train::SafetensorsEntry::bytes(t.name, t.dtype, t.shape, t.data));
      continue;
    }
    const CtScheme s = *p.scheme;
    r.scheme = s.name;
    const std::int64_t rows = t.shape[0], cols = t.shape[1];
    const std::int64_t groups = s.groups_per_row(cols);
    const std::vector<std::int64_t> scale_shape =
        s.group < 0 ? std::vector<std::int64_t>{1} : std::vector<std::int64_t>{rows, groups};
    const std::uint64_t scale_count = s.group < 0 ? 1 : static_cast<std::uint64_t>(rows * groups);
    // The codes entry: quantize the whole tensor, measure, write.
    auto write_codes = [&st, &plan, i, s, rows, cols, &options, &done_bytes,
                        total_bytes](train::AtomicFile& out) {
      const auto& params = params_of(st, plan, i);
      const auto& t = *plan[i].source;
      std::vector<float> x(static_cast<std::size_t>(rows * cols)), back(x.size());
      std::vector<std::int8_t> codes(x.size());
      detail::read_f32(t, 0, x.size(), x.data());
      ct_quantize_rows(s, params, x.data(), 0, rows, cols, codes.data(), back.data());
      st.reports[i].error.add(x.data(), back.data(), x.size());
      if (s.kind == CtScheme::Kind::fp8) {
        out.write(codes.data(), codes.size());
      } else if (s.is_fp4()) {
        std::vector<std::uint8_t> pairs(codes.size() / 2);
        for (std::size_t k = 0; k < pairs.size(); ++k) {
          pairs[k] = static_cast<std::uint8_t>((codes[2 * k] & 0xF) | ((codes[2 * k + 1] & 0xF) << 4));
        }
        out.write(pairs.data(), pairs.size());
      } else {
        const std::int64_t words = (cols * s.bits + 31) / 32;
        std::vector<std::int32_t> packed(static_cast<std::size_t>(words));
        for (std::int64_t row = 0; row < rows; ++row) {
          pack_int32_row(codes.data() + row * cols, cols, s.bits, packed.data());
          out.write(packed.data(), packed.size() * 4);
        }
      }
      detail::release_pages(t.data);
      done_bytes += t.data.size();
      if (options.progress) options.progress(done_bytes, total_bytes);
    };
    auto write_scale = [&st, &plan, i, scale_count](train::AtomicFile& out) {
      const auto& params = params_of(st, plan, i);
      out.write(params.scale.data(), scale_count * 4);
    };
    if (s.is_fp4()) {
      const std::int64_t blocks = cols / s.group;
      entries.push_back(train::SafetensorsEntry::streamed(suffixed(p.module, ".weight_packed"), "U8",
                                                          {rows, cols / 2}, write_codes));
      entries.push_back(train::SafetensorsEntry::streamed(
          suffixed(p.module, ".weight_scale"), s.kind == CtScheme::Kind::nvfp4 ? "F8_E4M3" : "U8",
          {rows, blocks}, [&st, &plan, i](train::AtomicFile& out) {
            const auto& params = params_of(st, plan, i);
            out.write(params.scale_code.data(), params.scale_code.size());
          }));
      r.stored_as = s.kind == CtScheme::Kind::nvfp4 ? "U8 (nvfp4)" : "U8 (mxfp4)";
      r.bytes_after = static_cast<std::uint64_t>(rows * cols / 2 + rows * blocks);
      if (s.kind == CtScheme::Kind::nvfp4) {
        entries.push_back(train::SafetensorsEntry::streamed(suffixed(p.module, ".weight_global_scale"), "F32",
                                                            {1}, [&st, &plan, i](train::AtomicFile& out) {
                                                              const auto& params = params_of(st, plan, i);
                                                              out.write(&params.global_scale, 4);
                                                            }));
        r.bytes_after += 4;
      }
      continue;
    }
    if (s.kind == CtScheme::Kind::fp8) {
      entries.push_back(train::SafetensorsEntry::streamed(t.name, "F8_E4M3", t.shape, write_codes));
      entries.push_back(train::SafetensorsEntry::streamed(
          suffixed(p.module, ".weight_scale"), "F32",
          s.group < 0 ? scale_shape : std::vector<std::int64_t>{rows, 1}, write_scale));
      r.stored_as = "F8_E4M3";
      r.bytes_after = static_cast<std::uint64_t>(rows * cols) + scale_count * 4;
      continue;
    }
    const std::int64_t words = (cols * s.bits + 31) / 32;
    entries.push_back(train::SafetensorsEntry::streamed(suffixed(p.module, ".weight_packed"), "I32",
                                                        {rows, words}, write_codes));
    entries.push_back(train::SafetensorsEntry::streamed(suffixed(p.module, ".weight_scale"), "F32",
                                                        scale_shape, write_scale));
    auto& shape_bytes = st.shapes[i] = {rows, cols};
    entries.push_back(train::SafetensorsEntry::bytes(
        suffixed(p.module, ".weight_shape"), "I64", {2},
        std::span(reinterpret_cast<const std::uint8_t*>(shape_bytes.data()), 16)));
    r.stored_as = fmt::format("I32 (int{})", s.bits);
    r.bytes_after = static_cast<std::uint64_t>(rows * words * 4) + scale_count * 4 + 16;
    if (!s.symmetric) {
      const std::int64_t zp_words = (rows * s.bits + 31) / 32;
      entries.push_back(train::SafetensorsEntry::streamed(
          suffixed(p.module, ".weight_zero_point"), "I32", {zp_words, groups},
          [&st, &plan, i, s, rows, groups, zp_words](train::AtomicFile& out) {
            const auto& params = params_of(st, plan, i);
            // Packed along the rows: column j of the [rows, groups] zero points becomes column j of the
            // words.
            std::vector<std::int32_t> words(static_cast<std::size_t>(zp_words * groups));
            std::vector<std::int8_t> column(static_cast<std::size_t>(rows));
            std::vector<std::int32_t> packed(static_cast<std::size_t>(zp_words));
            for (std::int64_t j = 0; j < groups; ++j) {
              for (std::int64_t row = 0; row < rows; ++row) column[row] = params.zero_point[row * groups + j];
              pack_int32_row(column.data(), rows, s.bits, packed.data());
              for (std::int64_t k = 0; k < zp_words; ++k) words[k * groups + j] = packed[k];
            }
            out.write(words.data(), words.size() * 4);
          }));
      r.bytes_after += static_cast<std::uint64_t>(zp_words * groups * 4);
    }
  }
  std::map<std::string, std::string> metadata = input.metadata();
  metadata["format"] = "pt";
  metadata["quantization_config"] = qconfig.dump();
  train::write_safetensors(output, entries, metadata);

  // config.json beside the output: the input's, with the quantization_config added.
  const fs::path in_dir = fs::is_directory(input.path()) ? input.path() : input.path().parent_path();
  const fs::path out_dir = output.parent_path().empty() ? fs::path(".") : output.parent_path();
  std::error_code ec;
  if (!fs::equivalent(in_dir.empty() ? fs::path(".") : in_dir, out_dir, ec)) {
    nlohmann::json config = nlohmann::json::object();
    if (std::ifstream in(in_dir / "config.json"); in) {
      try {
        config = nlohmann::json::parse(in);
      } catch (const nlohmann::json::exception& e) {
        throw FileError(fmt::format("{}: not valid JSON: {}", (in_dir / "config.json").string(), e.what()));
      }
    }
    config["quantization_config"] = qconfig;
    const std::string text = config.dump(2) + "\n";
    train::AtomicFile file(out_dir / "config.json");
    file.write(text.data(), text.size());
    file.commit();
  }
  QuantizeReport report;
  report.tensors = std::move(st.reports);
  return report;
}

}  // namespace lowbit::quant
