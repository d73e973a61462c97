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

TEST_CASE("clone of a transposed view copies every element to its row-major place", "[train]") {
  // The tiled transpose of copy_into: matrices smaller than, equal to and larger than a 32 x 32 tile, odd
  // extents, leading dimensions (permuted too), a slice (offset and row stride), every element width.
  struct Case {
    Shape shape;
    std::vector<std::int64_t> order;  // permutation whose last two entries swap the last two dimensions
    std::int64_t slice_end;           // keep rows [1, slice_end) of the first dimension (0: no slice)
  };
  const std::vector<Case> cases = {{{3, 5}, {1, 0}, 0},
                                   {{32, 32}, {1, 0}, 0},
                                   {{70, 33}, {1, 0}, 0},
                                   {{4, 37, 65}, {0, 2, 1}, 0},
                                   {{2, 3, 9, 40}, {1, 0, 3, 2}, 0},
                                   {{9, 41, 3}, {0, 2, 1}, 7}};
  for (const DType type : {DType::float32, DType::float64, DType::bfloat16, DType::uint8}) {
    for (const Case& c : cases) {
      INFO(dtype_name(type) << " " << shape_string(c.shape));
      std::vector<double> values(static_cast<std::size_t>(shape_numel(c.shape)));
      for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i % 251);
      const Tensor base = from_values(values, c.shape, type);
      const Tensor sliced = c.slice_end > 0 ? slice(base, 0, 1, c.slice_end) : base;
      const Tensor view = permute(sliced, c.order);
      REQUIRE_FALSE(view.is_contiguous());
      const Tensor copy = clone(view);
      REQUIRE(copy.is_contiguous());
      REQUIRE(copy.shape() == view.shape());
      // Expected: walk the view's indices in row-major order and read the base through its strides.
      const Shape& shape = view.shape();
      std::vector<std::int64_t> index(shape.size(), 0);
      const Tensor got64 = cast(copy, DType::float64);  // contiguous already: a conversion, no copy_into
      const double* got = got64.data<double>();
      for (std::int64_t flat = 0; flat < copy.numel(); ++flat) {
        std::int64_t at = view.offset();
        for (std::size_t d = 0; d < shape.size(); ++d) at += index[d] * view.strides()[d];
        REQUIRE(got[flat] == values[static_cast<std::size_t>(at)]);
        for (std::size_t d = shape.size(); d-- > 0;) {
          if (++index[d] < shape[d]) break;
          index[d] = 0;
        }
      }
    }
  }
}
