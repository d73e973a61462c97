// `lowbit formats`: every format with its layout, limits and names.
#include <fmt/format.h>

#include <cmath>

#include "cli_common.hpp"
#include "lowbit/formats/float_queries.hpp"

namespace lowbit::cli {
namespace {

std::string specials_name(Specials s) {
  switch (s) {
    case Specials::ieee:
      return "ieee";
    case Specials::fn:
      return "fn";
    case Specials::fnuz:
      return "fnuz";
    case Specials::none:
      return "none";
  }
  return "?";
}

// Limits in JSON are exact decimals; the text table rounds them to 6 significant digits.
std::string value_of(const Format& f, std::uint64_t code) {
  return exact_decimal(f.unpack(code));
}

nlohmann::json describe(const Format& f) {
  nlohmann::json j;
  j["name"] = f.name();
  j["aliases"] = f.aliases();
  j["bits"] = f.bits();
  j["description"] = f.description();
  if (f.is_float()) {
    const FloatSpec& s = f.float_spec();
    j["kind"] = "float";
    j["sign_bits"] = s.is_signed ? 1 : 0;
    j["exponent_bits"] = s.exp_bits;
    j["mantissa_bits"] = s.man_bits;
    j["bias"] = s.bias;
    j["specials"] = specials_name(s.specials);
    j["max_finite"] = value_of(f, max_finite_code(s));
    j["min_normal"] = value_of(f, min_normal_code(s));
    j["min_subnormal"] =
        s.has_subnormals ? nlohmann::json(value_of(f, min_subnormal_code(s))) : nlohmann::json();
    j["epsilon"] = value_of(f, epsilon_code(s));
    // Binades from the smallest positive value to the largest finite one.
    const Unpacked max = f.unpack(max_finite_code(s));
    const Unpacked min = f.unpack(s.has_subnormals ? min_subnormal_code(s) : min_normal_code(s));
    j["dynamic_range_binades"] = max.exp - min.exp + 1;
  } else {
    const IntegerSpec& s = f.integer_spec();
    j["kind"] = s.frac_bits > 0 ? "fixed" : "integer";
    j["signed"] = s.is_signed;
    j["encoding"] = s.encoding == IntEncoding::twos_complement ? "twos_complement" : "sign_magnitude";
    j["fraction_bits"] = s.frac_bits;
    j["max_finite"] =
        value_of(f, static_cast<std::uint64_t>(s.max_int()));  // positive codes are the integers
  }
  return j;
}

}  // namespace

void add_formats_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("formats", "List every format with its layout, limits and names");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "one JSON document on stdout");
  cmd->footer(
      "Examples:\n  lowbit formats\n  lowbit formats --json\nAlso accepted: intN, uintN, smintN "
      "(sign-magnitude), qM.N and uqM.N fixed point.");
  cmd->callback([json] {
    if (*json) {
      nlohmann::json out = nlohmann::json::array();
      for (const Format& f : listed_formats()) out.push_back(describe(f));
      print_json({{"formats", out}});
      return;
    }
    fmt::print("{:<19} {:>4} {:>3} {:>3} {:>3} {:>5} {:<5} {:>12} {:>12} {:>12} {:>10} {:>7}  {}\n", "name",
               "bits", "s", "e", "m", "bias", "spec", "max", "min normal", "min subnorm", "epsilon",
               "binades", "aliases");
    for (const Format& f : listed_formats()) {
      const nlohmann::json d = describe(f);
      std::string aliases;
      for (const auto& a : f.aliases()) aliases += (aliases.empty() ? "" : ", ") + a;
      if (f.is_float()) {
        auto num = [](const nlohmann::json& v) {
          return v.is_null() ? std::string("-") : v.get<std::string>();
        };
        auto shortened = [&](const std::string& exact) {  // 6 significant digits; --json has them all
          if (exact == "-") return exact;
          return rounded_decimal(parse_number(exact), 6);
        };
        fmt::print("{:<19} {:>4} {:>3} {:>3} {:>3} {:>5} {:<5} {:>12} {:>12} {:>12} {:>10} {:>7}  {}\n",
                   f.name(), f.bits(), d["sign_bits"].get<int>(), d["exponent_bits"].get<int>(),
                   d["mantissa_bits"].get<int>(), d["bias"].get<int>(), d["specials"].get<std::string>(),
                   shortened(num(d["max_finite"])), shortened(num(d["min_normal"])),
                   shortened(num(d["min_subnormal"])), shortened(num(d["epsilon"])),
                   d["dynamic_range_binades"].get<int>(), aliases);
      } else {
        fmt::print("{:<19} {:>4} {:>3} {:>3} {:>3} {:>5} {:<5} {:>12} {:>12} {:>12} {:>10} {:>7}  {}\n",
                   f.name(), f.bits(), f.integer_spec().is_signed ? 1 : 0, "-", "-", "-", "int",
                   d["max_finite"].get<std::string>(), "-", "-", "1", "-", aliases);
      }
    }
    fmt::print(
        "\nAlso: intN / uintN / smintN (N = 1..32), qM.N and uqM.N fixed point (TI Q notation: q3.4 = 8 "
        "bits).\n");
  });
}

}  // namespace lowbit::cli
