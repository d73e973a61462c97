#include "lowbit/train/optim.hpp"

#include <fmt/format.h>

#include <cmath>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "cuda_hooks.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/autograd.hpp"
#include "strided.hpp"

namespace lowbit::train {

Optimizer::Optimizer(NamedTensors parameters, double lr) : parameters_(std::move(parameters)), lr_(lr) {
  for (const auto& [name, p] : parameters_) {
    if (p.dtype() != DType::float32 || !p.is_contiguous()) {
      throw RangeError(fmt::format("optimizer: parameter '{}' must be a contiguous float32 tensor, not {}",
                                   name, dtype_name(p.dtype())));
    }
  }
}

namespace {

// Flush-to-zero and denormals-are-zero while the guard lives (x86 MXCSR), restored afterwards. Moment
// estimates of parameters whose gradient stays zero (the always-black border pixels of Fashion-MNIST) decay
// geometrically into the subnormal range, where arithmetic takes microcode assists: an Adam update over
// 535,818 subnormal moments took 41 ms instead of 0.58 ms on the development machine (0.93 ms with this
// guard), and the MLP's step time grew from 5.9 to 9.6 ms over 15 epochs. Values below 2^-126 are
// irrelevant to an update, so they become zero. Only the optimizer runs under it: conversions elsewhere
// must see subnormals as they are.
class FlushSubnormals {
 public:
#if defined(__SSE2__)
  FlushSubnormals() : saved_(_mm_getcsr()) {
    _mm_setcsr(saved_ | 0x8040);
  }  // FTZ (bit 15) | DAZ (bit 6)
  ~FlushSubnormals() {
    _mm_setcsr(saved_);
  }

 private:
  unsigned saved_;
#endif
};

}  // namespace

void Optimizer::step() {
  NoGradGuard no_grad;
  const FlushSubnormals flush;
  ++steps_;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& p = parameters_[i].second;
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    if (p.device() != Device::cpu) {
      update_on_device(i, p, g, gradient_multiplier_);
      continue;
    }
    // A low-precision gradient (the working copy's, under AMP) or a multiplier (the loss scale's inverse,
    // a clipping factor) gives a float32 temporary for this parameter only: no gradient-sized float32
    // buffer outlives its update.
    Tensor gc = contiguous(g);
    if (gc.dtype() != DType::float32 || gradient_multiplier_ != 1.0) {
      MemoryCategoryScope scope(MemoryCategory::gradients);
      gc = g.dtype() == DType::float32 ? clone(gc) : cast(gc, DType::float32);
      if (gradient_multiplier_ != 1.0) {
        float* d = gc.data<float>();
        const auto m = static_cast<float>(gradient_multiplier_);
        const std::int64_t n = gc.numel();
        for (std::int64_t e = 0; e < n; ++e) d[e] *= m;
      }
    }
    update(i, p.data<float>(), gc.data<float>(), p.numel());
  }
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : parameters_) p.set_grad(Tensor());
}

Tensor Optimizer::make_state(std::size_t i) const {
  MemoryCategoryScope scope(MemoryCategory::optimizer);
  return zeros(parameters_[i].second.shape(), DType::float32, parameters_[i].second.device());
}

Sgd::Sgd(NamedTensors parameters, SgdOptions options)
    : Optimizer(std::move(parameters), options.lr), options_(options) {
  if (options.momentum < 0 || options.weight_decay < 0 || (options.nesterov && options.momentum == 0)) {
    throw RangeError(
        fmt::format("sgd: momentum {} and weight decay {} must be >= 0; Nesterov needs momentum > 0",
                    options.momentum, options.weight_decay));
  }
  if (options.momentum > 0) {
    for (std::size_t i = 0; i < this->parameters().size(); ++i) momentum_.push_back(make_state(i));
  }
}

