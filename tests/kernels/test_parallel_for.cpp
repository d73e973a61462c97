// kernels::parallel_for: every index handled exactly once, ranges of at least `grain`, one inline call when
// the work is small, and nested calls that run on the calling thread instead of waiting for the pool.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "lowbit/kernels/gemm.hpp"
#include "lowbit/kernels/parallel.hpp"

using namespace lowbit;

namespace {

struct Range {
  std::int64_t begin, end;
  std::thread::id thread;
};

std::vector<Range> ranges_of(std::int64_t count, std::int64_t grain) {
  std::mutex mutex;
  std::vector<Range> ranges;
  kernels::parallel_for(count, grain, [&](std::int64_t begin, std::int64_t end) {
    std::lock_guard<std::mutex> lock(mutex);
    ranges.push_back({begin, end, std::this_thread::get_id()});
  });
  return ranges;
}

}  // namespace

TEST_CASE("parallel_for covers every index once, in ranges of at least the grain", "[kernels]") {
  kernels::set_num_threads(2);
  for (const std::int64_t count : {1, 2, 7, 99, 100, 101, 4096, 100003}) {
    for (const std::int64_t grain : {1, 50, 1000}) {
      INFO("count " << count << " grain " << grain);
      std::vector<int> hits(static_cast<std::size_t>(count), 0);
      const std::vector<Range> ranges = ranges_of(count, grain);
      for (const Range& r : ranges) {
        REQUIRE(r.begin < r.end);
        if (ranges.size() > 1) REQUIRE(r.end - r.begin >= grain);
        for (std::int64_t i = r.begin; i < r.end; ++i) ++hits[static_cast<std::size_t>(i)];
      }
      for (int h : hits) REQUIRE(h == 1);
      REQUIRE(ranges.size() ==
              static_cast<std::size_t>(std::min<std::int64_t>(2, std::max<std::int64_t>(1, count / grain))));
    }
  }
}

TEST_CASE("parallel_for runs small work, one thread's worth and zero counts on the calling thread",
          "[kernels]") {
  kernels::set_num_threads(2);
  const std::vector<Range> small = ranges_of(10, 8);
  REQUIRE(small.size() == 1);
  REQUIRE(small[0].thread == std::this_thread::get_id());
  REQUIRE(ranges_of(0, 1).empty());
  kernels::set_num_threads(1);
  const std::vector<Range> one = ranges_of(100000, 1);
  REQUIRE(one.size() == 1);
  REQUIRE(one[0].end == 100000);
  kernels::set_num_threads(2);
}

TEST_CASE("A parallel_for inside a parallel_for runs its body on the calling thread", "[kernels]") {
  kernels::set_num_threads(2);
  std::atomic<int> inner_calls{0}, inner_elsewhere{0};
  std::atomic<std::int64_t> covered{0};
  kernels::parallel_for(2, 1, [&](std::int64_t, std::int64_t) {
    const auto outer = std::this_thread::get_id();
    kernels::parallel_for(1000, 1, [&](std::int64_t begin, std::int64_t end) {
      ++inner_calls;
      if (std::this_thread::get_id() != outer) ++inner_elsewhere;
      covered += end - begin;
    });
  });
  REQUIRE(covered == 2000);
  REQUIRE(inner_elsewhere == 0);
}
