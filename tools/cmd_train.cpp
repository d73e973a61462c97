// `lowbit train` and `lowbit eval`: the Fashion-MNIST trainer of train/. Prints a progress bar per epoch on
// a terminal, a summary at the end (or --json), and writes the metrics file and the checkpoint atomically.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "amp_args.hpp"
#include "cli_common.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/gemm.hpp"
#include "lowbit/train/atomic_file.hpp"
#include "lowbit/train/device.hpp"
#include "lowbit/train/trainer.hpp"

namespace lowbit::cli {
namespace {

using namespace lowbit::train;

struct Args {
  TrainOptions options;
  std::string data = kFashionMnistDefaultDir;
  std::string save, load, metrics;
  std::string device = "cpu", gemm = "lowbit";
  int threads = 0;
  bool json = false;
  AmpArgs amp;
};

// The mixed-precision scheme --amp asks for, or null for float32. Throws RangeError for AMP options
// without --amp, and for bad values.
std::unique_ptr<amp::MixedPrecision> make_precision(const Args& args) {
  const AmpArgs& a = args.amp;
  if (a.amp.empty()) {
    if (!a.loss_scale.empty() || !a.allow.empty() || !a.deny.empty() || !a.policy_file.empty() ||
        a.stochastic_rounding) {
      throw RangeError(
          "--loss-scale, --amp-allow, --amp-deny, --amp-policy and --stochastic-rounding need --amp");
    }
    return nullptr;
  }
  return std::make_unique<amp::MixedPrecision>(a.options(args.options.seed));
}

void add_model_options(CLI::App& cmd, Args& args) {
  cmd.add_option("--model", args.options.model, "mlp or cnn")->capture_default_str();
  cmd.add_option("--data", args.data, "folder of the Fashion-MNIST IDX files")->capture_default_str();
  cmd.add_option("--threads", args.threads, "GEMM threads (default: 2, or the core count if lower)");
  cmd.add_flag("--json", args.json, "print the result as JSON");
  cmd.add_option("--device", args.device, "cpu or cuda (a CUDA build and an NVIDIA GPU)")
      ->capture_default_str();
  cmd.add_option("--gemm", args.gemm,
                 "GEMMs of --device cuda: lowbit (its tensor-core kernels; float32 goes to cuBLAS) or cublas")
      ->capture_default_str();
}

// --device and --gemm into the options, before the Trainer checks that the device is there.
void apply_device(Args& args) {
  args.options.device = parse_device(args.device);
  set_cuda_gemm(parse_cuda_gemm(args.gemm));
  if (args.gemm != "lowbit" && args.options.device != Device::cuda) {
    throw RangeError(fmt::format("--gemm {}: applies to --device cuda only", args.gemm));
  }
}

FashionMnist load_data(const Args& args) {
  if (!std::filesystem::is_directory(args.data)) {
    throw FileError(
        fmt::format("--data {}: no such folder (Debian's package dataset-fashion-mnist installs the "
                    "files in {})",
                    args.data, kFashionMnistDefaultDir));
  }
  return load_fashion_mnist(args.data);
}

// One line per epoch, redrawn in place: "epoch 3/15 [#########.........] 412/938 loss 0.3121".
class ProgressBar {
 public:
  explicit ProgressBar(std::int64_t epochs) : epochs_(epochs), enabled_(isatty(STDERR_FILENO) != 0) {}
  void update(std::int64_t epoch, std::int64_t step, std::int64_t steps, double loss) {
    if (!enabled_ || (step % 10 != 0 && step != steps)) return;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * step / std::max<std::int64_t>(steps, 1));
    fmt::print(stderr, "\repoch {}/{} [{}{}] {}/{} loss {:.4f}", epoch, epochs_, std::string(filled, '#'),
               std::string(kWidth - filled, '.'), step, steps, loss);
    if (step == steps) fmt::print(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  std::int64_t epochs_;
  bool enabled_;
};

nlohmann::json memory_json(const MemoryReport& m) {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t c = 0; c < kMemoryCategoryCount; ++c) {
    out[std::string(memory_category_name(static_cast<MemoryCategory>(c)))] = {{"live", m.live[c]},
                                                                              {"peak", m.peak[c]}};
  }
  out["peak_total"] = m.peak_total;
  return out;
}

// Bytes per parameter by category (live at the end): the AMP layout reads 4 master + 2 working + 2 gradient
// + 8 optimizer with Adam, float32 training 4 + 4 + 8.
nlohmann::json bytes_per_parameter(const MemoryReport& m, std::int64_t parameters) {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t c = 0; c < kMemoryCategoryCount; ++c) {
    if (static_cast<MemoryCategory>(c) == MemoryCategory::activations) continue;
    out[std::string(memory_category_name(static_cast<MemoryCategory>(c)))] =
        static_cast<double>(m.live[c]) / static_cast<double>(std::max<std::int64_t>(parameters, 1));
  }
  return out;
}

// What --loss-scale resolved to: the option, or the mode's default (dynamic for fp16, else none).
std::string loss_scale_name(const AmpArgs& amp) {
  if (!amp.loss_scale.empty()) return amp.loss_scale;
  return amp.amp == "fp16" || amp.amp == "float16" ? "dynamic" : "none";
}

nlohmann::json result_json(const Args& args, const TrainResult& r) {
  nlohmann::json epochs = nlohmann::json::array();
  nlohmann::json scale_history = nlohmann::json::array();
  for (const EpochMetrics& e : r.epochs) {
    epochs.push_back({{"epoch", e.epoch},
                      {"train_loss", e.train_loss},
                      {"test_loss", e.test_loss},
                      {"test_accuracy", e.test_accuracy},
                      {"seconds", e.seconds},
                      {"step_time_ms", e.step_milliseconds},
                      {"lr", e.lr},
                      {"loss_scale", e.loss_scale},
                      {"skipped_steps", e.skipped_steps}});
    scale_history.push_back(e.loss_scale);
  }
  const TrainOptions& o = args.options;
  return {{"model", o.model},
          {"optimizer", o.optimizer},
          {"epochs_requested", o.epochs},
          {"batch", o.batch},
          {"lr", o.lr},
          {"seed", o.seed},
          {"grad_accum", o.grad_accum},
          {"checkpoint_segments", o.checkpoint_segments},
          {"threads", kernels::num_threads()},
          {"device", args.device},
          {"gemm", args.gemm},
          {"parameters", r.parameters},
          {"steps", r.steps},
          {"test_accuracy", r.test_accuracy},
          {"test_loss", r.test_loss},
          {"seconds", r.seconds},
          {"memory", memory_json(r.memory)},
          {"bytes_per_parameter", bytes_per_parameter(r.memory, r.parameters)},
          {"amp", args.amp.amp.empty() ? "none" : args.amp.amp},
          {"loss_scale", loss_scale_name(args.amp)},
          {"scale_history", scale_history},
          {"skipped_steps", r.skipped_steps},
          {"epochs", epochs}};
}

std::string mib(std::int64_t bytes) {
  return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1 << 20));
}

