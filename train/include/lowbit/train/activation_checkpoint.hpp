// Activation checkpointing: run a segment without keeping its intermediate activations, and recompute them
// in backward. The recompute sees the same precision policy and the same RNG state (dropout masks) as the
// forward did, so its results, and therefore the gradients, are identical.
#pragma once

#include <functional>
#include <vector>

#include "lowbit/train/tensor.hpp"

namespace lowbit::train {

// y = segment(x), keeping only x (and the segment's parameters, which live anyway). `parameters` are the
// tensors the segment reads that need gradients; their .grad is accumulated during the recompute.
Tensor checkpoint(std::function<Tensor(const Tensor&)> segment, const Tensor& x,
                  const std::vector<Tensor>& parameters);

}  // namespace lowbit::train