void Sgd::update(std::size_t i, float* param, const float* grad, std::int64_t n) {
  const auto lr = static_cast<float>(this->lr()), wd = static_cast<float>(options_.weight_decay),
             mu = static_cast<float>(options_.momentum);
  // PyTorch's formulation: buf = mu * buf + g (the first step sets buf = g); Nesterov uses g + mu * buf.
  float* buf = momentum_.empty() ? nullptr : momentum_[i].data<float>();
  const bool first = steps_ == 1;
  for (std::int64_t e = 0; e < n; ++e) {
    float g = grad[e] + wd * param[e];
    if (buf) {
      buf[e] = first ? g : mu * buf[e] + g;
      g = options_.nesterov ? g + mu * buf[e] : buf[e];
    }
    param[e] -= lr * g;
  }
}

void Sgd::update_on_device(std::size_t i, const Tensor& param, const Tensor& grad, double multiplier) {
  const kernels::cuda::SgdStep step{static_cast<float>(lr()), static_cast<float>(options_.weight_decay),
                                    static_cast<float>(options_.momentum), steps_ == 1, options_.nesterov};
  detail::cuda_ops().sgd_update(param, grad, multiplier, momentum_.empty() ? Tensor() : momentum_[i], step);
}

NamedTensors Sgd::state() const {
  NamedTensors out;
  for (std::size_t i = 0; i < momentum_.size(); ++i)
    out.emplace_back(parameters()[i].first + ".momentum", momentum_[i]);
  return out;
}

Adam::Adam(NamedTensors parameters, AdamOptions options)
    : Optimizer(std::move(parameters), options.lr), options_(options) {
  if (options.beta1 < 0 || options.beta1 >= 1 || options.beta2 < 0 || options.beta2 >= 1 ||
      options.eps <= 0 || options.weight_decay < 0) {
    throw RangeError(fmt::format("adam: betas ({}, {}) must be in [0, 1), eps {} > 0, weight decay {} >= 0",
                                 options.beta1, options.beta2, options.eps, options.weight_decay));
  }
  for (std::size_t i = 0; i < this->parameters().size(); ++i) {
    exp_avg_.push_back(make_state(i));
    exp_avg_sq_.push_back(make_state(i));
  }
}

namespace {

// The Adam update of n elements, compiled twice (AVX-512 and the baseline) and picked at load time: the
// library is built for baseline x86-64, where this loop runs four lanes at a time (12% of an MLP step).
// PyTorch's form: p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
__attribute__((target_clones("avx512f", "default"))) void adam_elements(
    float* __restrict param, const float* __restrict grad, float* __restrict m, float* __restrict v,
    std::int64_t n, float b1, float b2, float l2, float step_size, float bias2_sqrt, float eps) {
  for (std::int64_t e = 0; e < n; ++e) {
    const float g = grad[e] + l2 * param[e];
    m[e] = b1 * m[e] + (1 - b1) * g;
    v[e] = b2 * v[e] + (1 - b2) * g * g;
    param[e] -= step_size * m[e] / (std::sqrt(v[e]) / bias2_sqrt + eps);
  }
}

}  // namespace

void Adam::update(std::size_t i, float* param, const float* grad, std::int64_t n) {
  const double t = static_cast<double>(steps_);
  const auto b1 = static_cast<float>(options_.beta1), b2 = static_cast<float>(options_.beta2);
  const auto step_size = static_cast<float>(lr() / (1 - std::pow(options_.beta1, t)));
  const auto bias2_sqrt = static_cast<float>(std::sqrt(1 - std::pow(options_.beta2, t)));
  const auto eps = static_cast<float>(options_.eps), wd = static_cast<float>(options_.weight_decay);
  const auto decay = static_cast<float>(1 - lr() * options_.weight_decay);
  // Decay first, in its own loop, so the update loop has no branch and vectorises.
  const bool decoupled = options_.decoupled_weight_decay;
  const float l2 = decoupled ? 0.0f : wd;
  float* m = exp_avg_[i].data<float>();
  float* v = exp_avg_sq_[i].data<float>();
  // Elementwise, so splitting the elements across the kernels' threads changes no value.
  detail::parallel_items(n, [&](std::int64_t begin, std::int64_t end) {
    if (decoupled) {
      for (std::int64_t e = begin; e < end; ++e) param[e] *= decay;
    }
    adam_elements(param + begin, grad + begin, m + begin, v + begin, end - begin, b1, b2, l2, step_size,
                  bias2_sqrt, eps);
  });
}

