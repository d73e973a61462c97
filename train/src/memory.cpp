#include "lowbit/train/memory.hpp"

#include <algorithm>
#include <mutex>

namespace lowbit::train {

namespace {

std::mutex g_mutex;
MemoryStats g_stats;
thread_local MemoryCategory t_category = MemoryCategory::activations;

}  // namespace

std::string_view memory_category_name(MemoryCategory category) {
  switch (category) {
    case MemoryCategory::weights:
      return "weights";
    case MemoryCategory::gradients:
      return "gradients";
    case MemoryCategory::optimizer:
      return "optimizer";
    case MemoryCategory::activations:
      return "activations";
    case MemoryCategory::master_weights:
      return "master_weights";
  }
  return "unknown";
}

MemoryStats memory_stats() {
  std::lock_guard lock(g_mutex);
  return g_stats;
}

void reset_memory_peaks() {
  std::lock_guard lock(g_mutex);
  g_stats.peak = g_stats.live;
  g_stats.peak_total = g_stats.live_total;
}

void record_allocation(MemoryCategory category, std::int64_t bytes) {
  std::lock_guard lock(g_mutex);
  const auto i = static_cast<std::size_t>(category);
  g_stats.live[i] += bytes;
  g_stats.peak[i] = std::max(g_stats.peak[i], g_stats.live[i]);
  g_stats.live_total += bytes;
  g_stats.peak_total = std::max(g_stats.peak_total, g_stats.live_total);
}

void record_release(MemoryCategory category, std::int64_t bytes) {
  std::lock_guard lock(g_mutex);
  g_stats.live[static_cast<std::size_t>(category)] -= bytes;
  g_stats.live_total -= bytes;
}

MemoryCategoryScope::MemoryCategoryScope(MemoryCategory category) : previous_(t_category) {
  t_category = category;
}
MemoryCategoryScope::~MemoryCategoryScope() {
  t_category = previous_;
}
MemoryCategory MemoryCategoryScope::current() {
  return t_category;
}

}  // namespace lowbit::train
