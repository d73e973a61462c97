// Datasets: IDX image/label pairs, the real Fashion-MNIST files, seeded shuffling and batching.
#include <array>
#include <catch2/catch.hpp>
#include <numeric>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/dataset.hpp"
#include "test_idx_support.hpp"

using namespace lowbit::train;
using namespace lowbit_test;
using Catch::Contains;

TEST_CASE("an image and a label IDX file load as one dataset", "[train]") {
  TempDir dir;
  Bytes pixels(2 * 3 * 4);
  std::iota(pixels.begin(), pixels.end(), std::uint8_t{0});
  write_bytes(dir / "img", idx_image(0x08, {2, 3, 4}, pixels));
  write_bytes(dir / "lab.gz", gzip_stored(idx_image(0x08, {2}, {7, 9})));
  const ImageDataset set = load_idx_dataset(dir / "img", dir / "lab.gz");
  CHECK(set.count == 2);
  CHECK(set.rows == 3);
  CHECK(set.cols == 4);
  CHECK(set.pixels == pixels);
  CHECK(set.labels == Bytes{7, 9});
}

TEST_CASE("image and label counts that disagree are rejected", "[train]") {
  TempDir dir;
  write_bytes(dir / "img", idx_image(0x08, {2, 1, 1}, {0, 0}));
  write_bytes(dir / "lab", idx_image(0x08, {3}, {0, 0, 0}));
  CHECK_THROWS_WITH(load_idx_dataset(dir / "img", dir / "lab"),
                    Contains("has 2 images but") && Contains("has 3 labels"));
}

TEST_CASE("a label outside the classes is rejected", "[train]") {
  TempDir dir;
  write_bytes(dir / "img", idx_image(0x08, {2, 1, 1}, {0, 0}));
  write_bytes(dir / "lab", idx_image(0x08, {2}, {3, 10}));
  CHECK_THROWS_WITH(load_idx_dataset(dir / "img", dir / "lab"),
                    Contains("label 1 is 10, not a class below 10"));
}

TEST_CASE("image and label files of the wrong kind are rejected", "[train]") {
  TempDir dir;
  write_bytes(dir / "img", idx_image(0x08, {2, 1, 1}, {0, 0}));
  write_bytes(dir / "lab", idx_image(0x08, {2}, {0, 0}));
  write_bytes(dir / "i32", idx_image(0x0C, {2}, Bytes(8)));
  CHECK_THROWS_WITH(load_idx_dataset(dir / "lab", dir / "lab"), Contains("3 dimensions (0x00000803)"));
  CHECK_THROWS_WITH(load_idx_dataset(dir / "img", dir / "img"), Contains("1 dimension (0x00000801)"));
  CHECK_THROWS_WITH(load_idx_dataset(dir / "img", dir / "i32"), Contains("type 0x0c"));
}

TEST_CASE("the installed Fashion-MNIST loads: 60000 and 10000 images of 28x28, balanced classes", "[train]") {
  if (!std::filesystem::exists(kFashionMnistDefaultDir)) {
    WARN("Fashion-MNIST is not installed (apt install dataset-fashion-mnist); skipped");
    return;
  }
  const FashionMnist data = load_fashion_mnist();
  CHECK(data.train.count == 60000);
  CHECK(data.test.count == 10000);
  for (const ImageDataset* set : {&data.train, &data.test}) {
    CHECK(set->rows == 28);
    CHECK(set->cols == 28);
    CHECK(set->pixels.size() == static_cast<std::size_t>(set->count * 28 * 28));
    CHECK(set->labels.size() == static_cast<std::size_t>(set->count));
  }
  std::array<int, 10> train_hist{}, test_hist{};
  for (const auto l : data.train.labels) ++train_hist[l];
  for (const auto l : data.test.labels) ++test_hist[l];
  for (int c = 0; c < 10; ++c) {
    CHECK(train_hist[c] == 6000);
    CHECK(test_hist[c] == 1000);
  }
  // Independent reference: Python's gzip module on the same files.
  CHECK(Bytes(data.train.labels.begin(), data.train.labels.begin() + 6) == Bytes{9, 0, 0, 3, 0, 2});
  CHECK(Bytes(data.test.labels.begin(), data.test.labels.begin() + 6) == Bytes{9, 2, 1, 1, 6, 1});
  CHECK(std::accumulate(data.train.pixels.begin(), data.train.pixels.begin() + 784, 0) == 76247);
}

