// Gradient accumulation and activation checkpointing: the same parameters / gradients as the plain step,
// and (checkpointing) a lower measured peak of activation memory.
#include <catch2/catch.hpp>

#include <cmath>

#include "lowbit/train/autograd.hpp"
#include "lowbit/train/models.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/trainer.hpp"

using namespace lowbit;
using namespace lowbit::train;

namespace {

// Synthetic images and labels (no dataset needed): deterministic values in the normalised pixel range.
std::pair<Tensor, Tensor> synthetic_batch(std::int64_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> pixels(static_cast<std::size_t>(n * 28 * 28));
  for (float& p : pixels) p = static_cast<float>(rng.next_double() * 3 - 0.8);
  std::vector<double> labels(static_cast<std::size_t>(n));
  for (double& l : labels) l = static_cast<double>(rng.next_below(10));
  return {from_values(pixels, {n, 1, 28, 28}), from_values(labels, {n}, DType::int32)};
}

std::vector<double> all_parameters(Module& m) {
  std::vector<double> out;
  for (const Tensor& p : m.parameters()) {
    const auto v = p.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

}  // namespace

TEST_CASE("gradient accumulation over K micro-batches gives the full batch's parameters", "[train]") {
  for (const char* optimizer : {"sgd", "adam"}) {
    INFO(optimizer);
    TrainOptions full;
    full.optimizer = optimizer;
    full.batch = 64;
    TrainOptions accumulated = full;
    accumulated.grad_accum = 4;
    Trainer a(full), b(accumulated);
    for (std::uint64_t step = 0; step < 3; ++step) {
      const auto [x, y] = synthetic_batch(64, step);
      const double la = a.step(x, y), lb = b.step(x, y);
      CHECK(lb == Approx(la).epsilon(1e-5));
    }
    const auto pa = all_parameters(a.model()), pb = all_parameters(b.model());
    REQUIRE(pa.size() == pb.size());
    // Summation order differs (4 partial sums instead of one GEMM over 64 rows): fp32 rounding only. Adam
    // divides by sqrt(v), which amplifies tiny gradient differences where v is tiny; 1e-4 absolute covers it.
    double worst = 0;
    for (std::size_t i = 0; i < pa.size(); ++i) worst = std::max(worst, std::abs(pa[i] - pb[i]));
    CHECK(worst < (std::string(optimizer) == "sgd" ? 1e-6 : 1e-4));
  }
}

TEST_CASE("sqrt(N) activation checkpointing gives identical gradients and a lower activation peak",
          "[train]") {
  auto run = [](std::size_t segments, std::vector<double>& grads) {
    Rng init(7);
    auto model = make_mlp(init, std::vector<std::int64_t>(8, 256));  // 1 + 2*8 + 1 = 18 layers
    model->set_checkpoint_segments(segments);
    const auto [x, y] = synthetic_batch(128, 3);
    reset_memory_peaks();
    const std::int64_t before = memory_stats().live_of(MemoryCategory::activations);
    cross_entropy(model->forward(x), y).backward();
    const std::int64_t peak = memory_stats().peak_of(MemoryCategory::activations) - before;
    for (const Tensor& p : model->parameters()) {
      const auto g = p.grad().to_vector();
      grads.insert(grads.end(), g.begin(), g.end());
    }
    return peak;
  };
  std::vector<double> plain, checkpointed;
  const std::int64_t peak_plain = run(1, plain);
  const std::int64_t peak_checkpointed = run(4, checkpointed);  // about sqrt(18) segments
  REQUIRE(plain.size() == checkpointed.size());
  CHECK(plain == checkpointed);  // bit for bit: the recompute is the same arithmetic
  INFO("peak activation bytes: plain " << peak_plain << ", checkpointed " << peak_checkpointed);
  CHECK(peak_checkpointed < peak_plain * 3 / 4);
}

TEST_CASE("checkpointed segments replay dropout masks exactly", "[train]") {
  auto run = [](std::size_t segments) {
    Rng init(5);
    auto model = make_cnn(init);  // has Dropout(0.25)
    model->set_checkpoint_segments(segments);
    manual_seed(99);
    const auto [x, y] = synthetic_batch(8, 4);
    cross_entropy(model->forward(x), y).backward();
    std::vector<double> grads;
    for (const Tensor& p : model->parameters()) {
      const auto g = p.grad().to_vector();
      grads.insert(grads.end(), g.begin(), g.end());
    }
    return grads;
  };
  CHECK(run(1) == run(3));
}
