// Reverse-mode automatic differentiation. Every differentiable op records a Node while grad mode is on and an
// input requires grad; Tensor::backward walks the nodes in reverse topological order, sums the gradients
// arriving from all consumers of a tensor, and accumulates into the .grad of leaves that require grad.
// Backward functions run with grad mode off and are written with the same ops as the forward.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lowbit/train/tensor.hpp"

namespace lowbit::train {

// Gradients of the inputs, in the order of Node::inputs; an undefined Tensor where no gradient flows.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  std::string name;            // the op, for error messages and debugging
  std::vector<Tensor> inputs;  // the op's tensor inputs (undefined where not differentiable)
  BackwardFn backward;         // captures only detached tensors, so the graph has no cycles
  std::uint64_t sequence = 0;  // creation order; ties in the topological order break by it
};

bool grad_enabled();

// Turns recording off while it lives (evaluation, optimizer updates, backward functions).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Turns recording on while it lives (the recompute of activation checkpointing runs inside backward).
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

// Records `output = op(inputs)` when grad mode is on and some input requires grad; returns `output`.
Tensor record(Tensor output, std::string name, std::vector<Tensor> inputs, BackwardFn backward);

// Differentiates `root` (seed: the gradient of the final result with respect to root; default 1 for a
// one-element root). The graph is released afterwards. Throws ShapeError when the seed does not match.
void run_backward(const Tensor& root, const Tensor& seed);

}  // namespace lowbit::train
