// What the trainer asks of a mixed-precision scheme around each optimizer step. train/ declares it and
// amp/ implements it (master weights, loss scaling, the autocast policy), so train/ never depends on amp/
// (DESIGN.md section 2). Without one, the trainer runs plain float32.
#pragma once

#include <cstdint>

#include "lowbit/train/module.hpp"
#include "lowbit/train/optim.hpp"
#include "lowbit/train/precision.hpp"

namespace lowbit::train {

class TrainingPrecision {
 public:
  virtual ~TrainingPrecision() = default;
  // Takes over the model's parameters before the optimizer is built (e.g. keeps float32 masters and turns
  // the parameters into low-precision working copies); returns what the optimizer updates, by the same
  // names.
  virtual NamedTensors attach(Module& model) = 0;
  // Installed while forward passes run (training, evaluation, checkpoint replays).
  virtual const PrecisionPolicy* policy() const = 0;
  // Before the first micro-batch of a step: drops the working gradients and per-step caches.
  virtual void begin_step() = 0;
  // The factor the loss is multiplied by before backward (1 without loss scaling).
  virtual double loss_scale() const = 0;
  // After the step's last backward, once per effective batch: hands the gradients to what the optimizer
  // updates and returns false when one is inf or NaN (the step is then skipped). The trainer multiplies
  // the gradients by 1 / loss_scale() (and a clipping factor) in the optimizer's float32 update.
  virtual bool gradients_finite() = 0;
  // After the optimizer step or its skip: adjusts the loss scale and refreshes the working copies.
  virtual void end_step(bool stepped) = 0;
  // Skipped steps so far.
  virtual std::int64_t skipped_steps() const = 0;
  // State a checkpoint keeps (loss scale, float8 scales and amax histories), as float32 tensors the trainer
  // saves as "amp.<name>" and loads back into; refresh() then re-derives what depends on the masters.
  virtual NamedTensors state() const = 0;
  virtual void refresh() = 0;
};

}  // namespace lowbit::train
