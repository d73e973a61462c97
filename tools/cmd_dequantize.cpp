// `lowbit dequantize IN.gguf|IN.safetensors -o OUT.safetensors [--dtype f32|f16|bf16]`: every quantized
// tensor back to floats.
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
};

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
  cmd->footer("Examples:\n  lowbit dequantize model-q4_0.gguf -o model-q4_0.safetensors --dtype bf16");
  cmd->callback([args] { run(*args); });
}

}  // namespace lowbit::cli