void run_train(Args& args) {
  if (args.threads != 0) kernels::set_num_threads(args.threads);
  apply_device(args);
  Trainer trainer(args.options, make_precision(args));  // validates the options before any data is read
  args.options = trainer.options();
  const FashionMnist data = load_data(args);
  ProgressBar bar(args.options.epochs);
  const TrainResult result = trainer.fit(
      data, [&](std::int64_t e, std::int64_t s, std::int64_t n, double loss) { bar.update(e, s, n, loss); });
  const nlohmann::json document = result_json(args, result);
  if (!args.metrics.empty()) {
    AtomicFile file(args.metrics);
    const std::string text = document.dump(2) + "\n";
    file.write(text.data(), text.size());
    file.commit();
  }
  if (!args.save.empty()) trainer.save(args.save);
  if (args.json) {
    print_json(document);
    return;
  }
  double train_seconds = 0;  // the steps only, without data loading and evaluation
  for (const EpochMetrics& e : result.epochs) train_seconds += e.seconds;
  std::vector<std::pair<std::string, std::string>> rows{
      {"model", fmt::format("{} ({} parameters)", args.options.model, result.parameters)},
      {"test accuracy", fmt::format("{:.4f}", result.test_accuracy)},
      {"test loss", fmt::format("{:.4f}", result.test_loss)},
      {"time",
       fmt::format("{:.1f} s ({:.2f} ms per training step)", result.seconds,
                   1000.0 * train_seconds / static_cast<double>(std::max<std::int64_t>(result.steps, 1)))}};
  if (!args.amp.amp.empty()) {
    rows.emplace_back("amp", fmt::format("{} (loss scale {}, {} skipped steps)", args.amp.amp,
                                         result.epochs.back().loss_scale, result.skipped_steps));
  }
  for (std::size_t c = 0; c < kMemoryCategoryCount; ++c) {
    if (static_cast<MemoryCategory>(c) == MemoryCategory::master_weights && result.memory.peak[c] == 0)
      continue;
    rows.emplace_back(fmt::format("peak {}", memory_category_name(static_cast<MemoryCategory>(c))),
                      mib(result.memory.peak[c]));
  }
  if (!args.save.empty()) rows.emplace_back("saved", args.save);
  if (!args.metrics.empty()) rows.emplace_back("metrics", args.metrics);
  print_rows(rows);
}

