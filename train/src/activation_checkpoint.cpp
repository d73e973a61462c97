#include "lowbit/train/activation_checkpoint.hpp"

#include "lowbit/train/autograd.hpp"
#include "lowbit/train/precision.hpp"
#include "lowbit/train/random.hpp"

namespace lowbit::train {

Tensor checkpoint(std::function<Tensor(const Tensor&)> segment, const Tensor& x,
                  const std::vector<Tensor>& parameters) {
  if (!grad_enabled()) return segment(x);
  const RngState rng_state = default_rng().state();
  const PrecisionPolicy* policy = current_precision_policy();
  Tensor y;
  {
    NoGradGuard no_grad;  // no graph inside the segment: its activations are freed as the forward goes
    y = segment(x);
  }
  std::vector<Tensor> inputs{x};
  inputs.insert(inputs.end(), parameters.begin(), parameters.end());
  const bool x_needs_grad = x.requires_grad();
  return record(y, "checkpoint", inputs,
                [segment = std::move(segment), x = x.detach(), rng_state, policy, x_needs_grad,
                 count = inputs.size()](const Tensor& g) {
                  // Replay the forward with the forward's RNG state and policy, this time recording a graph,
                  // and differentiate it; the caller's RNG stream continues where it was.
                  const RngState resume = default_rng().state();
                  default_rng().set_state(rng_state);
                  Tensor input = x.detach();
                  if (x_needs_grad) input.set_requires_grad(true);
                  Tensor out;
                  {
                    PrecisionScope scope(policy);
                    EnableGradGuard grad_on;
                    out = segment(input);
                  }
                  default_rng().set_state(resume);
                  if (out.requires_grad()) out.backward(g);
                  std::vector<Tensor> grads(count);
                  if (x_needs_grad) grads[0] = input.grad();
                  return grads;  // parameters received their gradients in out.backward
                });
}

}  // namespace lowbit::train
