// The autocast policy: its default lists against PyTorch's documented CUDA lists, the dtypes ops run in
// under the guard, edits from code and JSON, the per-step cast cache, and checkpoint replays.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "lowbit/amp/autocast.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/train/activation_checkpoint.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/layers.hpp"
#include "lowbit/train/nn_ops.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/view_ops.hpp"

using namespace lowbit;
using namespace lowbit::train;
using lowbit::amp::AutocastGuard;
using lowbit::amp::AutocastPolicy;
using lowbit::amp::OpList;

namespace {

// The torch.amp documentation's "CUDA Ops that can autocast to float16" and "CUDA Ops that can autocast to
// float32" (PyTorch 2.x, Autocast Op Reference), spelled as lowbit names its ops where they coincide
// (cross_entropy is PyTorch's cross_entropy / nll_loss pair).
const std::set<std::string> kTorchLowPrecision{"__matmul__",
                                               "addbmm",
                                               "addmm",
                                               "addmv",
                                               "addr",
                                               "baddbmm",
                                               "bmm",
                                               "chain_matmul",
                                               "multi_dot",
                                               "conv1d",
                                               "conv2d",
                                               "conv3d",
                                               "conv_transpose1d",
                                               "conv_transpose2d",
                                               "conv_transpose3d",
                                               "GRUCell",
                                               "linear",
                                               "LSTMCell",
                                               "matmul",
                                               "mm",
                                               "mv",
                                               "prelu",
                                               "RNNCell",
                                               "scaled_dot_product_attention"};
const std::set<std::string> kTorchFloat32{"__pow__",
                                          "__rdiv__",
                                          "__rpow__",
                                          "__rtruediv__",
                                          "acos",
                                          "asin",
                                          "binary_cross_entropy_with_logits",
                                          "cosh",
                                          "cosine_embedding_loss",
                                          "cdist",
                                          "cosine_similarity",
                                          "cross_entropy",
                                          "cumprod",
                                          "cumsum",
                                          "dist",
                                          "erfinv",
                                          "exp",
                                          "expm1",
                                          "group_norm",
                                          "hinge_embedding_loss",
                                          "kl_div",
                                          "l1_loss",
                                          "layer_norm",
                                          "log",
                                          "log_softmax",
                                          "log10",
                                          "log1p",
                                          "log2",
                                          "margin_ranking_loss",
                                          "mse_loss",
                                          "multilabel_margin_loss",
                                          "multi_margin_loss",
                                          "nll_loss",
                                          "norm",
                                          "normalize",
                                          "pdist",
                                          "poisson_nll_loss",
                                          "pow",
                                          "prod",
                                          "reciprocal",
                                          "rsqrt",
                                          "sinh",
                                          "smooth_l1_loss",
                                          "soft_margin_loss",
                                          "softmax",
                                          "softmin",
                                          "softplus",
                                          "sum",
                                          "renorm",
                                          "tan",
                                          "triplet_margin_loss"};

std::set<std::string> restricted_to_lowbit(const std::set<std::string>& torch_ops) {
  std::set<std::string> out;
  for (const std::string& op : amp::known_ops()) {
    if (torch_ops.count(op)) out.insert(op);
  }
  return out;
}

Tensor param(const Shape& shape, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (double& x : v) x = rng.next_double() - 0.5;
  Tensor t = from_values(v, shape);
  t.set_requires_grad(true);
  return t;
}

}  // namespace

TEST_CASE("the default lists are PyTorch's CUDA autocast lists restricted to lowbit's ops", "[amp]") {
  const AutocastPolicy policy;
  CHECK(policy.dtype() == DType::bfloat16);
  CHECK(policy.ops(OpList::allow) == restricted_to_lowbit(kTorchLowPrecision));
  CHECK(policy.ops(OpList::deny) == restricted_to_lowbit(kTorchFloat32));
  // Promote: PyTorch's cat, and the type-promoting binary arithmetic.
  CHECK(policy.ops(OpList::promote) == std::set<std::string>{"add", "concat", "div", "mul", "sub"});
}

TEST_CASE("under the guard allowed ops run in bfloat16, denied ops in float32, and leaving restores float32",
          "[amp]") {
  const AutocastPolicy policy;
  const Tensor x = param({4, 8}, 1).detach(), w = param({3, 8}, 2);
  {
    AutocastGuard guard(policy);
    const Tensor y = linear(x, w, Tensor());
    CHECK(y.dtype() == DType::bfloat16);
    CHECK(relu(y).dtype() == DType::bfloat16);    // on no list: its input's dtype
    CHECK(softmax(y).dtype() == DType::float32);  // deny
    CHECK(cross_entropy(y, from_values(std::vector<double>{0, 1, 2, 0}, {4}, DType::int32)).dtype() ==
          DType::float32);
    CHECK(add(y, softmax(y)).dtype() == DType::float32);  // promote: the widest input
    CHECK(matmul(x, transpose(w, 0, 1)).dtype() == DType::bfloat16);
    // float64 is left alone, as PyTorch's autocast leaves it.
    CHECK(matmul(cast(x, DType::float64), cast(transpose(w, 0, 1), DType::float64)).dtype() ==
          DType::float64);
  }
  CHECK(linear(x, w, Tensor()).dtype() == DType::float32);
}

