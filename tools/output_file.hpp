// An output file that appears only when complete: written to a temporary beside the target and renamed
// on commit(); removed if destroyed before. "-" means stdout (no atomicity possible there).
#pragma once

#include <cstddef>
#include <string>

namespace lowbit::cli {

class AtomicOutput {
 public:
  explicit AtomicOutput(const std::string& path);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  void write(const void* data, std::size_t bytes);
  void commit();

 private:
  std::string path_, temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Reads up to `bytes` from fd, looping over short reads; returns the count (less only at end of input).
std::size_t read_fully(int fd, void* data, std::size_t bytes, const std::string& name);

}  // namespace lowbit::cli