TEST_CASE("Fashion-MNIST also loads from uncompressed files", "[train]") {
  TempDir dir;
  write_bytes(dir / "train-images-idx3-ubyte", idx_image(0x08, {1, 2, 2}, {1, 2, 3, 4}));
  write_bytes(dir / "train-labels-idx1-ubyte", idx_image(0x08, {1}, {5}));
  write_bytes(dir / "t10k-images-idx3-ubyte.gz", gzip_stored(idx_image(0x08, {1, 2, 2}, {4, 3, 2, 1})));
  write_bytes(dir / "t10k-labels-idx1-ubyte", idx_image(0x08, {1}, {6}));
  const FashionMnist data = load_fashion_mnist(dir.path());
  CHECK(data.train.pixels == Bytes{1, 2, 3, 4});
  CHECK(data.test.pixels == Bytes{4, 3, 2, 1});
  CHECK(data.test.labels == Bytes{6});
}

TEST_CASE("a missing Fashion-MNIST folder or file says which package installs it", "[train]") {
  TempDir dir;
  CHECK_THROWS_WITH(load_fashion_mnist(dir / "nowhere"), Contains("nowhere") &&
                                                             Contains("dataset-fashion-mnist") &&
                                                             Contains("/usr/share/datasets/fashion-mnist"));
  write_bytes(dir / "train-images-idx3-ubyte.gz", gzip_stored(idx_image(0x08, {1, 1, 1}, {0})));
  CHECK_THROWS_WITH(load_fashion_mnist(dir.path()),
                    Contains("train-labels-idx1-ubyte.gz") && Contains("dataset-fashion-mnist"));
}

TEST_CASE("SplitMix64 gives the published reference outputs", "[train]") {
  // Outputs of the reference splitmix64.c (Vigna) seeded with 1234567.
  SplitMix64 rng(1234567);
  CHECK(rng.next() == 6457827717110365317ull);
  CHECK(rng.next() == 3203168211198807973ull);
  CHECK(rng.next() == 9817491932198370423ull);
  CHECK(rng.next() == 4593380528125082431ull);
  CHECK(rng.next() == 16408922859458223821ull);
}

TEST_CASE("shuffled indices are a seeded permutation, the same on every platform", "[train]") {
  // Expected orders from an independent Python implementation of the documented algorithm.
  CHECK(shuffled_indices(10, 42) == std::vector<std::int64_t>{8, 3, 6, 5, 4, 0, 9, 2, 1, 7});
  CHECK(shuffled_indices(20, 1) ==
        std::vector<std::int64_t>{9, 1, 13, 10, 0, 2, 15, 18, 5, 4, 8, 3, 6, 12, 19, 16, 7, 17, 14, 11});
  const auto a = shuffled_indices(60000, 7);
  CHECK(a == shuffled_indices(60000, 7));
  CHECK(a != shuffled_indices(60000, 8));
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> identity(60000);
  std::iota(identity.begin(), identity.end(), 0);
  CHECK(sorted == identity);
  CHECK(shuffled_indices(0, 1).empty());
  CHECK(shuffled_indices(1, 1) == std::vector<std::int64_t>{0});
  CHECK_THROWS_AS(shuffled_indices(-1, 1), lowbit::RangeError);
}

TEST_CASE("batches cover every item once and keep the last partial batch", "[train]") {
  std::vector<BatchRange> got;
  for (const BatchRange r : Batches(10, 4)) got.push_back(r);
  CHECK(got == std::vector<BatchRange>{{0, 4}, {4, 8}, {8, 10}});
  const Batches even(8, 4);
  CHECK(even.size() == 2);
  CHECK(even[1] == BatchRange{4, 8});
  CHECK(Batches(0, 4).size() == 0);
  CHECK(Batches(0, 4).begin() == Batches(0, 4).end());
  CHECK(Batches(3, 100)[0].size() == 3);
  CHECK_THROWS_AS(Batches(10, 0), lowbit::RangeError);
  CHECK_THROWS_AS(Batches(-1, 4), lowbit::RangeError);
  CHECK_THROWS_AS(even[2], lowbit::RangeError);
}
