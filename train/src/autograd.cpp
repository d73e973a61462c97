#include "lowbit/train/autograd.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <unordered_map>
#include <unordered_set>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/precision.hpp"

namespace lowbit::train {

namespace {

thread_local bool t_grad_enabled = true;
std::atomic<std::uint64_t> g_sequence{0};

// Nodes reachable from `root`, each after all nodes that consume its output (reverse topological order).
// Shared pointers: releasing a node's inputs during backward must not free nodes still to be visited.
std::vector<std::shared_ptr<Node>> reverse_topological(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> post_order;
  std::unordered_set<Node*> seen;
  // Iterative DFS: deep graphs (long sequences of ops) must not overflow the stack.
  std::vector<std::pair<std::shared_ptr<Node>, std::size_t>> stack{{root, 0}};
  seen.insert(root.get());
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const Tensor& input = node->inputs[next++];
      if (input.defined() && input.grad_fn() && seen.insert(input.grad_fn().get()).second) {
        stack.emplace_back(input.grad_fn(), 0);
      }
      continue;
    }
    post_order.push_back(node);
    stack.pop_back();
  }
  std::reverse(post_order.begin(), post_order.end());
  return post_order;
}

void accumulate(Tensor& slot, const Tensor& value) {
  slot = slot.defined() ? add(slot, value) : value;
}

}  // namespace

bool grad_enabled() {
  return t_grad_enabled;
}

NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) {
  t_grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
  t_grad_enabled = previous_;
}
EnableGradGuard::EnableGradGuard() : previous_(t_grad_enabled) {
  t_grad_enabled = true;
}
EnableGradGuard::~EnableGradGuard() {
  t_grad_enabled = previous_;
}

Tensor record(Tensor output, std::string name, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!t_grad_enabled) return output;
  const bool needed = std::any_of(inputs.begin(), inputs.end(),
                                  [](const Tensor& t) { return t.defined() && t.requires_grad(); });
  if (!needed) return output;
  auto node = std::make_shared<Node>();
  node->name = std::move(name);
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  node->sequence = g_sequence.fetch_add(1);
  output.impl()->requires_grad = true;
  output.impl()->grad_fn = std::move(node);
  return output;
}

void run_backward(const Tensor& root, const Tensor& seed_in) {
  if (!root.requires_grad()) {
    throw RangeError("backward: the tensor does not require grad (no input of its graph requires grad)");
  }
  Tensor seed = seed_in;
  if (!seed.defined()) {
    if (root.numel() != 1) {
      throw ShapeError(fmt::format("backward: a seed gradient is needed for a tensor of shape {}",
                                   shape_string(root.shape())));
    }
    seed = full(root.shape(), 1.0, root.dtype(), root.device());
  } else if (seed.shape() != root.shape()) {
    throw ShapeError(fmt::format("backward: seed shape {} does not match the tensor's shape {}",
                                 shape_string(seed.shape()), shape_string(root.shape())));
  }
  NoGradGuard no_grad;
  // Backward computes in the dtypes the forward chose (each gradient in its tensor's dtype), not under the
  // autocast policy, as in PyTorch; a checkpointed segment reinstalls the forward's policy for its replay.
  PrecisionScope no_policy(nullptr);
  auto accumulate_leaf = [](const Tensor& leaf, const Tensor& g) {
    MemoryCategoryScope scope(MemoryCategory::gradients);
    Tensor current = leaf.grad();
    if (current.defined()) {
      leaf.impl()->grad = add(current, g).impl();
    } else if (g.impl().use_count() == 1 && g.storage().use_count() == 1 && g.is_contiguous() &&
               g.offset() == 0) {
      // A gradient nothing else holds becomes the .grad itself (recharged to gradients): no copy, and no
      // second weight-sized buffer at the backward's peak.
      g.storage()->recharge(MemoryCategory::gradients);
      leaf.impl()->grad = g.impl();
    } else {
      // A fresh contiguous copy, so the .grad never aliases an activation or another leaf's gradient.
      leaf.impl()->grad = clone(g).impl();
    }
  };
  if (!root.grad_fn()) {
    accumulate_leaf(root, seed);
    return;
  }
  std::unordered_map<Node*, Tensor> pending;
  const std::vector<std::shared_ptr<Node>> order = reverse_topological(root.grad_fn());
  pending[order.front().get()] = seed;
  for (const std::shared_ptr<Node>& node : order) {
    auto it = pending.find(node.get());
    if (it == pending.end()) continue;  // no gradient reached this node
    const Tensor grad_output = std::move(it->second);
    pending.erase(it);
    if (!node->backward) {
      throw RangeError(
          fmt::format("backward through '{}' a second time: the graph was released after the "
                      "first backward",
                      node->name));
    }
    std::vector<Tensor> grads = node->backward(grad_output);
    for (std::size_t i = 0; i < node->inputs.size() && i < grads.size(); ++i) {
      const Tensor& input = node->inputs[i];
      if (!input.defined() || !input.requires_grad() || !grads[i].defined()) continue;
      if (grads[i].shape() != input.shape()) {
        throw ShapeError(fmt::format("backward of '{}': gradient {} of input {} has shape {}, the input {}",
                                     node->name, i, i, shape_string(grads[i].shape()),
                                     shape_string(input.shape())));
      }
      if (input.grad_fn()) {
        accumulate(pending[input.grad_fn().get()], grads[i]);
      } else {
        accumulate_leaf(input, grads[i]);
      }
    }
    // Release what the node saved for backward: activations die as soon as they are used.
    node->backward = nullptr;
    node->inputs.clear();
  }
}

}  // namespace lowbit::train
