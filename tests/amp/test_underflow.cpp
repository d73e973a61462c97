// Why fp16 needs loss scaling: gradients below float16's smallest subnormal (2^-24) flush to zero without
// a scale, and dynamic scaling (2^16) brings them back. Reference: the float64 gradient of the same loss.
#include <catch2/catch.hpp>

#include <cmath>

#include "lowbit/amp/autocast.hpp"
#include "lowbit/amp/loss_scaler.hpp"
#include "lowbit/amp/master_weights.hpp"
#include "lowbit/train/layers.hpp"
#include "lowbit/train/ops.hpp"

using namespace lowbit;
using namespace lowbit::amp;
using train::Tensor;

namespace {

constexpr std::int64_t kIn = 32, kOut = 16, kBatch = 64;

// Inputs with magnitudes spread over 2^-10..2^-2 and a loss 2^-16 * mean(y): the output gradient
// dL/dy = 2^-16 / (kBatch * kOut) = 2^-26 is below half of float16's smallest subnormal (2^-24), so in
// float16 it is zero, and so is every weight gradient (dL/dW[o][i] = 2^-26 * sum_b x[b][i], about 2^-30
// to 2^-22, each representable in float32 and, scaled by 2^16, in float16).
Tensor inputs() {
  train::Rng rng(11);
  std::vector<double> v(kBatch * kIn);
  for (std::int64_t b = 0; b < kBatch; ++b)
    for (std::int64_t i = 0; i < kIn; ++i)
      v[b * kIn + i] = std::ldexp(1.0 + rng.next_double(), -10 + static_cast<int>(i % 9));
  return train::from_values(v, {kBatch, kIn});
}

struct Gradients {
  std::vector<double> fp16;   // the working copy's gradient, unscaled
  std::vector<double> exact;  // float64 reference
};

Gradients weight_gradient(double scale) {
  train::Rng rng(12);
  train::Linear layer(kIn, kOut, rng, false);
  MasterWeights masters(layer, DType::float16);
  const AutocastPolicy policy(DType::float16);
  const Tensor x = inputs();
  Tensor loss;
  {
    AutocastGuard guard(policy);
    loss =
        train::mul_scalar(train::mean(train::cast(layer.forward(x), DType::float32)), std::ldexp(1.0, -16));
  }
  train::mul_scalar(loss, scale).backward();
  Gradients g;
  for (double v : layer.parameters()[0].grad().to_vector()) g.fp16.push_back(v / scale);
  // d/dW of 2^-16 * mean(x W^T) = 2^-16 / (kBatch * kOut) * sum_b x[b][i], the same for every o.
  const auto xv = x.to_vector();
  for (std::int64_t o = 0; o < kOut; ++o)
    for (std::int64_t i = 0; i < kIn; ++i) {
      double s = 0;
      for (std::int64_t b = 0; b < kBatch; ++b) s += xv[b * kIn + i];
      g.exact.push_back(std::ldexp(1.0, -16) / (kBatch * kOut) * s);
    }
  return g;
}

std::int64_t flushed_to_zero(const Gradients& g) {
  std::int64_t n = 0;
  for (std::size_t i = 0; i < g.exact.size(); ++i) n += g.exact[i] != 0 && g.fp16[i] == 0;
  return n;
}

}  // namespace

TEST_CASE("fp16 without loss scaling flushes small gradients to zero and dynamic scaling recovers them",
          "[amp]") {
  const Gradients unscaled = weight_gradient(1.0);
  const Gradients scaled = weight_gradient(LossScaler().scale());  // GradScaler's initial 2^16
  const std::int64_t lost = flushed_to_zero(unscaled);
  INFO("flushed to zero without scaling: " << lost << " of " << unscaled.exact.size());
  CHECK(lost == static_cast<std::int64_t>(unscaled.exact.size()));
  CHECK(flushed_to_zero(scaled) == 0);
  // Scaled, each gradient is the float64 one to float16 precision (2^-11 relative; the product and the
  // backward's sums run in fp32 first).
  for (std::size_t i = 0; i < scaled.exact.size(); ++i) {
    CHECK(std::abs(scaled.fp16[i] - scaled.exact[i]) <= std::ldexp(std::abs(scaled.exact[i]), -10));
  }
}
