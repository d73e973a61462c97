// Memory accounting: categories add up, peaks follow the largest live value, scopes nest.
#include <catch2/catch.hpp>

#include "lowbit/train/memory.hpp"

using namespace lowbit::train;

TEST_CASE("memory counters track live and peak bytes per category", "[train]") {
  reset_memory_peaks();
  const MemoryStats before = memory_stats();
  record_allocation(MemoryCategory::weights, 1000);
  record_allocation(MemoryCategory::activations, 500);
  record_release(MemoryCategory::activations, 500);
  const MemoryStats after = memory_stats();
  CHECK(after.live_of(MemoryCategory::weights) - before.live_of(MemoryCategory::weights) == 1000);
  CHECK(after.live_of(MemoryCategory::activations) == before.live_of(MemoryCategory::activations));
  CHECK(after.peak_of(MemoryCategory::activations) - before.live_of(MemoryCategory::activations) == 500);
  CHECK(after.peak_total - before.live_total == 1500);
  record_release(MemoryCategory::weights, 1000);
}

TEST_CASE("memory category scopes nest and restore the previous category", "[train]") {
  CHECK(MemoryCategoryScope::current() == MemoryCategory::activations);
  {
    MemoryCategoryScope weights(MemoryCategory::weights);
    CHECK(MemoryCategoryScope::current() == MemoryCategory::weights);
    {
      MemoryCategoryScope grads(MemoryCategory::gradients);
      CHECK(MemoryCategoryScope::current() == MemoryCategory::gradients);
    }
    CHECK(MemoryCategoryScope::current() == MemoryCategory::weights);
  }
  CHECK(MemoryCategoryScope::current() == MemoryCategory::activations);
}
