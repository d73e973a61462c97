// layer_norm against its formula, embedding against table rows, dropout's mask statistics and replay, and
// the gradients of all three against central differences.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "gradcheck.hpp"
#include "lowbit/train/autograd.hpp"
#include "lowbit/train/nn_ops.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/view_ops.hpp"

using namespace lowbit;
using namespace lowbit::train;
using lowbit::train::testing::leaf;
using lowbit::train::testing::random_tensor;
using lowbit::train::testing::require_gradients_match;

namespace {

Tensor int_tensor(const std::vector<double>& values, const Shape& shape) {
  return from_values(values, shape, DType::int32);
}

}  // namespace

TEST_CASE("layer_norm normalises the last axis with the biased variance, then scales and shifts", "[train]") {
  const Tensor x = random_tensor({2, 3, 5}, 1, -2.0, 3.0), w = random_tensor({5}, 2),
               b = random_tensor({5}, 3);
  const double eps = 1e-5;
  const auto xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector();
  const auto y = layer_norm(x, w, b, eps).to_vector();
  const auto y_plain = layer_norm(x, Tensor(), Tensor(), eps).to_vector();
  const auto y32 =
      layer_norm(cast(x, DType::float32), cast(w, DType::float32), cast(b, DType::float32), eps).to_vector();
  for (std::size_t r = 0; r < 6; ++r) {
    double m = 0, v = 0;
    for (std::size_t i = 0; i < 5; ++i) m += xv[r * 5 + i] / 5;
    for (std::size_t i = 0; i < 5; ++i) v += (xv[r * 5 + i] - m) * (xv[r * 5 + i] - m) / 5;
    for (std::size_t i = 0; i < 5; ++i) {
      const double xhat = (xv[r * 5 + i] - m) / std::sqrt(v + eps);
      CHECK(y_plain[r * 5 + i] == Approx(xhat).margin(1e-12));
      CHECK(y[r * 5 + i] == Approx(xhat * wv[i] + bv[i]).margin(1e-12));
      CHECK(y32[r * 5 + i] == Approx(xhat * wv[i] + bv[i]).margin(1e-5));
    }
  }
  // A constant row: variance 0, so the output is the bias (eps keeps it finite).
  const auto c = layer_norm(full({1, 4}, 7.0, DType::float64), Tensor(),
                            from_values(std::vector<double>{1, 2, 3, 4}, {4}, DType::float64))
                     .to_vector();
  CHECK(c == std::vector<double>{1, 2, 3, 4});
}

TEST_CASE("layer_norm differentiates with respect to x, weight and bias", "[train]") {
  require_gradients_match([](const std::vector<Tensor>& v) { return layer_norm(v[0], v[1], v[2]); },
                          {leaf({3, 2, 6}, 10, -2.0, 2.0), leaf({6}, 11), leaf({6}, 12)});
  require_gradients_match([](const std::vector<Tensor>& v) { return layer_norm(v[0], Tensor(), Tensor()); },
                          {leaf({4, 7}, 13)});
  require_gradients_match([](const std::vector<Tensor>& v) { return layer_norm(v[0], v[1], Tensor(), 0.1); },
                          {leaf({2, 5}, 14), leaf({5}, 15)});
  // A non-contiguous input (a transposed view) and only the affine parameters requiring grad.
  require_gradients_match(
      [](const std::vector<Tensor>& v) { return layer_norm(transpose(v[0], 0, 1), v[1], v[2]); },
      {leaf({3, 4}, 16), leaf({3}, 17), leaf({3}, 18)});
  require_gradients_match([](const std::vector<Tensor>& v) { return layer_norm(v[0], v[1], v[2]); },
                          {random_tensor({3, 4}, 19), leaf({4}, 20), leaf({4}, 21)});
}

TEST_CASE("layer_norm rejects mismatched parameters and bad eps and promotes mixed dtypes", "[train]") {
  const Tensor x = random_tensor({2, 4}, 1);
  CHECK_THROWS_AS(layer_norm(x, random_tensor({3}, 2), Tensor()), ShapeError);
  CHECK_THROWS_AS(layer_norm(x, Tensor(), random_tensor({4, 1}, 2)), ShapeError);
  CHECK(layer_norm(x, cast(random_tensor({4}, 2), DType::float32), Tensor()).dtype() == DType::float64);
  CHECK_THROWS_AS(layer_norm(x, Tensor(), Tensor(), -1.0), RangeError);
  CHECK_THROWS_AS(layer_norm(random_tensor({2, 0}, 1), Tensor(), Tensor()), ShapeError);
  CHECK_THROWS_WITH(layer_norm(x, random_tensor({3}, 2), Tensor()),
                    Catch::Contains("layer_norm") && Catch::Contains("weight") && Catch::Contains("[2, 4]"));
}

TEST_CASE("embedding picks table rows for indices of any shape", "[train]") {
  const Tensor table = random_tensor({5, 3}, 1);
  const auto tv = table.to_vector();
  const std::vector<double> index_values{4, 0, 2, 2, 1, 4};
  const Tensor y = embedding(int_tensor(index_values, {2, 3}), table);
  REQUIRE(y.shape() == Shape{2, 3, 3});
  const auto yv = y.to_vector();
  for (std::size_t i = 0; i < 6; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      CHECK(yv[i * 3 + j] == tv[static_cast<std::size_t>(index_values[i]) * 3 + j]);
    }
  }
  CHECK(embedding(int_tensor({3}, {}), table).shape() == Shape{3});
}

