// `lowbit table F`: every code of a format of up to 16 bits with its value and class.
#include <fmt/format.h>

#include "cli_common.hpp"

namespace lowbit::cli {

void add_table_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("table", "List every code of a format of up to 16 bits");
  struct Args {
    std::string format;
    bool csv = false, json = false;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("FORMAT", args->format, "format name")->required();
  cmd->add_flag("--csv", args->csv, "comma-separated: bits,binary,class,exact,shortest");
  cmd->add_flag("--json", args->json, "one JSON document on stdout");
  cmd->footer(
      "Examples:\n  lowbit table e2m1\n  lowbit table e4m3fn --csv > e4m3fn.csv\n  lowbit table int4 --json");
  cmd->callback([args] {
    const Format format = find_format(args->format);
    if (format.bits() > 16) {
      throw RangeError(
          fmt::format("table lists formats of up to 16 bits; {} has {} (use decode for single codes)",
                      format.name(), format.bits()));
    }
    const std::uint64_t count = 1ull << format.bits();
    nlohmann::json rows = nlohmann::json::array();
    if (args->csv) fmt::print("bits,binary,class,exact,shortest\n");
    for (std::uint64_t code = 0; code < count; ++code) {
      const CodeDescription d = describe_code(format, code);
      if (args->json) {
        rows.push_back({{"bits", d.hex},
                        {"binary", d.binary},
                        {"class", d.kind},
                        {"exact", d.exact},
                        {"shortest", d.shortest}});
      } else if (args->csv) {
        fmt::print("{},{},{},{},{}\n", d.hex, d.binary, d.kind, d.exact, d.shortest);
      } else {
        fmt::print("{:<8} {:<20} {:<10} {}\n", d.hex, d.binary, d.kind, d.exact);
      }
    }
    if (args->json) print_json({{"format", format.name()}, {"table", rows}});
  });
}

}  // namespace lowbit::cli
