// `lowbit dequantize IN.gguf|IN.safetensors -o OUT.safetensors [--dtype f32|f16|bf16] [--json]`: every
// quantized tensor back to floats, then what was written, read back from the output's header.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "cli_common.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/quant/checkpoint.hpp"
#include "progress_bar.hpp"

namespace lowbit::cli {
namespace {

struct Args {
  std::string input, output, dtype = "f32";
  bool json = false;
};

// The written file as its header lists it: one JSON object, or a line for people.
void report(const Args& args, const std::string& dtype) {
  const auto file = train::SafetensorsFile::open(args.output);
  std::uint64_t total = 0;
  for (const auto& t : file.tensors()) total += t.data.size();
  if (!args.json) {
    const std::size_t count = file.tensors().size();
    fmt::print("{}: {} tensor{}, {} bytes ({} for the dequantized ones)\n", args.output, count,
               count == 1 ? "" : "s", total, dtype);
    return;
  }
  nlohmann::json doc{
      {"input", args.input}, {"output", args.output}, {"dtype", dtype}, {"total_bytes", total}};
  auto& tensors = doc["tensors"] = nlohmann::json::array();
  for (const auto& t : file.tensors()) tensors.push_back(tensor_json(t));
  print_json(doc);
}

void run(const Args& args) {
  std::string dtype = args.dtype;
  std::transform(dtype.begin(), dtype.end(), dtype.begin(), [](unsigned char c) { return std::toupper(c); });
  if (dtype == "FP32") dtype = "F32";
  if (dtype == "FP16") dtype = "F16";
  if (dtype != "F32" && dtype != "F16" && dtype != "BF16") {
    throw RangeError(fmt::format("--dtype {}: must be f32, f16 or bf16", args.dtype));
  }
  if (std::filesystem::path(args.output).extension() != ".safetensors") {
    throw RangeError(fmt::format("output '{}': the extension must be .safetensors", args.output));
  }
  std::error_code ec;
  if (std::filesystem::exists(args.output, ec) && std::filesystem::equivalent(args.input, args.output, ec)) {
    throw Error(fmt::format("output '{}' is the input; choose another name", args.output));
  }
  ByteProgress bar("dequantize");
  const auto progress = [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); };
  if (std::filesystem::path(args.input).extension() == ".safetensors") {
    quant::dequantize_compressed_tensors(args.input, args.output, dtype, progress);
  } else {
    quant::dequantize_gguf(args.input, args.output, dtype, progress);
  }
  report(args, dtype);
}

}  // namespace

void add_dequantize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "dequantize", "Dequantize a GGUF or compressed-tensors file into a plain safetensors file");
  auto args = std::make_shared<Args>();
  cmd->add_option("input", args->input,
                  "a .gguf file, or a .safetensors compressed-tensors file lowbit wrote")
      ->required();
  cmd->add_option("-o,--output", args->output, "the .safetensors file to write")->required();
  cmd->add_option("--dtype", args->dtype, "f32 (default), f16 or bf16; integer tensors are copied");
  cmd->add_flag("--json", args->json, "list the tensors written (name, dtype, shape, bytes) as JSON");
  cmd->footer(
      "Examples:\n  lowbit dequantize model-q4_0.gguf -o model-q4_0.safetensors --dtype bf16\n"
      "  lowbit dequantize model-w8a8/model.safetensors -o plain.safetensors --json");
  cmd->callback([args] { run(*args); });
}

}  // namespace lowbit::cli
