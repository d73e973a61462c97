// One training step (forward, cross-entropy, backward, Adam update) of the Fashion-MNIST MLP and CNN on a
// fixed batch, for comparison with PyTorch on the same model, batch and thread count (run_train_step.py).
// Never run by the test suite.
#include <benchmark/benchmark.h>

#include "lowbit/kernels/gemm.hpp"
#include "lowbit/train/random.hpp"
#include "lowbit/train/trainer.hpp"

namespace {

using namespace lowbit;
using namespace lowbit::train;

void train_step(benchmark::State& state, const char* model) {
  kernels::set_num_threads(2);
  TrainOptions options;
  options.model = model;
  options.batch = state.range(0);
  Trainer trainer(options);
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

BENCHMARK_CAPTURE(train_step, mlp, "mlp")
    ->Name("train_step/lowbit/mlp")
    ->Arg(64)
    ->Arg(256)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(train_step, cnn, "cnn")
    ->Name("train_step/lowbit/cnn")
    ->Arg(64)
    ->Arg(256)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
