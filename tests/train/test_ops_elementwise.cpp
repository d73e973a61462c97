// Elementwise ops: values against std:: math on the same inputs, gradients against finite differences.
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

TEST_CASE("binary ops broadcast as numpy does and match scalar arithmetic", "[train]") {
  const Tensor a = random_tensor({2, 3, 4}, 1), b = random_tensor({3, 1}, 2, 0.5, 2.0);
  const auto va = a.to_vector(), vb = b.to_vector();
  const Tensor s = add(a, b), d = sub(a, b), m = mul(a, b), q = div(a, b);
  REQUIRE(s.shape() == Shape{2, 3, 4});
  const auto vs = s.to_vector(), vd = d.to_vector(), vm = m.to_vector(), vq = q.to_vector();
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 4; ++k) {
        const std::size_t e = static_cast<std::size_t>((i * 3 + j) * 4 + k);
        const double x = va[e], y = vb[static_cast<std::size_t>(j)];
        CHECK(vs[e] == x + y);
        CHECK(vd[e] == x - y);
        CHECK(vm[e] == x * y);
        CHECK(vq[e] == x / y);
      }
    }
  }
  CHECK_THROWS_AS(add(random_tensor({2, 3}, 1), random_tensor({4}, 2)), ShapeError);
  // Mixed dtypes promote to the wider (as PyTorch's type promotion does), integers to the float operand's.
  CHECK(add(random_tensor({2}, 1), from_values(std::vector<float>{1, 2}, {2})).dtype() == DType::float64);
  CHECK(add(from_values(std::vector<float>{1, 2}, {2}, DType::int32), random_tensor({2}, 1)).dtype() ==
        DType::float64);
}

TEST_CASE("binary op gradients sum over broadcast dimensions", "[train]") {
  for (auto op : {add, sub, mul}) {
    require_gradients_match([op](const std::vector<Tensor>& x) { return op(x[0], x[1]); },
                            {leaf({2, 3, 4}, 1), leaf({3, 1}, 2)});
  }
  require_gradients_match([](const std::vector<Tensor>& x) { return div(x[0], x[1]); },
                          {leaf({2, 3, 4}, 1), leaf({4}, 2, 0.5, 2.0)});
}

TEST_CASE("a tensor used twice gets the sum of both gradients", "[train]") {
  require_gradients_match([](const std::vector<Tensor>& x) { return add(mul(x[0], x[0]), x[0]); },
                          {leaf({5}, 3)});
  Tensor x = from_values(std::vector<double>{3.0}, {1}, DType::float64);
  x.set_requires_grad(true);
  sum(add(mul(x, x), x)).backward();  // d/dx (x^2 + x) = 2x + 1 = 7
  CHECK(x.grad().item() == 7.0);
}

TEST_CASE("unary functions match the C++ library and have the right gradients", "[train]") {
  struct Case {
    const char* name;
    Tensor (*op)(const Tensor&);
    double (*reference)(double);
    double lo, hi;
  };
  const Case cases[] = {
      {"relu", relu, [](double x) { return x > 0 ? x : 0.0; }, -1, 1},
      {"gelu", gelu,
       [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); },
       -3, 3},
      {"tanh", train::tanh, [](double x) { return std::tanh(x); }, -3, 3},
      {"sigmoid", sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }, -30, 30},
      {"exp", train::exp, [](double x) { return std::exp(x); }, -3, 3},
      {"log", train::log, [](double x) { return std::log(x); }, 0.1, 3},
      {"sqrt", train::sqrt, [](double x) { return std::sqrt(x); }, 0.1, 3},
      {"neg", neg, [](double x) { return -x; }, -1, 1},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const Tensor x = random_tensor({3, 7}, 5, c.lo, c.hi);
    const auto in = x.to_vector(), out = c.op(x).to_vector();
    for (std::size_t i = 0; i < in.size(); ++i) CHECK(out[i] == Approx(c.reference(in[i])).epsilon(1e-14));
    // relu's kink at 0 is avoided by the random inputs (measure zero).
    require_gradients_match([&c](const std::vector<Tensor>& v) { return c.op(v[0]); },
                            {leaf({3, 7}, 6, c.lo, c.hi)});
  }
}

TEST_CASE("pow and the scalar ops differentiate", "[train]") {
  require_gradients_match([](const std::vector<Tensor>& x) { return train::pow(x[0], 2.5); },
                          {leaf({4}, 7, 0.2, 2)});
  require_gradients_match([](const std::vector<Tensor>& x) { return mul_scalar(add_scalar(x[0], 3), -2); },
                          {leaf({4}, 8)});
  CHECK(train::pow(from_values(std::vector<double>{2.0}, {1}, DType::float64), 3).item() == 8.0);
}

TEST_CASE("ops on non-contiguous views read the right elements", "[train]") {
  const Tensor a = random_tensor({3, 4}, 9);
  const auto va = a.to_vector();
  const Tensor t = relu(transpose(a, 0, 1));
  REQUIRE(t.shape() == Shape{4, 3});
  const auto vt = t.to_vector();
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 3; ++j)
      CHECK(vt[static_cast<std::size_t>(i * 3 + j)] ==
            std::max(0.0, va[static_cast<std::size_t>(j * 4 + i)]));
  }
}
