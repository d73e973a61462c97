#include "lowbit/train/dataset.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <system_error>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/idx.hpp"

namespace lowbit::train {
namespace {

namespace fs = std::filesystem;

constexpr const char* kInstallHint =
    "the Debian package dataset-fashion-mnist installs the files in /usr/share/datasets/fashion-mnist "
    "(apt install dataset-fashion-mnist), or pass the folder that holds them";

// The .gz file when present, else the uncompressed one.
fs::path find_file(const fs::path& dir, const std::string& stem) {
  std::error_code ec;
  for (const fs::path& candidate : {dir / (stem + ".gz"), dir / stem}) {
    if (fs::exists(candidate, ec)) return candidate;
  }
  throw FileError(
      fmt::format("{}: neither {}.gz nor {} is there; {}", dir.string(), stem, stem, kInstallHint));
}

}  // namespace

ImageDataset load_idx_dataset(const fs::path& images, const fs::path& labels, int classes) {
  IdxArray image_array = read_idx(images);
  IdxArray label_array = read_idx(labels);
  if (image_array.type != IdxType::u8 || image_array.dims.size() != 3) {
    throw FileError(
        fmt::format("{}: magic: expected unsigned-byte images with 3 dimensions (0x00000803), got "
                    "type 0x{:02x} with {} dimensions",
                    images.string(), static_cast<int>(image_array.type), image_array.dims.size()));
  }
  if (label_array.type != IdxType::u8 || label_array.dims.size() != 1) {
    throw FileError(
        fmt::format("{}: magic: expected unsigned-byte labels with 1 dimension (0x00000801), got "
                    "type 0x{:02x} with {} dimensions",
                    labels.string(), static_cast<int>(label_array.type), label_array.dims.size()));
  }
  if (image_array.dims[0] != label_array.dims[0]) {
    throw FileError(fmt::format("{} has {} images but {} has {} labels", images.string(), image_array.dims[0],
                                labels.string(), label_array.dims[0]));
  }
  for (std::size_t i = 0; i < label_array.data.size(); ++i) {
    if (label_array.data[i] >= classes) {
      throw FileError(fmt::format("{}: label {} is {}, not a class below {}", labels.string(), i,
                                  label_array.data[i], classes));
    }
  }
  ImageDataset set;
  set.count = image_array.dims[0];
  set.rows = image_array.dims[1];
  set.cols = image_array.dims[2];
  set.pixels = std::move(image_array.data);
  set.labels = std::move(label_array.data);
  return set;
}

FashionMnist load_fashion_mnist(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw FileError(fmt::format("{}: no such folder for Fashion-MNIST; {}", dir.string(), kInstallHint));
  }
  FashionMnist data;
  data.train =
      load_idx_dataset(find_file(dir, "train-images-idx3-ubyte"), find_file(dir, "train-labels-idx1-ubyte"));
  data.test =
      load_idx_dataset(find_file(dir, "t10k-images-idx3-ubyte"), find_file(dir, "t10k-labels-idx1-ubyte"));
  return data;
}

std::uint64_t SplitMix64::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t SplitMix64::below(std::uint64_t bound) {
  // Lemire, "Fast random integer generation in an interval" (2019): the high half of x * bound, rejecting
  // the few x whose low half falls under 2^64 mod bound.
  unsigned __int128 m = static_cast<unsigned __int128>(next()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(next()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

std::vector<std::int64_t> shuffled_indices(std::int64_t count, std::uint64_t seed) {
  if (count < 0) throw RangeError(fmt::format("shuffled_indices: count {} is negative", count));
  std::vector<std::int64_t> order(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) order[static_cast<std::size_t>(i)] = i;
  SplitMix64 rng(seed);
  for (std::int64_t i = count - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i) + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

Batches::Batches(std::int64_t count, std::int64_t batch) : count_(count), batch_(batch) {
  if (count < 0 || batch <= 0) {
    throw RangeError(
        fmt::format("batches: need count >= 0 and batch > 0, got count {} and batch {}", count, batch));
  }
}

BatchRange Batches::operator[](std::int64_t i) const {
  if (i < 0 || i >= size()) throw RangeError(fmt::format("batch {} of {} does not exist", i, size()));
  return {i * batch_, std::min(count_, (i + 1) * batch_)};
}

}  // namespace lowbit::train
