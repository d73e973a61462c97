// What bench_train_step and bench_train_step_cuda share: a Trainer for one model and AMP mode, and the
// synthetic batch both time (the same as run_train_step*.py give PyTorch).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lowbit/amp/mixed_precision.hpp"
#include "lowbit/train/random.hpp"
#include "lowbit/train/trainer.hpp"

namespace lowbit::bench {

// amp_mode: "fp32" (no AMP), or an `--amp` mode: bf16, fp16 (dynamic loss scaling), fp8.
inline train::Trainer step_trainer(const char* model, const char* amp_mode, std::int64_t batch,
                                   train::Device device) {
  train::TrainOptions options;
  options.model = model;
  options.batch = batch;
  options.device = device;
  options.schedule = "constant";  // steps outside fit(): no epoch count for the cosine default
  std::unique_ptr<train::TrainingPrecision> precision;
  if (std::string(amp_mode) != "fp32") {
    amp::AmpOptions o;
    o.mode = amp::parse_amp_mode(amp_mode);
    precision = std::make_unique<amp::MixedPrecision>(o);
  }
  return train::Trainer(options, std::move(precision));
}

// `batch` images of values in [-0.8, 2.2) and labels in 0..9, from a fixed seed, on the CPU.
struct StepBatch {
  train::Tensor images, labels;
};
inline StepBatch step_batch(std::int64_t batch) {
  train::Rng rng(1);
  std::vector<float> pixels(static_cast<std::size_t>(batch * 784));
  for (float& p : pixels) p = static_cast<float>(rng.next_double() * 3 - 0.8);
  std::vector<double> labels(static_cast<std::size_t>(batch));
  for (double& l : labels) l = static_cast<double>(rng.next_below(10));
  return {train::from_values(pixels, {batch, 1, 28, 28}), train::from_values(labels, {batch}, DType::int32)};
}

}  // namespace lowbit::bench
