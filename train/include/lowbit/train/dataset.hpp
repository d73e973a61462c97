// Image classification data (Fashion-MNIST) and the seeded shuffling and batching a training loop needs.
// Shuffles are identical on every platform and standard library: a fixed PRNG (SplitMix64) and a spelled-out
// Fisher-Yates, never std::shuffle or std::uniform_int_distribution, whose outputs are unspecified.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <vector>

namespace lowbit::train {

// Images of rows x cols bytes, `count` of them, with one label each.
struct ImageDataset {
  std::int64_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // count * rows * cols, image after image, row-major
  std::vector<std::uint8_t> labels;  // count
};

inline constexpr int kFashionMnistClasses = 10;
// Where Debian's dataset-fashion-mnist package installs the files.
inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";

// Reads an IDX image file (u8, 3 dimensions) and an IDX label file (u8, 1 dimension); checks the counts
// agree and every label is below `classes`. Throws FileError.
ImageDataset load_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels,
                              int classes = kFashionMnistClasses);

struct FashionMnist {
  ImageDataset train, test;
};

// Reads train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz) and
// t10k-labels-idx1-ubyte(.gz) from `dir`. A missing folder or file is a FileError that says where the
// dataset-fashion-mnist package puts them.
FashionMnist load_fashion_mnist(const std::filesystem::path& dir = kFashionMnistDefaultDir);

// SplitMix64 (Steele, Lea, Flood 2014; the seeder of the xoshiro generators): 64-bit outputs, fully
// specified.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform in [0, bound), bound > 0, without modulo bias (Lemire's multiply-and-reject).
  std::uint64_t below(std::uint64_t bound);

 private:
  std::uint64_t state_;
};

// 0..count-1 in an order fixed by `seed`: Fisher-Yates from the last element down, swapping element i with
// element SplitMix64(seed).below(i + 1).
std::vector<std::int64_t> shuffled_indices(std::int64_t count, std::uint64_t seed);

// [begin, end) positions of one batch.
struct BatchRange {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
  bool operator==(const BatchRange&) const = default;
};

// The batches of `count` items taken `batch` at a time; the last, partial batch is kept.
//   for (const BatchRange r : Batches(count, 64)) { ... order[r.begin .. r.end) ... }
class Batches {
 public:
  // Throws RangeError unless count >= 0 and batch > 0.
  Batches(std::int64_t count, std::int64_t batch);

  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = BatchRange;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = BatchRange;

    Iterator() = default;
    Iterator(std::int64_t begin, std::int64_t count, std::int64_t batch)
        : begin_(begin), count_(count), batch_(batch) {}
    BatchRange operator*() const { return {begin_, begin_ + std::min(batch_, count_ - begin_)}; }
    Iterator& operator++() {
      begin_ += std::min(batch_, count_ - begin_);
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const Iterator& other) const { return begin_ == other.begin_; }

   private:
    std::int64_t begin_ = 0, count_ = 0, batch_ = 1;
  };

  Iterator begin() const { return {0, count_, batch_}; }
  Iterator end() const { return {count_, count_, batch_}; }
  // Number of batches: ceil(count / batch).
  std::int64_t size() const { return (count_ + batch_ - 1) / batch_; }
  BatchRange operator[](std::int64_t i) const;

 private:
  std::int64_t count_, batch_;
};

}  // namespace lowbit::train
