// `lowbit quantize IN -o OUT --scheme S`: a safetensors checkpoint (one file or sharded) to GGUF or to
// compressed-tensors safetensors, with a per-tensor error report. The output appears only when complete; the
// input is never written.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "cli_common.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/quant/checkpoint.hpp"
#include "lowbit/quant/rules.hpp"
#include "progress_bar.hpp"

namespace lowbit::cli {
namespace {

namespace fs = std::filesystem;

struct Args {
  std::string input, output, scheme;
  std::vector<std::string> rules;
  int threads = 2;
  bool json = false;
};

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string db_text(double db) {
  if (std::isinf(db)) return db > 0 ? "exact" : "-inf";
  return fmt::format("{:.2f}", db);
}

std::string size_text(std::uint64_t bytes) {
  if (bytes >= 1'000'000'000) return fmt::format("{:.2f} GB", static_cast<double>(bytes) / 1e9);
  if (bytes >= 1'000'000) return fmt::format("{:.2f} MB", static_cast<double>(bytes) / 1e6);
  if (bytes >= 1'000) return fmt::format("{:.1f} kB", static_cast<double>(bytes) / 1e3);
  return fmt::format("{} B", bytes);
}

// The output must not be the input (or one of its shards): renaming over it would replace the input.
void check_not_input(const train::SafetensorsCheckpoint& in, const fs::path& out) {
  std::error_code ec;
  if (!fs::exists(out, ec)) return;
  for (const auto& f : in.files()) {
    if (fs::equivalent(f.path(), out, ec)) {
      throw Error(fmt::format("output '{}' is the input file '{}'; choose another name", out.string(),
                              f.path().string()));
    }
  }
}

void run(const Args& args) {
  const fs::path out(args.output);
  const std::string ext = out.extension().string();
  if (ext != ".gguf" && ext != ".safetensors") {
    throw RangeError(
        fmt::format("output '{}': the extension must be .gguf or .safetensors (the format follows "
                    "from it)",
                    args.output));
  }
  if (args.threads < 1) throw RangeError(fmt::format("--threads {}: must be at least 1", args.threads));
  const auto input = train::SafetensorsCheckpoint::open(args.input);
  check_not_input(input, out);
  quant::QuantizeOptions options;
  options.scheme = args.scheme;
  options.rules = args.rules;
  options.threads = args.threads;
  ByteProgress bar("quantize " + args.scheme);
  options.progress = [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); };
  const auto start = std::chrono::steady_clock::now();
  const auto report = ext == ".gguf" ? quant::quantize_to_gguf(input, out, options)
                                     : quant::quantize_to_compressed_tensors(input, out, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto total = report.total_error();
  // ggml's gguf reader refuses tensor names of GGML_MAX_NAME (64) bytes or more; the gguf package reads them.
  if (ext == ".gguf") {
    std::size_t long_names = 0;
    for (const auto& t : report.tensors) long_names += t.name.size() >= 64 ? 1 : 0;
    if (long_names > 0) {
      fmt::print(stderr, "warning: {} tensor names are 64 bytes or longer, which ggml (llama.cpp) refuses\n",
                 long_names);
    }
  }

  if (args.json) {
    nlohmann::json doc;
    doc["input"] = args.input;
    doc["output"] = args.output;
    doc["scheme"] = args.scheme;
    doc["rules"] = args.rules;
    doc["seconds"] = seconds;
    auto& tensors = doc["tensors"] = nlohmann::json::array();
    for (const auto& t : report.tensors) {
      tensors.push_back({{"name", t.name},
                         {"shape", t.shape},
                         {"source_dtype", t.source_dtype},
                         {"scheme", t.scheme},
                         {"stored_as", t.stored_as},
                         {"reason", t.reason},
                         {"elements", t.elements},
                         {"bits_per_weight", t.bits_per_weight()},
                         {"sqnr_db", number_or_null(t.error.sqnr_db())},
                         {"exact", t.error.noise == 0},
                         {"max_abs_error", t.error.max_abs},
                         {"bytes_before", t.bytes_before},
                         {"bytes_after", t.bytes_after}});
    }
    std::uint64_t elements = 0;
    for (const auto& t : report.tensors) elements += t.elements;
    doc["totals"] = {
        {"tensors", report.tensors.size()},
        {"elements", elements},
        {"bytes_before", report.bytes_before()},
        {"bytes_after", report.bytes_after()},
        {"bits_per_weight",
         elements ? 8.0 * static_cast<double>(report.bytes_after()) / static_cast<double>(elements) : 0.0},
        {"sqnr_db", number_or_null(total.sqnr_db())},
        {"max_abs_error", total.max_abs}};
    print_json(doc);
    return;
  }
  std::size_t width = 6;
  for (const auto& t : report.tensors) width = std::max(width, t.name.size());
  fmt::print("{:<{}}  {:<14} {:<6} {:<6} {:>6} {:>9} {:>10} {:>10} {:>10}\n", "tensor", width, "shape",
             "dtype", "scheme", "bpw", "SQNR dB", "max err", "before", "after");
  for (const auto& t : report.tensors) {
    fmt::print("{:<{}}  {:<14} {:<6} {:<6} {:>6.2f} {:>9} {:>10.3g} {:>10} {:>10}\n", t.name, width,
               shape_text(t.shape), t.source_dtype, t.stored_as, t.bits_per_weight(),
               db_text(t.error.sqnr_db()), t.error.max_abs, size_text(t.bytes_before),
               size_text(t.bytes_after));
  }
  fmt::print(
      "\n{} tensors: {} -> {} ({:.2f}x smaller), SQNR {} dB over the quantized tensors, max abs error "
      "{:.3g}, "
      "{:.2f} s\n",
      report.tensors.size(), size_text(report.bytes_before()), size_text(report.bytes_after()),
      report.bytes_after()
          ? static_cast<double>(report.bytes_before()) / static_cast<double>(report.bytes_after())
          : 0.0,
      db_text(total.sqnr_db()), total.max_abs, seconds);
  fmt::print("wrote {}\n", args.output);
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "quantize", "Quantize a safetensors checkpoint to GGUF or compressed-tensors, with an error report");
  auto args = std::make_shared<Args>();
  cmd->add_option("input", args->input, "a .safetensors file, a model.safetensors.index.json, or a folder")
      ->required();
  cmd->add_option(
         "-o,--output", args->output,
         "output file; its extension picks the format: .gguf, or .safetensors (compressed-tensors, with a "
         "config.json beside it)")
      ->required();
  cmd->add_option(
         "--scheme", args->scheme,
         "scheme of the 2-D float weights. GGUF: " + quant::scheme_names() +
             "; or a mix: q4_K_M, q5_K_M (llama.cpp's). compressed-tensors (.safetensors): nvfp4, mxfp4, "
             "int8, int4, fp8 with -channel, -tensor, -g32/-g64/-g128, -asym, -mse (int8: per channel, int4: "
             "g128, fp8: per channel by default)")
      ->required();
  cmd->add_option(
      "--rule", args->rules,
      "REGEX=SCHEME: tensors whose name matches REGEX (anywhere) get SCHEME; repeatable, the FIRST "
      "matching rule wins; rules override the default (2-D float weights quantized, 1-D and "
      "integer tensors kept)");
  cmd->add_option("--threads", args->threads, "threads (default 2)");
  cmd->add_flag("--json", args->json, "print the report as JSON");
  cmd->footer(
      "Rows (the last dimension) that are not a whole number of blocks fall back as llama.cpp does: q4_K -> "
      "q5_0, q5_K -> q5_1, q6_K -> q8_0, then f16.\n"
      "Examples:\n"
      "  lowbit quantize model.safetensors -o model-q8_0.gguf --scheme q8_0\n"
      "  lowbit quantize model.safetensors.index.json -o model.gguf --scheme q4_K_M\n"
      "  lowbit quantize ckpt/ -o m.gguf --scheme q4_0 --rule 'embed=q8_0' --rule 'lm_head=f16' --json\n"
      "  lowbit quantize model.safetensors -o out/model.safetensors --scheme int4-g128-asym --rule "
      "'lm_head=keep'");
  cmd->callback([args] { run(*args); });
}

}  // namespace lowbit::cli
