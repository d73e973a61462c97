// What every `lowbit` subcommand shares: options for formats, rounding and output, and printing helpers.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lowbit/formats/describe.hpp"
#include "lowbit/formats/rounding.hpp"
#include "lowbit/train/safetensors.hpp"

namespace lowbit::cli {

// --round, --policy, --seed as parsed strings; resolved after parsing so errors get our message.
struct RoundingArgs {
  std::string round = "nearest-even";
  std::string policy = "ieee";
  std::uint64_t seed = 0;
  void add_to(CLI::App& app);
  RoundOptions options() const;  // throws ParseError on unknown names
};

void print_json(const nlohmann::json& document);

// One safetensors tensor as `inspect --json` and `dequantize --json` list it: name, dtype, shape, bytes.
nlohmann::json tensor_json(const train::SafetensorsTensor& t);

// Left-aligned two-column rows ("label  value") for the readable output.
void print_rows(const std::vector<std::pair<std::string, std::string>>& rows);

// Registration of each subcommand; each adds itself to `app` and sets its callback.
void add_formats_command(CLI::App& app);
void add_decode_command(CLI::App& app);
void add_encode_command(CLI::App& app);
void add_table_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_amp_command(CLI::App& app);

}  // namespace lowbit::cli
