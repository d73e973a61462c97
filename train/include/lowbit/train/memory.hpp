// Memory accounting: live and peak bytes of tensor storage by category, so a training step can report where
// its memory goes (weights, gradients, optimizer state, activations). Every Storage registers its bytes
// under the category in force when it was allocated (MemoryCategoryScope); the default is activations,
// which also covers the temporaries of the backward pass.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lowbit::train {

// master_weights: the fp32 masters that mixed precision keeps beside low-precision working weights (the
// working copies count as weights), so a report shows AMP's layout (4 + 2 bytes per parameter).
enum class MemoryCategory : std::uint8_t { weights, gradients, optimizer, activations, master_weights };
inline constexpr std::size_t kMemoryCategoryCount = 5;
std::string_view memory_category_name(MemoryCategory category);

struct MemoryStats {
  std::array<std::int64_t, kMemoryCategoryCount> live{};  // bytes allocated now
  std::array<std::int64_t, kMemoryCategoryCount> peak{};  // most bytes allocated at once since reset_peaks
  std::int64_t live_total = 0;
  std::int64_t peak_total = 0;
  std::int64_t live_of(MemoryCategory c) const { return live[static_cast<std::size_t>(c)]; }
  std::int64_t peak_of(MemoryCategory c) const { return peak[static_cast<std::size_t>(c)]; }
};

// The process-wide counters (thread-safe).
MemoryStats memory_stats();
// Starts a new peak measurement: each peak becomes the current live value.
void reset_memory_peaks();
void record_allocation(MemoryCategory category, std::int64_t bytes);
void record_release(MemoryCategory category, std::int64_t bytes);

// The category new storage is charged to on this thread while the scope lives.
class MemoryCategoryScope {
 public:
  explicit MemoryCategoryScope(MemoryCategory category);
  ~MemoryCategoryScope();
  MemoryCategoryScope(const MemoryCategoryScope&) = delete;
  MemoryCategoryScope& operator=(const MemoryCategoryScope&) = delete;
  static MemoryCategory current();

 private:
  MemoryCategory previous_;
};

}  // namespace lowbit::train