void run_eval(Args& args) {
  if (args.threads != 0) kernels::set_num_threads(args.threads);
  apply_device(args);
  Trainer trainer(args.options);
  trainer.load(args.load, false);
  const FashionMnist data = load_data(args);
  const EvalResult r = trainer.evaluate(data.test);
  if (args.json) {
    print_json({{"model", args.options.model},
                {"checkpoint", args.load},
                {"test_accuracy", r.accuracy},
                {"test_loss", r.loss},
                {"count", r.count}});
    return;
  }
  print_rows({{"model", args.options.model},
              {"checkpoint", args.load},
              {"test accuracy", fmt::format("{:.4f}", r.accuracy)},
              {"test loss", fmt::format("{:.4f}", r.loss)},
              {"images", std::to_string(r.count)}});
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a Fashion-MNIST model (fp32, or mixed precision with --amp) and report accuracy, time, memory");
  add_model_options(*cmd, *args);
  TrainOptions& o = args->options;
  cmd->add_option("--epochs", o.epochs, "passes over the training set")->capture_default_str();
  cmd->add_option("--batch", o.batch, "examples per optimizer step")->capture_default_str();
  cmd->add_option("--lr", o.lr, "learning rate (default: adam/adamw 1e-3, sgd 0.05)");
  cmd->add_option("--optimizer", o.optimizer, "sgd, adam or adamw")->capture_default_str();
  cmd->add_option("--momentum", o.momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "weight decay (default: 0; adamw 0.01)");
  cmd->add_option("--schedule", o.schedule, "constant, step or cosine")->capture_default_str();
  cmd->add_option("--warmup", o.warmup_steps, "linear warmup steps")->capture_default_str();
  cmd->add_option("--clip-norm", o.clip_norm, "clip the global gradient norm (0: off)")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "initialisation, shuffling and dropout seed")->capture_default_str();
  cmd->add_option("--grad-accum", o.grad_accum, "micro-batches per step (must divide --batch)")
      ->capture_default_str();
  cmd->add_option("--checkpoint-segments", o.checkpoint_segments,
                  "activation checkpointing: recompute activations of N segments in backward")
      ->capture_default_str();
  cmd->add_option("--train-limit", o.train_limit, "use only the first N training images (0: all)");
  args->amp.add_to(*cmd, true);
  cmd->add_option("--save", args->save, "write parameters and optimizer state (.safetensors)");
  cmd->add_option("--metrics", args->metrics, "write per-epoch metrics and memory (.json)");
  cmd->footer(
      "Examples:\n"
      "  lowbit train --model mlp --epochs 15 --seed 1\n"
      "  lowbit train --model cnn --optimizer sgd --lr 0.05 --save cnn.safetensors --metrics cnn.json\n"
      "  lowbit train --model mlp --batch 256 --grad-accum 4 --checkpoint-segments 2\n"
      "  lowbit train --model mlp --amp fp16 --loss-scale dynamic --metrics amp.json\n"
      "  lowbit train --model cnn --amp fp8 --fp8-scaling delayed --fp8-history 16\n"
      "  lowbit train --model cnn --device cuda --amp bf16          (lowbit's tensor-core GEMMs)\n"
      "  lowbit train --model cnn --device cuda --amp bf16 --gemm cublas");
  cmd->callback([args] { run_train(*args); });
}

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd =
      app.add_subcommand("eval", "Evaluate a checkpoint saved by `lowbit train --save` on the test set");
  add_model_options(*cmd, *args);
  cmd->add_option("--load", args->load, "checkpoint (.safetensors)")->required();
  cmd->footer("Example:\n  lowbit eval --model mlp --load mlp.safetensors");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace lowbit::cli
