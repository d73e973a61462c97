// One training step (forward, cross-entropy, backward, Adam update) of the Fashion-MNIST MLP and CNN on a
// fixed batch, in fp32 and under AMP (bf16; fp16 with dynamic loss scaling: fp32 masters, 16-bit working
// copies, the inf/NaN check), for comparison with PyTorch on the same model, batch and thread count
// (run_train_step.py: torch.autocast("cpu") + GradScaler). Never run by the test suite.
#include <benchmark/benchmark.h>

#include <string>

#include "lowbit/amp/mixed_precision.hpp"
#include "lowbit/kernels/gemm.hpp"
#include "lowbit/train/random.hpp"
#include "lowbit/train/trainer.hpp"

namespace {

using namespace lowbit;
using namespace lowbit::train;

// range(0): batch; the model and AMP mode come from the benchmark's name.
void train_step(benchmark::State& state, const char* model, const char* amp_mode) {
  kernels::set_num_threads(2);
  TrainOptions options;
  options.model = model;
  options.batch = state.range(0);
  options.schedule = "constant";  // steps outside fit(): no epoch count for the cosine default
  std::unique_ptr<TrainingPrecision> precision;
  if (std::string(amp_mode) != "fp32") {
    amp::AmpOptions o;
    o.mode = amp::parse_amp_mode(amp_mode);
    precision = std::make_unique<amp::MixedPrecision>(o);
  }
  Trainer trainer(options, std::move(precision));
  Rng rng(1);
  std::vector<float> pixels(static_cast<std::size_t>(options.batch * 784));
  for (float& p : pixels) p = static_cast<float>(rng.next_double() * 3 - 0.8);
  std::vector<double> labels(static_cast<std::size_t>(options.batch));
  for (double& l : labels) l = static_cast<double>(rng.next_below(10));
  const Tensor x = from_values(pixels, {options.batch, 1, 28, 28});
  const Tensor y = from_values(labels, {options.batch}, DType::int32);
  for (auto _ : state) benchmark::DoNotOptimize(trainer.step(x, y));
  state.counters["examples_per_s"] =
      benchmark::Counter(static_cast<double>(options.batch), benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  for (const char* model : {"mlp", "cnn"}) {
    for (const char* amp : {"fp32", "bf16", "fp16"}) {
      const std::string name = std::string("train_step/lowbit/") + model + "/" + amp;
      benchmark::RegisterBenchmark(name.c_str(), train_step, model, amp)
          ->Arg(64)
          ->Arg(256)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