TEST_CASE("embedding's table gradient scatter-adds, repeated indices accumulating", "[train]") {
  const Tensor idx = int_tensor({1, 3, 1, 0, 1, 3}, {3, 2});
  require_gradients_match([idx](const std::vector<Tensor>& v) { return embedding(idx, v[0]); },
                          {leaf({4, 5}, 2)});
  Tensor table = random_tensor({4, 2}, 3);
  table.set_requires_grad(true);
  sum(embedding(idx, table)).backward();
  // Row r of the gradient counts how often r was picked; row 2 never was.
  CHECK(table.grad().to_vector() == std::vector<double>{1, 1, 3, 3, 0, 0, 2, 2});
}

TEST_CASE("embedding rejects out-of-range indices, non-int32 indices and non-2-D tables", "[train]") {
  const Tensor table = random_tensor({5, 3}, 1);
  CHECK_THROWS_AS(embedding(int_tensor({0, 5}, {2}), table), RangeError);
  CHECK_THROWS_WITH(embedding(int_tensor({0, 5}, {2}), table),
                    Catch::Contains("embedding") && Catch::Contains("index 5") && Catch::Contains("V = 5"));
  CHECK_THROWS_WITH(embedding(int_tensor({-1}, {1}), table), Catch::Contains("index -1"));
  CHECK_THROWS_AS(embedding(random_tensor({2}, 1), table), RangeError);
  CHECK_THROWS_AS(embedding(int_tensor({0}, {1}), random_tensor({5}, 1)), ShapeError);
}

TEST_CASE("dropout with the same Rng state draws the same mask", "[train]") {
  const Tensor x = random_tensor({37, 11}, 1, 0.5, 1.5);  // nonzero, so zeros in the output are drops
  Rng rng(42);
  const RngState saved = rng.state();
  const auto a = dropout(x, 0.3, true, rng).to_vector();
  const auto b = dropout(x, 0.3, true, rng).to_vector();  // the state moved on: another mask
  rng.set_state(saved);
  const auto c = dropout(x, 0.3, true, rng).to_vector();
  CHECK(a == c);
  CHECK(a != b);
  // The default generator follows manual_seed.
  manual_seed(9);
  const auto d = dropout(x, 0.3, true).to_vector();
  manual_seed(9);
  CHECK(dropout(x, 0.3, true).to_vector() == d);
}

TEST_CASE("dropout keeps a fraction 1 - p, scales the kept by 1 / (1 - p) and preserves the mean",
          "[train]") {
  const std::int64_t n = 1 << 20;
  for (double p : {0.1, 0.5, 0.8}) {
    INFO("p = " << p);
    Rng rng(7);
    const Tensor y = dropout(ones({n}, DType::float64), p, true, rng);
    const auto yv = y.to_vector();
    std::int64_t kept = 0;
    double total = 0;
    for (double v : yv) {
      if (v != 0) {
        ++kept;
        CHECK(v == Approx(1.0 / (1.0 - p)).epsilon(1e-15));
      }
      total += v;
    }
    // Binomial: the kept fraction's standard deviation is sqrt(p(1-p)/n) < 5e-4; allow 10 of them.
    CHECK(std::abs(static_cast<double>(kept) / static_cast<double>(n) - (1 - p)) < 5e-3);
    CHECK(std::abs(total / static_cast<double>(n) - 1.0) < 5e-3 / (1 - p));
  }
  // float32 too.
  Rng rng(8);
  const auto y32 = dropout(full({1000}, 2.0), 0.5, true, rng).to_vector();
  for (double v : y32) CHECK((v == 0.0 || v == 4.0));
}

TEST_CASE("dropout's gradient flows only through the kept elements", "[train]") {
  Tensor x = leaf({20, 13}, 3, 0.5, 1.5);
  Rng rng(11);
  const Tensor y = dropout(x, 0.4, true, rng);
  y.backward(ones(y.shape(), DType::float64));
  const auto yv = y.to_vector(), gv = x.grad().to_vector();
  for (std::size_t i = 0; i < yv.size(); ++i) CHECK(gv[i] == (yv[i] == 0 ? 0.0 : 1.0 / 0.6));
  // The whole backward against central differences, with the mask fixed by a fresh Rng of one seed.
  require_gradients_match(
      [](const std::vector<Tensor>& v) {
        Rng r(5);
        return dropout(v[0], 0.4, true, r);
      },
      {leaf({6, 7}, 4)});
}

TEST_CASE("dropout is the identity in evaluation and at p = 0, and rejects p below 0 or from 1 up",
          "[train]") {
  const Tensor x = random_tensor({3, 4}, 1);
  Rng rng(1);
  const RngState before = rng.state();
  CHECK(same_tensor(dropout(x, 0.5, false, rng), x));
  CHECK(same_tensor(dropout(x, 0.0, true, rng), x));
  CHECK(rng.state() == before);
  CHECK_THROWS_AS(dropout(x, 1.0, true, rng), RangeError);
  CHECK_THROWS_AS(dropout(x, -0.1, false, rng), RangeError);
  CHECK_THROWS_AS(dropout(x, NAN, true, rng), RangeError);
  CHECK_THROWS_WITH(dropout(x, 1.5, true, rng), Catch::Contains("dropout") && Catch::Contains("1.5"));
}
