// `lowbit encode VALUE --format F`: the code VALUE rounds to (once, exactly), its error and flags.
#include <fmt/format.h>

#include "cli_common.hpp"

namespace lowbit::cli {
namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : " ") + n;
  return out.empty() ? "-" : out;
}

nlohmann::json to_json(const Format& format, const EncodeResult& r, const RoundOptions& o) {
  auto code_json = [&](const CodeValue& c) {
    return nlohmann::json{{"bits", hex_code(format, c.code)}, {"exact", c.exact}};
  };
  nlohmann::json j;
  j["format"] = r.format;
  j["input"] = r.input;
  j["rounding"] = std::string(to_string(o.rounding));
  j["policy"] = std::string(to_string(o.policy));
  j["bits"] = r.hex;
  j["class"] = r.kind;
  j["exact"] = r.exact;
  j["flags"] = flag_names(r.flags);
  j["abs_error"] = r.error ? nlohmann::json(r.error->absolute) : nlohmann::json();
  j["rel_error"] = r.error ? nlohmann::json(r.error->relative) : nlohmann::json();
  j["below"] = code_json(r.below);
  j["above"] = code_json(r.above);
  return j;
}

void print_one(const Format& format, const EncodeResult& r, const RoundOptions& o) {
  print_rows({
      {"format", fmt::format("{} ({} bits), rounding {}, policy {}", r.format, format.bits(),
                             to_string(o.rounding), to_string(o.policy))},
      {"input", r.input},
      {"bits", fmt::format("{}  {}", r.hex, describe_code(format, r.code).binary)},
      {"class", r.kind},
      {"exact", r.exact},
      {"abs error", r.error ? r.error->absolute : "-"},
      {"rel error", r.error ? r.error->relative : "-"},
      {"flags", joined(flag_names(r.flags))},
      {"below", fmt::format("{}  {}", hex_code(format, r.below.code), r.below.exact)},
      {"above", fmt::format("{}  {}", hex_code(format, r.above.code), r.above.exact)},
  });
}

}  // namespace

void add_encode_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("encode", "Round a decimal, hex-float or fraction to a format, once and exactly");
  struct Args {
    std::string value, format;
    bool all = false, json = false;
    RoundingArgs rounding;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("VALUE", args->value, "decimal (0.1, -1e-9), hex float (0x1.8p3), fraction (1/3), inf, nan")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("-f,--format", args->format, "target format");
  cmd->add_flag("--all", args->all, "one row per listed format, side by side");
  cmd->add_flag("--json", args->json, "one JSON document on stdout");
  args->rounding.add_to(*cmd);
  cmd->footer(
      "Examples:\n  lowbit encode 0.1 --format bf16\n  lowbit encode 65519.99 --format fp16 --round "
      "toward-zero\n"
      "  lowbit encode 500 --format e4m3fn --policy saturate\n  lowbit encode 1/3 --all\n"
      "  lowbit encode -- -1e-9 --format e5m2   (`--` before a negative VALUE)");
  cmd->callback([args] {
    const RoundOptions options = args->rounding.options();
    if (args->all == !args->format.empty()) {
      throw RangeError("encode needs exactly one of --format F and --all");
    }
    if (!args->all) {
      const Format format = find_format(args->format);
      const EncodeResult r = encode_value(format, args->value, options);
      if (args->json)
        print_json({{"encode", to_json(format, r, options)}});
      else
        print_one(format, r, options);
      return;
    }
    nlohmann::json rows = nlohmann::json::array();
    if (!args->json) {
      fmt::print("input {}, rounding {}, policy {}\n", args->value, to_string(options.rounding),
                 to_string(options.policy));
      fmt::print("{:<19} {:<18} {:<26} {:<12} {:<12} {}\n", "format", "bits", "exact", "abs error",
                 "rel error", "flags");
    }
    for (const Format& format : listed_formats()) {
      const EncodeResult r = encode_value(format, args->value, options);
      if (args->json) {
        rows.push_back(to_json(format, r, options));
        continue;
      }
      std::string exact = r.exact.size() > 26 ? r.exact.substr(0, 25) + "~" : r.exact;
      fmt::print("{:<19} {:<18} {:<26} {:<12} {:<12} {}\n", r.format, r.hex, exact,
                 r.error ? r.error->absolute : "-", r.error ? r.error->relative : "-",
                 joined(flag_names(r.flags)));
    }
    if (args->json) print_json({{"encode", rows}});
  });
}

}  // namespace lowbit::cli
