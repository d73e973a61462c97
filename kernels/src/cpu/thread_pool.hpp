// The kernels' worker threads: a small persistent pool whose idle workers sleep on a condition variable.
// OpenMP's default (libgomp) spins at every barrier; on a 2-core machine shared with other jobs a spinning
// thread fights the job that holds the other core, and a 512³ product took 8 ms instead of 0.4 (measured,
// bench/RESULTS.md). Sleeping costs a few microseconds of wake-up, which the size thresholds absorb.
#pragma once

#include <functional>

namespace lowbit::kernels::cpu {

// Runs body(t, count) for t = 0 .. count-1, count = min(threads, what the pool can give), t = 0 on the
// calling thread, and returns when all are done. Calls from several threads at once are safe: a caller
// that finds the pool busy, or that is itself running a body (a nested call), runs body(0, 1) alone.
void run_parallel(int threads, const std::function<void(int, int)>& body);

}  // namespace lowbit::kernels::cpu
