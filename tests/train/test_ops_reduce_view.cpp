// Reductions and shape ops: values by hand-indexed loops, gradients by finite differences, views share
// storage.
#include <catch2/catch.hpp>

#include "gradcheck.hpp"
#include "lowbit/train/ops.hpp"
#include "lowbit/train/view_ops.hpp"

using namespace lowbit;
using namespace lowbit::train;
using lowbit::train::testing::leaf;
using lowbit::train::testing::random_tensor;
using lowbit::train::testing::require_gradients_match;

TEST_CASE("sum and mean over axes match indexed loops", "[train]") {
  const Tensor a = random_tensor({2, 3, 4}, 1);
  const auto v = a.to_vector();
  const auto s1 = sum(a, {1}).to_vector();
  const auto m02 = mean(a, {0, -1}, true);
  REQUIRE(m02.shape() == Shape{1, 3, 1});
  const auto vm = m02.to_vector();
  for (int j = 0; j < 3; ++j) {
    double acc = 0;
    for (int i = 0; i < 2; ++i) {
      for (int k = 0; k < 4; ++k) acc += v[static_cast<std::size_t>((i * 3 + j) * 4 + k)];
    }
    CHECK(vm[static_cast<std::size_t>(j)] == Approx(acc / 8).epsilon(1e-15));
  }
  for (int i = 0; i < 2; ++i) {
    for (int k = 0; k < 4; ++k) {
      double acc = 0;
      for (int j = 0; j < 3; ++j) acc += v[static_cast<std::size_t>((i * 3 + j) * 4 + k)];
      CHECK(s1[static_cast<std::size_t>(i * 4 + k)] == Approx(acc).epsilon(1e-15));
    }
  }
  CHECK(sum(a).shape() == Shape{});
  CHECK_THROWS_AS(sum(a, {3}), ShapeError);
}

TEST_CASE("reductions and shape ops differentiate", "[train]") {
  require_gradients_match(
      [](const std::vector<Tensor>& x) {
        return sum(x[0], {0, 2});
      },
      {leaf({2, 3, 4}, 1)});
  require_gradients_match([](const std::vector<Tensor>& x) { return mean(x[0], {-1}, true); },
                          {leaf({2, 3, 4}, 2)});
  require_gradients_match(
      [](const std::vector<Tensor>& x) {
        return reshape(x[0], {4, -1});
      },
      {leaf({2, 3, 4}, 3)});
  require_gradients_match(
      [](const std::vector<Tensor>& x) {
        return permute(x[0], {2, 0, 1});
      },
      {leaf({2, 3, 4}, 4)});
  require_gradients_match([](const std::vector<Tensor>& x) { return slice(x[0], 1, 1, 3); },
                          {leaf({2, 3, 4}, 5)});
  require_gradients_match(
      [](const std::vector<Tensor>& x) {
        return concat({x[0], x[1]}, 1);
      },
      {leaf({2, 3, 4}, 6), leaf({2, 1, 4}, 7)});
  require_gradients_match(
      [](const std::vector<Tensor>& x) {
        return expand(x[0], {3, 2, 4});
      },
      {leaf({2, 1}, 8)});
  require_gradients_match([](const std::vector<Tensor>& x) { return reshape(transpose(x[0], 0, 1), {-1}); },
                          {leaf({3, 4}, 9)});
}

TEST_CASE("views share storage and index through strides", "[train]") {
  const Tensor a = random_tensor({3, 4}, 10);
  const auto v = a.to_vector();
  const Tensor t = transpose(a, 0, 1);
  CHECK(t.storage() == a.storage());
  CHECK_FALSE(t.is_contiguous());
  const Tensor s = slice(a, 1, 1, 3);
  CHECK(s.storage() == a.storage());
  const auto vs = s.to_vector();
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 2; ++j)
      CHECK(vs[static_cast<std::size_t>(i * 2 + j)] == v[static_cast<std::size_t>(i * 4 + j + 1)]);
  }
  CHECK(reshape(a, {2, 6}).storage() == a.storage());
  const Tensor c = concat({a, a}, 0);
  CHECK(c.shape() == Shape{6, 4});
  CHECK(c.to_vector()[16] == v[4]);
  CHECK_THROWS_AS(reshape(a, {5, -1}), ShapeError);
  CHECK_THROWS_AS(slice(a, 0, 2, 4), ShapeError);
  CHECK_THROWS_AS(permute(a, {0, 0}), ShapeError);
}
