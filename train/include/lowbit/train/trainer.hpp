// The training loop behind `lowbit train`: Fashion-MNIST batches, forward, cross-entropy, backward with
// gradient accumulation over micro-batches and optional activation checkpointing, optimizer step with a
// schedule and gradient clipping, evaluation, per-epoch metrics and memory by category.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lowbit/train/dataset.hpp"
#include "lowbit/train/memory.hpp"
#include "lowbit/train/module.hpp"
#include "lowbit/train/optim.hpp"
#include "lowbit/train/schedule.hpp"
#include "lowbit/train/training_precision.hpp"

namespace lowbit::train {

struct TrainOptions {
  std::string model = "mlp";  // mlp | cnn
  std::int64_t epochs = 15;
  std::int64_t batch = 64;         // effective batch (split into grad_accum micro-batches)
  double lr = 0.0;                 // 0: the optimizer's default (adam/adamw 1e-3, sgd 0.05)
  std::string optimizer = "adam";  // sgd | adam | adamw
  double momentum = 0.9;           // sgd
  double weight_decay = -1.0;      // < 0: the optimizer's default (0; adamw 0.01)
  // constant | step | cosine. Cosine by default: with a constant rate the last epochs' test accuracy
  // wanders by 0.3-0.5 points from one epoch to the next (Adam, Fashion-MNIST MLP), which hides the effect
  // of anything else, such as the precision; annealed to zero, the last epochs agree within about 0.1 and
  // the fp32 MLP ends higher (15 epochs, seed 1: 0.9033 against 0.8952).
  std::string schedule = "cosine";
  std::int64_t warmup_steps = 0;
  double clip_norm = 0.0;  // > 0: clip the global gradient norm
  std::uint64_t seed = 1;
  std::int64_t grad_accum = 1;
  std::int64_t checkpoint_segments = 1;
  std::int64_t train_limit = 0;  // > 0: use only the first N training images (quick runs, tests)
  std::int64_t eval_batch = 1000;
  // Where the model, its gradients and the optimizer state live and every op runs (batches are copied
  // there per step); cuda needs a CUDA build and a GPU.
  Device device = Device::cpu;

  // Throws RangeError naming the option and value for nonsense (epochs < 1, batch not divisible by
  // grad_accum, lr < 0, unknown names, ...).
  void validate() const;
};

struct EpochMetrics {
  std::int64_t epoch = 0;
  double train_loss = 0, test_loss = 0, test_accuracy = 0;
  double seconds = 0;            // wall time of the epoch's training steps
  double step_milliseconds = 0;  // mean time of one optimizer step (all its micro-batches)
  double lr = 0;                 // at the end of the epoch
  // Mixed precision: the loss scale at the end of the epoch (1 without scaling) and the steps the epoch
  // skipped for inf/NaN gradients.
  double loss_scale = 1;
  std::int64_t skipped_steps = 0;
};

struct MemoryReport {
  // Bytes per category (index: MemoryCategory): live at the end of training, and the peak during any step.
  std::array<std::int64_t, kMemoryCategoryCount> live{}, peak{};
  std::int64_t peak_total = 0;
};

struct TrainResult {
  std::vector<EpochMetrics> epochs;
  double test_accuracy = 0, test_loss = 0;
  double seconds = 0;
  std::int64_t parameters = 0;
  std::int64_t steps = 0;
  std::int64_t skipped_steps = 0;
  MemoryReport memory;
};

struct EvalResult {
  double loss = 0, accuracy = 0;
  std::int64_t count = 0;
};

// Called after every optimizer step: epoch (1-based), step within the epoch, steps per epoch, the step's
// loss.
using ProgressFn =
    std::function<void(std::int64_t epoch, std::int64_t step, std::int64_t steps, double loss)>;

// A batch of images as the models take it: [n, 1, rows, cols] float32, pixels scaled to [0, 1] and
// standardised with Fashion-MNIST's mean and standard deviation.
Tensor image_batch(const ImageDataset& data, const std::vector<std::int64_t>& indices, std::int64_t begin,
                   std::int64_t end);
Tensor label_batch(const ImageDataset& data, const std::vector<std::int64_t>& indices, std::int64_t begin,
                   std::int64_t end);

class Trainer {
 public:
  // `precision` (amp/) takes over the parameters and runs the steps in mixed precision; null: float32.
  explicit Trainer(TrainOptions options, std::unique_ptr<TrainingPrecision> precision = nullptr);
  Module& model() { return *model_; }
  Optimizer& optimizer() { return *optimizer_; }
  // What the optimizer updates: the model's parameters, or their float32 masters under mixed precision.
  const NamedTensors& trained_parameters() const { return parameters_; }
  const TrainOptions& options() const { return options_; }

  // One optimizer step on the given examples (split into grad_accum micro-batches); returns the mean loss.
  double step(const Tensor& images, const Tensor& labels);
  TrainResult fit(const FashionMnist& data, const ProgressFn& progress = {});
  EvalResult evaluate(const ImageDataset& data);

  // Parameters (the float32 masters under mixed precision) as "model.<name>", optimizer state as
  // "optimizer.<name>.<slot>", mixed-precision state as "amp.<name>", and metadata naming the model,
  // optimizer and step, written atomically.
  void save(const std::filesystem::path& path) const;
  // Loads parameters (and, with `with_optimizer`, optimizer state) saved by save(); throws FileError or
  // ShapeError naming the file and the tensor when the checkpoint does not fit this model.
  void load(const std::filesystem::path& path, bool with_optimizer);

 private:
  TrainOptions options_;
  std::shared_ptr<Sequential> model_;
  std::unique_ptr<TrainingPrecision> precision_;
  NamedTensors parameters_;  // what the optimizer updates: the model's parameters or their masters
  std::unique_ptr<Optimizer> optimizer_;
  Schedule schedule_;
  MemoryReport memory_;
};

}  // namespace lowbit::train