TEST_CASE("a float16 policy puts the allowed ops in float16", "[amp]") {
  const AutocastPolicy policy(DType::float16);
  AutocastGuard guard(policy);
  CHECK(conv2d(param({1, 1, 4, 4}, 3).detach(), param({2, 1, 3, 3}, 4), Tensor()).dtype() == DType::float16);
}

TEST_CASE("set moves an op between lists and unknown ops are named in the error", "[amp]") {
  AutocastPolicy policy;
  policy.set("softmax", OpList::allow);
  CHECK(policy.ops(OpList::allow).count("softmax") == 1);
  CHECK(policy.ops(OpList::deny).count("softmax") == 0);
  policy.set("linear", OpList::deny);
  {
    AutocastGuard guard(policy);
    CHECK(linear(param({2, 3}, 5).detach(), param({2, 3}, 6), Tensor()).dtype() == DType::float32);
  }
  policy.remove("linear");
  CHECK(policy.ops(OpList::deny).count("linear") == 0);
  CHECK_THROWS_WITH(policy.set("attention_fused", OpList::allow), Catch::Contains("'attention_fused'"));
  CHECK_THROWS_AS(policy.set_dtype(DType::float32), RangeError);
}

TEST_CASE("a JSON document replaces the lists it names and errors name the field", "[amp]") {
  AutocastPolicy policy;
  policy.apply_json(R"({"dtype": "fp16", "allow": ["matmul"], "promote": ["add", "softmax"]})", "edit.json");
  CHECK(policy.dtype() == DType::float16);
  CHECK(policy.ops(OpList::allow) == std::set<std::string>{"matmul"});
  CHECK(policy.ops(OpList::promote) == std::set<std::string>{"add", "softmax"});
  CHECK(policy.ops(OpList::deny).count("softmax") == 0);  // moved by the promote list
  CHECK(policy.ops(OpList::deny).count("exp") == 1);      // a list not named stays
  const AutocastPolicy before = policy;
  CHECK_THROWS_WITH(policy.apply_json(R"({"allow": ["matmul"], "deny": ["matmul"]})", "p.json"),
                    Catch::Contains("p.json") && Catch::Contains("'matmul'"));
  CHECK_THROWS_WITH(policy.apply_json(R"({"allowed": []})", "p.json"), Catch::Contains("'allowed'"));
  CHECK_THROWS_WITH(policy.apply_json(R"({"deny": ["nope"]})", "p.json"),
                    Catch::Contains("'deny'") && Catch::Contains("'nope'"));
  CHECK_THROWS_AS(policy.apply_json("{not json", "p.json"), FileError);
  CHECK(policy.to_json() == before.to_json());  // a failed edit changes nothing
}

TEST_CASE("each weight is cast once per step however many micro-batches use it", "[amp]") {
  const AutocastPolicy policy;
  Tensor w = param({3, 8}, 7);
  const Tensor x = param({4, 8}, 8).detach();
  Tensor single_grad;
  {
    AutocastGuard guard(policy);
    sum(linear(x, w, Tensor())).backward();
    single_grad = clone(w.grad());
    w.set_grad(Tensor());
  }
  {
    AutocastGuard guard(policy);
    const std::int64_t before = policy.cache().conversions();
    for (int micro = 0; micro < 3; ++micro) sum(linear(x, w, Tensor())).backward();
    CHECK(policy.cache().conversions() - before == 1);
    CHECK(policy.cache().hits() >= 2);
  }
  // Every micro-batch's backward went through its own node: three times the single gradient (exact: the
  // gradient is float32 and small integers times it).
  const auto g1 = single_grad.to_vector(), g3 = w.grad().to_vector();
  for (std::size_t i = 0; i < g1.size(); ++i) CHECK(g3[i] == 3 * g1[i]);
  // A new step (a new guard) converts again: the weight may have changed.
  AutocastGuard guard(policy);
  const std::int64_t before = policy.cache().conversions();
  linear(x, w, Tensor());
  CHECK(policy.cache().conversions() - before == 1);
}

TEST_CASE("activation checkpointing replays the forward under the same autocast policy", "[amp]") {
  const AutocastPolicy policy;
  auto make = [&] {
    auto s = std::make_shared<Sequential>();
    Rng r(5);
    s->add(std::make_shared<Linear>(8, 16, r));
    s->add(std::make_shared<ReLU>());
    s->add(std::make_shared<Linear>(16, 4, r));
    return s;
  };
  const Tensor x = param({6, 8}, 9).detach();
  auto plain = make(), checkpointed = make();
  checkpointed->set_checkpoint_segments(2);
  Tensor y_plain, y_ckpt;
  {
    AutocastGuard guard(policy);
    y_plain = plain->forward(x);
    y_ckpt = checkpointed->forward(x);
  }
  CHECK(y_ckpt.dtype() == DType::bfloat16);
  CHECK(y_ckpt.to_vector() == y_plain.to_vector());
  // Backward runs outside the guard; the replay must reinstall the policy to give the same gradients.
  sum(cast(y_plain, DType::float32)).backward();
  sum(cast(y_ckpt, DType::float32)).backward();
  const auto pp = plain->parameters(), pc = checkpointed->parameters();
  for (std::size_t i = 0; i < pp.size(); ++i) {
    INFO("parameter " << i);
    CHECK(pc[i].grad().to_vector() == pp[i].grad().to_vector());
  }
}
