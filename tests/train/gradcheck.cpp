#include "gradcheck.hpp"

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "lowbit/train/autograd.hpp"
#include "lowbit/train/ops.hpp"

namespace lowbit::train::testing {

Tensor random_tensor(const Shape& shape, std::uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)));
  for (double& v : values) v = dist(rng);
  return from_values(values, shape, DType::float64);
}

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          std::vector<Tensor> inputs, double h) {
  Tensor weights;
  auto objective = [&](const std::vector<Tensor>& xs) {
    const Tensor out = f(xs);
    if (!weights.defined()) weights = random_tensor(out.shape(), 12345);
    return sum(mul(out, weights));
  };
  for (Tensor& x : inputs) x.set_grad(Tensor());
  objective(inputs).backward();
  GradcheckResult result;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    const Tensor analytic = inputs[i].grad();
    const std::vector<double> g = analytic.defined() ? analytic.to_vector() : std::vector<double>();
    double* x = inputs[i].data<double>();  // inputs are contiguous leaves
    for (std::int64_t e = 0; e < inputs[i].numel(); ++e) {
      const double saved = x[e];
      double plus, minus;
      {
        NoGradGuard no_grad;
        x[e] = saved + h;
        plus = objective(inputs).item();
        x[e] = saved - h;
        minus = objective(inputs).item();
        x[e] = saved;
      }
      const double numeric = (plus - minus) / (2 * h);
      const double a = g.empty() ? 0.0 : g[static_cast<std::size_t>(e)];
      const double err = std::abs(a - numeric);
      if (err > result.max_abs_error || std::isnan(err)) {
        result.max_abs_error = std::isnan(err) ? INFINITY : err;
        result.worst = fmt::format("input {} element {}: analytic {} numeric {}", i, e, a, numeric);
      }
    }
  }
  return result;
}

Tensor leaf(const Shape& shape, std::uint64_t seed, double lo, double hi) {
  Tensor t = random_tensor(shape, seed, lo, hi);
  t.set_requires_grad(true);
  return t;
}

void require_gradients_match(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                             std::vector<Tensor> inputs) {
  const GradcheckResult r = gradcheck(f, std::move(inputs));
  INFO(r.worst);
  CHECK(r.max_abs_error < 1e-7);
}

}  // namespace lowbit::train::testing
