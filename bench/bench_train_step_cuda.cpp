// One AMP training step (forward under autocast, cross-entropy, scaled backward, inf/NaN check, Adam update
// of the fp32 masters) of the Fashion-MNIST MLP and CNN on the GPU (`--device cuda`), on a fixed batch
// already on the device, for comparison with PyTorch AMP (torch.autocast + GradScaler) by
// run_train_step_cuda.py. Each step ends with the loss on the host (Trainer::step returns it), so the time is
// the device's too. Never run by the test suite.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "lowbit/train/device.hpp"
#include "train_step_setup.hpp"

namespace {

using namespace lowbit;
using namespace lowbit::train;

// range(0): batch; the model, AMP mode and GEMM come from the benchmark's name.
void train_step(benchmark::State& state, const char* model, const char* amp_mode, CudaGemm gemm) {
  set_cuda_gemm(gemm);
  Trainer trainer = bench::step_trainer(model, amp_mode, state.range(0), Device::cuda);
  const bench::StepBatch batch = bench::step_batch(state.range(0));
  const Tensor x = to_device(batch.images, Device::cuda);
  const Tensor y = to_device(batch.labels, Device::cuda);
  for (int i = 0; i < 5; ++i) trainer.step(x, y);  // warm-up: allocator cache, cuBLAS handle, modules
  for (auto _ : state) benchmark::DoNotOptimize(trainer.step(x, y));
  state.counters["examples_per_s"] =
      benchmark::Counter(static_cast<double>(state.range(0)), benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  for (const char* model : {"mlp", "cnn"}) {
    for (const char* amp : {"bf16", "fp16", "fp32"}) {
      for (CudaGemm gemm : {CudaGemm::lowbit, CudaGemm::cublas}) {
        if (std::string(amp) == "fp32" && gemm == CudaGemm::cublas) continue;  // fp32 is cuBLAS either way
        const std::string name = std::string("train_step_cuda/") +
                                 (gemm == CudaGemm::lowbit ? "lowbit" : "cublas") + "/" + model + "/" + amp;
        benchmark::RegisterBenchmark(name.c_str(), train_step, model, amp, gemm)
            ->Arg(64)
            ->Arg(256)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->MinTime(0.5);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string why;
  if (!device_available(Device::cuda, &why)) {
    std::fprintf(stderr, "bench_train_step_cuda: no CUDA device: %s\n", why.c_str());
    return 2;
  }
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
