// A byte-count progress bar on stderr for the checkpoint commands, drawn only when stderr is a terminal
// (so pipes and logs stay clean) and at most once per percent.
#pragma once

#include <fmt/format.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace lowbit::cli {

class ByteProgress {
 public:
  explicit ByteProgress(std::string label)
      : label_(std::move(label)), enabled_(::isatty(STDERR_FILENO) != 0) {}
  ~ByteProgress() {
    if (drawn_) fmt::print(stderr, "\n");
  }
  void update(std::uint64_t done, std::uint64_t total) {
    if (!enabled_ || total == 0) return;
    const int percent = static_cast<int>(100 * done / total);
    if (percent == last_) return;
    last_ = percent;
    constexpr int kWidth = 30;
    const int filled = percent * kWidth / 100;
    fmt::print(stderr, "\r{} [{}{}] {:3d}%  {:.1f}/{:.1f} MB", label_, std::string(filled, '#'),
               std::string(kWidth - filled, ' '), percent, static_cast<double>(done) / 1e6,
               static_cast<double>(total) / 1e6);
    std::fflush(stderr);
    drawn_ = true;
  }

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  int last_ = -1;
};

}  // namespace lowbit::cli
