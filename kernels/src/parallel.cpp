#include "lowbit/kernels/parallel.hpp"

#include <algorithm>

#include "cpu/thread_pool.hpp"
#include "lowbit/kernels/gemm.hpp"

namespace lowbit::kernels {

void parallel_for(std::int64_t count, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& body) {
  if (count <= 0) return;
  const std::int64_t most = count / std::max<std::int64_t>(grain, 1);
  const int threads = static_cast<int>(std::clamp<std::int64_t>(most, 1, num_threads()));
  if (threads == 1) {
    body(0, count);
    return;
  }
  cpu::run_parallel(threads, [&](int t, int used) {
    const std::int64_t begin = count * t / used, end = count * (t + 1) / used;
    if (begin < end) body(begin, end);
  });
}

}  // namespace lowbit::kernels
