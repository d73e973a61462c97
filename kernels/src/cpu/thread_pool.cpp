#include "cpu/thread_pool.hpp"

#include <immintrin.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace lowbit::kernels::cpu {

namespace {

// Whether this thread is running a body of the pool (the caller's share or a worker's).
thread_local bool t_in_body = false;

// How long a thread polls for the next call (a worker) or for the others to finish (the caller) before it
// sleeps on the condition variable: about 40 us on Zen 4. Waking a sleeping thread through the kernel took
// tens of microseconds on the project's VM, 15% of a 1 x 4096 x 4096 int4 GEMV; the poll is bounded so an
// idle pool still sleeps.
constexpr int kSpinPauses = 2000;

template <class Done>
void spin_until(Done&& done) {
  for (int i = 0; i < kSpinPauses && !done(); ++i) _mm_pause();
}

struct BodyScope {
  BodyScope() { t_in_body = true; }
  ~BodyScope() { t_in_body = false; }
  BodyScope(const BodyScope&) = delete;
  BodyScope& operator=(const BodyScope&) = delete;
};

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  void run(int threads, const std::function<void(int, int)>& body) {
    // A call from inside a body (this thread holds dispatch_, or is a worker) runs alone: waiting for the
    // pool from inside it would deadlock, and try_lock on a mutex this thread owns is undefined.
    if (t_in_body || threads <= 1) {
      body(0, 1);
      return;
    }
    std::unique_lock<std::mutex> busy(dispatch_, std::try_to_lock);
    if (!busy.owns_lock()) {
      body(0, 1);
      return;
    }
    const BodyScope scope;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (static_cast<int>(workers_.size()) < threads - 1) {
        const int index = static_cast<int>(workers_.size()) + 1;
        workers_.emplace_back([this, index] { work(index); });
      }
      body_ = &body;
      count_ = threads;
      pending_ = threads - 1;
      ++generation_;
    }
    wake_.notify_all();
    body(0, threads);
    spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    body_ = nullptr;
  }

 private:
  void work(int index) {
    std::uint64_t seen = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      seen = generation_ - 1;  // created for the call in progress: take part in it
    }
    for (;;) {
      const std::function<void(int, int)>* body = nullptr;
      int count = 0;
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
        if (index >= count_) continue;  // this call uses fewer threads
        body = body_;
        count = count_;
      }
      {
        const BodyScope scope;
        (*body)(index, count);
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex dispatch_;  // one parallel call at a time
  std::mutex mutex_;     // guards everything below
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* body_ = nullptr;
  int count_ = 0;
  // Written under mutex_; atomic so that the spins may read them without it.
  std::atomic<int> pending_{0};
  std::atomic<std::uint64_t> generation_{0};
  bool stop_ = false;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

void run_parallel(int threads, const std::function<void(int, int)>& body) {
  pool().run(threads, body);
}

}  // namespace lowbit::kernels::cpu
