// Optimizers and schedules against the update rules written out in double precision in the test.
#include <catch2/catch.hpp>

#include <cmath>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/optim.hpp"
#include "lowbit/train/schedule.hpp"

using namespace lowbit;
using namespace lowbit::train;

namespace {

struct Fixture {
  Tensor p = from_values(std::vector<double>{1.0, -2.0, 0.5}, {3});
  NamedTensors named() { return {{"p", p}}; }
  void set_grad(std::vector<double> g) { p.set_grad(from_values(g, {3})); }
};

}  // namespace

TEST_CASE("sgd with momentum and Nesterov follows PyTorch's update", "[train]") {
  for (bool nesterov : {false, true}) {
    Fixture f;
    f.p.set_requires_grad(true);
    Sgd sgd(f.named(), SgdOptions{0.1, 0.9, nesterov, 0.01});
    std::vector<double> p{1.0, -2.0, 0.5}, buf(3);
    const std::vector<std::vector<double>> grads{{0.3, -0.1, 2.0}, {-0.2, 0.4, 1.0}, {0.05, 0.05, -0.5}};
    for (std::size_t t = 0; t < grads.size(); ++t) {
      f.set_grad(grads[t]);
      sgd.step();
      for (std::size_t e = 0; e < 3; ++e) {
        double g = grads[t][e] + 0.01 * p[e];
        buf[e] = t == 0 ? g : 0.9 * buf[e] + g;
        p[e] -= 0.1 * (nesterov ? g + 0.9 * buf[e] : buf[e]);
      }
      // float32 arithmetic against the double reference: values of size ~1, a few roundings per step.
      const auto got = f.p.to_vector();
      for (std::size_t e = 0; e < 3; ++e) CHECK(got[e] == Approx(p[e]).epsilon(0).margin(2e-6));
    }
  }
}

TEST_CASE("adam and adamw follow the papers' updates with bias correction", "[train]") {
  // Three elements, and 67 (four 16-lane vectors and a remainder: the update loop is vectorised).
  for (const std::size_t n : {std::size_t{3}, std::size_t{67}}) {
    for (bool decoupled : {false, true}) {
      INFO(n << " elements, decoupled " << decoupled);
      std::vector<double> p{1.0, -2.0, 0.5}, m(n), v(n);
      std::vector<std::vector<double>> grads{{0.3, -0.1, 2.0}, {-0.2, 0.4, 1.0}, {0.05, 0.05, -0.5}};
      for (std::size_t e = 3; e < n; ++e) {
        p.push_back(std::sin(static_cast<double>(e)));
        for (std::size_t t = 0; t < grads.size(); ++t)
          grads[t].push_back(std::cos(static_cast<double>(e * (t + 1))) * (t + 1.0));
      }
      Tensor param = from_values(p, {static_cast<std::int64_t>(n)});
      param.set_requires_grad(true);
      const double lr = 0.01, wd = 0.1;
      Adam adam({{"p", param}}, AdamOptions{lr, 0.9, 0.999, 1e-8, wd, decoupled});
      for (std::size_t t = 1; t <= grads.size(); ++t) {
        param.set_grad(from_values(grads[t - 1], {static_cast<std::int64_t>(n)}));
        adam.step();
        for (std::size_t e = 0; e < n; ++e) {
          double g = grads[t - 1][e];
          if (decoupled) {
            p[e] *= 1 - lr * wd;
          } else {
            g += wd * p[e];
          }
          m[e] = 0.9 * m[e] + 0.1 * g;
          v[e] = 0.999 * v[e] + 0.001 * g * g;
          const double mhat = m[e] / (1 - std::pow(0.9, t)), vhat = v[e] / (1 - std::pow(0.999, t));
          p[e] -= lr * mhat / (std::sqrt(vhat) + 1e-8);
        }
        const auto got = param.to_vector();
        for (std::size_t e = 0; e < n; ++e) CHECK(got[e] == Approx(p[e]).epsilon(0).margin(2e-6));
      }
      CHECK(adam.state().size() == 2);
      CHECK(adam.steps() == 3);
    }
  }
}

TEST_CASE("clip_grad_norm scales gradients to the global norm", "[train]") {
  Tensor a = from_values(std::vector<double>{3.0}, {1}), b = from_values(std::vector<double>{4.0}, {1});
  a.set_grad(from_values(std::vector<double>{3.0}, {1}));
  b.set_grad(from_values(std::vector<double>{4.0}, {1}));
  CHECK(clip_grad_norm({a, b}, 1.0) == Approx(5.0));
  CHECK(a.grad().item() == Approx(0.6).epsilon(1e-5));
  CHECK(b.grad().item() == Approx(0.8).epsilon(1e-5));
  CHECK(clip_grad_norm({a, b}, 10.0) == Approx(1.0).epsilon(1e-5));  // below the limit: unchanged
  CHECK(a.grad().item() == Approx(0.6).epsilon(1e-5));
  CHECK_THROWS_AS(clip_grad_norm({a}, 0.0), RangeError);
}

TEST_CASE("schedules: warmup, step decay and cosine annealing", "[train]") {
  Schedule s;
  s.base_lr = 1.0;
  s.warmup_steps = 4;
  CHECK(s.lr_at(0) == 0.25);
  CHECK(s.lr_at(3) == 1.0);
  CHECK(s.lr_at(100) == 1.0);
  // Decaying kinds without the run's length (0, the default) keep the base rate.
  s.kind = ScheduleKind::step;
  CHECK(s.lr_at(4 + 25) == 1.0);
  s.kind = ScheduleKind::cosine;
  CHECK(s.lr_at(4 + 25) == 1.0);
  s.kind = ScheduleKind::step;
  s.step_size = 10;
  s.gamma = 0.5;
  CHECK(s.lr_at(4 + 9) == 1.0);
  CHECK(s.lr_at(4 + 10) == 0.5);
  CHECK(s.lr_at(4 + 25) == 0.25);
  s.kind = ScheduleKind::cosine;
  s.total_steps = 104;
  s.min_lr = 0.1;
  CHECK(s.lr_at(4) == Approx(1.0));
  CHECK(s.lr_at(54) == Approx(0.55));
  CHECK(s.lr_at(104) == Approx(0.1));
  CHECK_THROWS_AS(parse_schedule_kind("linear"), RangeError);
}

TEST_CASE("optimizer options out of range are rejected", "[train]") {
  Fixture f;
  CHECK_THROWS_AS(Sgd(f.named(), SgdOptions{0.1, -0.5, false, 0}), RangeError);
  CHECK_THROWS_AS(Sgd(f.named(), SgdOptions{0.1, 0, true, 0}), RangeError);
  CHECK_THROWS_AS(Adam(f.named(), AdamOptions{0.1, 1.0, 0.999, 1e-8, 0, false}), RangeError);
  CHECK_THROWS_AS(make_optimizer("lion", f.named(), 0.1, 0, 0), RangeError);
}
