// Data-parallel loops on the kernels' thread pool, for the work around the GEMMs (elementwise ops, pooling,
// im2col, copies, optimizer updates): the same sleeping workers the GEMMs use, so the two never compete for
// the cores, and the same thread count (set_num_threads in gemm.hpp).
#pragma once

#include <cstdint>
#include <functional>

namespace lowbit::kernels {

// Calls body(begin, end) on disjoint ranges that cover [0, count), one range per thread, the calling thread
// taking the first; returns when all are done. Ranges hold at least `grain` items (fewer threads are used
// when count is small: waking a thread costs microseconds), and a single range runs inline. The split
// depends only on count, grain and the thread count, so a body whose ranges write disjoint outputs gives
// the same result on every run. Nested calls (and calls made while another thread holds the pool) run
// body(0, count) on the calling thread.
void parallel_for(std::int64_t count, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& body);

}  // namespace lowbit::kernels
