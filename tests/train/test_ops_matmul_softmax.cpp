// matmul / linear against fp64 loops, softmax family against direct formulas, and their gradients.
#include <catch2/catch.hpp>

#include <cmath>

#include "gradcheck.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/view_ops.hpp"

using namespace lowbit;
using namespace lowbit::train;
using lowbit::train::testing::leaf;
using lowbit::train::testing::random_tensor;
using lowbit::train::testing::require_gradients_match;

TEST_CASE("float32 matmul of small integers is exact, including transposed views", "[train]") {
  std::vector<float> av(7 * 33), bv(33 * 5);
  for (std::size_t i = 0; i < av.size(); ++i) av[i] = static_cast<float>(static_cast<int>(i % 7) - 3);
  for (std::size_t i = 0; i < bv.size(); ++i) bv[i] = static_cast<float>(static_cast<int>(i % 5) - 2);
  const Tensor a = from_values(av, {7, 33}), b = from_values(bv, {33, 5});
  const auto c = matmul(a, b).to_vector();
  const auto ct = matmul(transpose(from_values(av, {33, 7}), 0, 1), b).to_vector();
  for (int i = 0; i < 7; ++i) {
    for (int j = 0; j < 5; ++j) {
      double acc = 0, acc_t = 0;
      for (int p = 0; p < 33; ++p) {
        acc += av[static_cast<std::size_t>(i * 33 + p)] * bv[static_cast<std::size_t>(p * 5 + j)];
        acc_t += av[static_cast<std::size_t>(p * 7 + i)] * bv[static_cast<std::size_t>(p * 5 + j)];
      }
      CHECK(c[static_cast<std::size_t>(i * 5 + j)] == acc);
      CHECK(ct[static_cast<std::size_t>(i * 5 + j)] == acc_t);
    }
  }
  CHECK_THROWS_AS(matmul(a, a), ShapeError);
}

TEST_CASE("matmul, batched matmul and linear differentiate", "[train]") {
  require_gradients_match([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
                          {leaf({3, 4}, 1), leaf({4, 5}, 2)});
  require_gradients_match([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
                          {leaf({2, 3, 4}, 3), leaf({2, 4, 2}, 4)});
  require_gradients_match([](const std::vector<Tensor>& x) { return matmul(x[0], transpose(x[1], 1, 2)); },
                          {leaf({2, 3, 4}, 3), leaf({2, 5, 4}, 4)});
  require_gradients_match([](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); },
                          {leaf({2, 3, 4}, 5), leaf({6, 4}, 6), leaf({6}, 7)});
  require_gradients_match([](const std::vector<Tensor>& x) { return linear(x[0], x[1], Tensor()); },
                          {leaf({3, 4}, 5), leaf({6, 4}, 6)});
}

TEST_CASE("linear in float32 matches an fp64 loop within float32 rounding", "[train]") {
  const Tensor x = cast(random_tensor({9, 17}, 1), DType::float32),
               w = cast(random_tensor({5, 17}, 2), DType::float32),
               b = cast(random_tensor({5}, 3), DType::float32);
  const auto y = linear(x, w, b).to_vector();
  const auto vx = x.to_vector(), vw = w.to_vector(), vb = b.to_vector();
  for (int i = 0; i < 9; ++i) {
    for (int o = 0; o < 5; ++o) {
      double acc = vb[static_cast<std::size_t>(o)];
      for (int p = 0; p < 17; ++p)
        acc += vx[static_cast<std::size_t>(i * 17 + p)] * vw[static_cast<std::size_t>(o * 17 + p)];
      CHECK(y[static_cast<std::size_t>(i * 5 + o)] == Approx(acc).margin(1e-5));
    }
  }
}

TEST_CASE("softmax and log_softmax match the direct formula along any axis", "[train]") {
  const Tensor a = random_tensor({2, 3}, 4, -5, 5);
  const auto v = a.to_vector();
  const auto s0 = softmax(a, 0).to_vector(), l1 = log_softmax(a, 1).to_vector();
  for (int j = 0; j < 3; ++j) {
    const double z = std::exp(v[static_cast<std::size_t>(j)]) + std::exp(v[static_cast<std::size_t>(3 + j)]);
    CHECK(s0[static_cast<std::size_t>(j)] ==
          Approx(std::exp(v[static_cast<std::size_t>(j)]) / z).epsilon(1e-14));
  }
  for (int i = 0; i < 2; ++i) {
    double z = 0;
    for (int j = 0; j < 3; ++j) z += std::exp(v[static_cast<std::size_t>(i * 3 + j)]);
    for (int j = 0; j < 3; ++j) {
      CHECK(l1[static_cast<std::size_t>(i * 3 + j)] ==
            Approx(v[static_cast<std::size_t>(i * 3 + j)] - std::log(z)).epsilon(1e-14));
    }
  }
  // Large logits do not overflow.
  const auto big = softmax(from_values(std::vector<double>{1000, 1000}, {2}, DType::float64)).to_vector();
  CHECK(big[0] == 0.5);
  require_gradients_match([](const std::vector<Tensor>& x) { return softmax(x[0], 0); }, {leaf({3, 4}, 5)});
  require_gradients_match([](const std::vector<Tensor>& x) { return log_softmax(x[0], -1); },
                          {leaf({3, 4}, 6)});
}

TEST_CASE("cross_entropy is the mean negative log-likelihood and differentiates", "[train]") {
  const Tensor logits = random_tensor({4, 5}, 7, -3, 3);
  const Tensor labels = from_values(std::vector<double>{0, 4, 2, 2}, {4}, DType::int32);
  const auto lp = log_softmax(logits).to_vector();
  const double expected = -(lp[0] + lp[5 + 4] + lp[10 + 2] + lp[15 + 2]) / 4;
  CHECK(cross_entropy(logits, labels).item() == Approx(expected).epsilon(1e-14));
  require_gradients_match([labels](const std::vector<Tensor>& x) { return cross_entropy(x[0], labels); },
                          {leaf({4, 5}, 8)});
  CHECK_THROWS_AS(cross_entropy(logits, from_values(std::vector<double>{0, 5, 1, 1}, {4}, DType::int32)),
                  RangeError);
  CHECK_THROWS_AS(cross_entropy(logits, from_values(std::vector<double>{0, 1}, {2}, DType::int32)),
                  ShapeError);
}