void Adam::update_on_device(std::size_t i, const Tensor& param, const Tensor& grad, double multiplier) {
  const double t = static_cast<double>(steps_);
  kernels::cuda::AdamStep step{};
  step.beta1 = static_cast<float>(options_.beta1);
  step.beta2 = static_cast<float>(options_.beta2);
  step.step_size = static_cast<float>(lr() / (1 - std::pow(options_.beta1, t)));
  step.bias2_sqrt = static_cast<float>(std::sqrt(1 - std::pow(options_.beta2, t)));
  step.eps = static_cast<float>(options_.eps);
  step.decay = options_.decoupled_weight_decay ? static_cast<float>(1 - lr() * options_.weight_decay) : 1.0f;
  step.l2 = options_.decoupled_weight_decay ? 0.0f : static_cast<float>(options_.weight_decay);
  detail::cuda_ops().adam_update(param, grad, multiplier, exp_avg_[i], exp_avg_sq_[i], step);
}

NamedTensors Adam::state() const {
  NamedTensors out;
  for (std::size_t i = 0; i < exp_avg_.size(); ++i) {
    out.emplace_back(parameters()[i].first + ".exp_avg", exp_avg_[i]);
    out.emplace_back(parameters()[i].first + ".exp_avg_sq", exp_avg_sq_[i]);
  }
  return out;
}

double grad_norm(const std::vector<Tensor>& parameters) {
  if (!parameters.empty() && detail::on_cuda(parameters.front())) {
    std::vector<Tensor> grads;
    for (const Tensor& p : parameters) grads.push_back(p.grad());
    return std::sqrt(detail::cuda_ops().sum_squares(grads));
  }
  double total = 0;
  for (const Tensor& p : parameters) {
    if (!p.grad().defined()) continue;
    if (p.grad().dtype() == DType::float64) {
      for (double g : p.grad().to_vector()) total += g * g;
      continue;
    }
    // Others are widened through float32 (exact for bfloat16/float16, and the SIMD conversion pair; float64
    // through to_vector would take the scalar engine: 0.2 s for the MLP's float16 gradients).
    const Tensor g = contiguous(cast(p.grad().detach(), DType::float32));
    const float* d = g.data<float>();
    const std::int64_t n = g.numel();
    for (std::int64_t e = 0; e < n; ++e) total += static_cast<double>(d[e]) * d[e];
  }
  return std::sqrt(total);
}

double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm) {
  if (!(max_norm > 0)) throw RangeError(fmt::format("clip_grad_norm: max_norm {} must be > 0", max_norm));
  const double norm = grad_norm(parameters);
  if (norm > max_norm) {
    const auto scale = static_cast<float>(max_norm / (norm + 1e-6));
    for (const Tensor& p : parameters) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      if (!g.is_contiguous()) {
        g = clone(g);
        p.impl()->grad = g.impl();
      }
      if (detail::on_cuda(g)) {
        detail::cuda_ops().scale_in_place(g, scale);
        continue;
      }
      float* d = g.data<float>();
      const std::int64_t n = g.numel();
      for (std::int64_t e = 0; e < n; ++e) d[e] *= scale;
    }
  }
  return norm;
}

std::unique_ptr<Optimizer> make_optimizer(std::string_view name, NamedTensors parameters, double lr,
                                          double weight_decay, double momentum) {
  if (name == "sgd") {
    return std::make_unique<Sgd>(std::move(parameters),
                                 SgdOptions{lr, momentum, false, std::max(weight_decay, 0.0)});
  }
  if (name == "adam") {
    return std::make_unique<Adam>(std::move(parameters),
                                  AdamOptions{lr, 0.9, 0.999, 1e-8, std::max(weight_decay, 0.0), false});
  }
  if (name == "adamw") {
    return std::make_unique<Adam>(
        std::move(parameters),
        AdamOptions{lr, 0.9, 0.999, 1e-8, weight_decay < 0 ? 0.01 : weight_decay, true});
  }
  throw RangeError(fmt::format("unknown optimizer '{}'; use sgd, adam or adamw", name));
}

}  // namespace lowbit::train
