// Optimizers over named float32 parameters: SGD (momentum, Nesterov), Adam and AdamW with the papers'
// defaults, L2 weight decay (SGD, Adam) or decoupled (AdamW), and global-norm gradient clipping. Updates
// run without autograd; optimizer state is charged to MemoryCategory::optimizer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lowbit/train/tensor.hpp"

namespace lowbit::train {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  explicit Optimizer(NamedTensors parameters, double lr);
  virtual ~Optimizer() = default;
  // One update from the parameters' .grad (parameters without a gradient are skipped).
  void step();
  // Drops every parameter's .grad (the next backward starts a new sum).
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  std::int64_t steps() const { return steps_; }

  // The state a checkpoint saves, named "<parameter>.<slot>" (e.g. "0.weight.exp_avg"); a checkpoint loader
  // writes into these tensors and restores the step count with set_steps.
  virtual NamedTensors state() const = 0;
  void set_steps(std::int64_t steps) { steps_ = steps; }
  // Every gradient is multiplied by `m` (in float32) before the updates of the following steps: the AMP
  // layer's 1 / loss scale and a clipping factor, applied without rewriting low-precision gradients.
  // Gradients may be in any float dtype (bfloat16 and float16 under AMP); each is widened to float32 for
  // its update only.
  void set_gradient_multiplier(double m) { gradient_multiplier_ = m; }
  double gradient_multiplier() const { return gradient_multiplier_; }
  virtual std::string_view name() const = 0;

 protected:
  // Updates parameter i (float32, contiguous) from its gradient.
  virtual void update(std::size_t i, float* param, const float* grad, std::int64_t n) = 0;
  // The same update for a parameter on a GPU: `grad` in its own dtype, multiplied by `multiplier` in the
  // device kernel (no widened copy).
  virtual void update_on_device(std::size_t i, const Tensor& param, const Tensor& grad,
                                double multiplier) = 0;
  // Zeroed float32 state tensor shaped like parameter i (charged to the optimizer category).
  Tensor make_state(std::size_t i) const;
  const NamedTensors& parameters() const { return parameters_; }
  std::int64_t steps_ = 0;

 private:
  NamedTensors parameters_;
  double lr_;
  double gradient_multiplier_ = 1.0;
};

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;  // L2: added to the gradient
};

class Sgd final : public Optimizer {
 public:
  Sgd(NamedTensors parameters, SgdOptions options);
  NamedTensors state() const override;
  std::string_view name() const override { return "sgd"; }

 private:
  void update(std::size_t i, float* param, const float* grad, std::int64_t n) override;
  void update_on_device(std::size_t i, const Tensor& param, const Tensor& grad, double multiplier) override;
  SgdOptions options_;
  std::vector<Tensor> momentum_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // true: AdamW (Loshchilov & Hutter), decay applied to the weights
};

class Adam final : public Optimizer {
 public:
  Adam(NamedTensors parameters, AdamOptions options);
  NamedTensors state() const override;
  std::string_view name() const override { return options_.decoupled_weight_decay ? "adamw" : "adam"; }

 private:
  void update(std::size_t i, float* param, const float* grad, std::int64_t n) override;
  void update_on_device(std::size_t i, const Tensor& param, const Tensor& grad, double multiplier) override;
  AdamOptions options_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
};

// Scales every gradient so their global L2 norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm);
// The global L2 norm of the parameters' gradients (any float dtype), accumulated in double.
double grad_norm(const std::vector<Tensor>& parameters);

// "sgd", "adam" or "adamw" with the given learning rate, weight decay and (SGD) momentum; paper defaults
// otherwise (AdamW's weight decay 0.01 when weight_decay < 0). Throws RangeError for other names.
std::unique_ptr<Optimizer> make_optimizer(std::string_view name, NamedTensors parameters, double lr,
                                          double weight_decay, double momentum);

}  // namespace lowbit::train
