// One training step (forward, cross-entropy, backward, Adam update) of the Fashion-MNIST MLP and CNN on a
// fixed batch, in fp32 and under AMP (bf16; fp16 with dynamic loss scaling: fp32 masters, 16-bit working
// copies, the inf/NaN check), for comparison with PyTorch on the same model, batch and thread count
// (run_train_step.py: torch.autocast("cpu") + GradScaler). Never run by the test suite.
#include <benchmark/benchmark.h>

#include <string>

#include "lowbit/kernels/gemm.hpp"
#include "train_step_setup.hpp"

namespace {

using namespace lowbit;
using namespace lowbit::train;

// range(0): batch; the model and AMP mode come from the benchmark's name.
void train_step(benchmark::State& state, const char* model, const char* amp_mode) {
  kernels::set_num_threads(2);
  Trainer trainer = bench::step_trainer(model, amp_mode, state.range(0), Device::cpu);
  const bench::StepBatch batch = bench::step_batch(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(trainer.step(batch.images, batch.labels));
  state.counters["examples_per_s"] =
      benchmark::Counter(static_cast<double>(state.range(0)), benchmark::Counter::kIsIterationInvariantRate);
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
