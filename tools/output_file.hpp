// The CLI's output: a file written through lowbit::train::AtomicFile (it appears only when complete), or
// stdout for "-" (no atomicity possible there).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "lowbit/train/atomic_file.hpp"

namespace lowbit::cli {

class AtomicOutput {
 public:
  explicit AtomicOutput(const std::string& path);

  void write(const void* data, std::size_t bytes);
  void commit();

 private:
  std::optional<train::AtomicFile> file_;  // empty for stdout
};

// Reads up to `bytes` from fd, looping over short reads; returns the count (less only at end of input).
std::size_t read_fully(int fd, void* data, std::size_t bytes, const std::string& name);

}  // namespace lowbit::cli
