// Master weights: float32 masters beside low-precision working copies that are refreshed after each update,
// stochastic rounding of the working copies, and the 16 bytes per parameter of Adam under AMP.
#include <catch2/catch.hpp>

#include <cmath>

#include "amp_test_support.hpp"
#include "lowbit/amp/master_weights.hpp"
#include "lowbit/amp/mixed_precision.hpp"
#include "lowbit/train/layers.hpp"
#include "lowbit/train/memory.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/trainer.hpp"

using namespace lowbit;
using namespace lowbit::amp;
using train::Tensor;

namespace {

std::vector<double> rounded(const std::vector<double>& x, DType dtype) {
  return train::from_values(x, {static_cast<std::int64_t>(x.size())}, dtype).to_vector();
}

}  // namespace

TEST_CASE("masters keep the float32 weights and the working copies are their nearest bfloat16", "[amp]") {
  train::Rng rng(1);
  train::Linear layer(5, 3, rng);
  const std::vector<double> w32 = layer.parameters()[0].to_vector();
  MasterWeights m(layer, DType::bfloat16);
  REQUIRE(m.masters().size() == 2);
  CHECK(m.masters()[0].second.dtype() == DType::float32);
  CHECK(m.masters()[0].second.to_vector() == w32);
  CHECK(layer.parameters()[0].dtype() == DType::bfloat16);
  CHECK(layer.parameters()[0].to_vector() == rounded(w32, DType::bfloat16));
}

TEST_CASE("after an SGD update the working copy is the rounded new master", "[amp]") {
  train::Rng rng(2);
  train::Linear layer(4, 2, rng, false);
  MasterWeights m(layer, DType::float16);
  const std::vector<double> w0 = m.masters()[0].second.to_vector();
  train::Sgd sgd(m.masters(), {0.5, 0.0, false, 0.0});
  // L = sum(W x) for x = ones: dL/dW = 1 everywhere, computed in float16 and exact.
  train::sum(layer.forward(train::ones({1, 4}, DType::float16))).backward();
  m.link_gradients();
  sgd.step();
  m.refresh();
  std::vector<double> expected(w0.size());
  for (std::size_t i = 0; i < w0.size(); ++i) expected[i] = static_cast<float>(w0[i] - 0.5);  // fp32 update
  CHECK(m.masters()[0].second.to_vector() == expected);
  CHECK(layer.parameters()[0].to_vector() == rounded(expected, DType::float16));
}

TEST_CASE("stochastic rounding of working copies is unbiased and reproducible from the seed", "[amp]") {
  // 4096 weights of 1 + 2^-9: a quarter of a bfloat16 ulp (2^-7) above 1. Nearest-even gives 1 every time;
  // stochastic rounding gives 1 + 2^-7 with probability 1/4, so the mean is the master value.
  auto make = [] {
    auto s = std::make_shared<train::Linear>(64, 64, *std::make_unique<train::Rng>(3), false);
    return s;
  };
  auto a = make(), b = make();
  for (auto* layer : {a.get(), b.get()}) {
    float* w = layer->parameters()[0].data<float>();
    for (int i = 0; i < 4096; ++i) w[i] = 1.0f + std::ldexp(1.0f, -9);
  }
  MasterWeights ma(*a, DType::bfloat16, true, 42), mb(*b, DType::bfloat16, true, 42);
  const auto va = a->parameters()[0].to_vector(), vb = b->parameters()[0].to_vector();
  CHECK(va == vb);
  double mean = 0;
  for (double v : va) {
    CHECK((v == 1.0 || v == 1.0 + std::ldexp(1.0, -7)));
    mean += v / 4096.0;
  }
  // The mean's standard deviation is 2^-7 * sqrt(3/16 / 4096) = 5.3e-5; allow four of them.
  CHECK(std::abs(mean - (1.0 + std::ldexp(1.0, -9))) < 4 * 5.3e-5);
  ma.refresh();  // the next refresh draws new bits
  CHECK(a->parameters()[0].to_vector() != va);
}

TEST_CASE("Adam under AMP holds 16 bytes per parameter: 4 master, 2 working, 2 gradient, 8 moments",
          "[amp]") {
  // The MLP of `lowbit train --model mlp`: 784-512-256-10 with biases (models.hpp), counted by hand.
  const std::int64_t params = 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10;
  for (AmpMode mode : {AmpMode::bf16, AmpMode::fp16}) {
    INFO(amp_mode_name(mode));
    const train::MemoryStats before = train::memory_stats();
    auto live = [&](train::MemoryCategory c) { return train::memory_stats().live_of(c) - before.live_of(c); };
    AmpOptions options;
    options.mode = mode;
    train::TrainOptions t;
    t.batch = 16;
    train::Trainer trainer(t, std::make_unique<MixedPrecision>(options));
    REQUIRE(trainer.model().parameter_count() == params);
    const auto [x, y] = testing::synthetic_batch(16, 1);
    trainer.step(x, y);
    CHECK(live(train::MemoryCategory::master_weights) == 4 * params);
    CHECK(live(train::MemoryCategory::weights) == 2 * params);
    CHECK(live(train::MemoryCategory::gradients) == 2 * params);
    CHECK(live(train::MemoryCategory::optimizer) == 8 * params);
  }
}
