// The fp32 GEMM driver: the five Goto/BLIS loops around the micro-kernel, compiled once per Highway target
// (foreach_target.h re-includes this file) and chosen by HWY_DYNAMIC_DISPATCH.
//
// Blocking (AVX-512, per core: 48 KiB L1d, 2 MiB L2): the micro-kernel sweeps a kc x 32 panel of packed B
// (kKC = 1024: 128 KiB, in L2) against the mc x kc block of packed A (kMC = 336 rows: 1.3 MiB, in L2); the
// kc x nc block of B (kNC columns) is reused from L2/L3 across all mc blocks. Each k block reads and writes
// all of C once (64 MiB at 4096^2, more than the L3 keeps beside A and B) and costs two barriers, so the
// deeper block pays: kc 1024 against 512, interleaved runs, 2 threads, best of 3-5: 4096^3 196 against 188
// GFLOP/s on a quiet machine, 141-171 against 115-139 on a busy one; 2048^3 214 against 212 (quiet), 149-159
// against 130-134 (busy). An earlier sweep found kc 256 clearly worse and mc 168..672 alike. Products of
// few rows read B in place with k blocks of kDirectKC (1024 was slower there).
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>

#include "cpu/sgemm.hpp"
#include "cpu/thread_pool.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/sgemm_simd.cpp"
#include <hwy/aligned_allocator.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "cpu/microkernel_f32-inl.h"
#include "cpu/pack_f32-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lowbit::kernels::cpu::HWY_NAMESPACE {

inline constexpr std::int64_t kKC = 1024;
inline constexpr std::int64_t kDirectKC = 512;
inline constexpr std::int64_t kMCTiles = 24;  // kMC = kMCTiles * kMR rows
inline constexpr std::int64_t kNC = 2048;  // columns of B per packed block (a multiple of every tile width)
// Products no taller than one register tile (and B not transposed) skip packing (sgemm_direct): each element
// of B is then read exactly once, so packing it would only add a write and a read (a convolution's weight
// gradient, 9 x 32 x 200704, is all B).
inline constexpr std::int64_t kDirectMaxRows = static_cast<std::int64_t>(kMR);
// Products of at most this many row tiles split their columns between the threads, not their rows.
inline constexpr std::int64_t kColumnSplitMaxTiles = 6;
// Below this many multiply-adds one thread does the whole product: waking the second costs more than it
// saves.
inline constexpr std::int64_t kThreadedMinMacs = std::int64_t{1} << 19;

// A per-thread buffer that grows on demand and is kept for the next call (thread_local: each of the
// OpenMP pool's threads has its own).
float* scratch(hwy::AlignedFreeUniquePtr<float[]>& buffer, std::size_t& capacity, std::size_t floats) {
  if (floats > capacity) {
    buffer = hwy::AllocateAligned<float>(floats);
    capacity = floats;
  }
  return buffer.get();
}

// Whether A is packed for a block of nc columns: packing reads and writes every element of A once more, and
// pays off only when each element is then used by enough B panels. For a few panels (a convolution's weight
// gradient has 32 or 64 columns, linear layers 10 to 128) the micro-kernel reads A where it is.
inline bool packs_a(std::int64_t nc) {
  return nc > 4 * static_cast<std::int64_t>(tile_cols());
}

// Rows [i_begin, i_end) of C, columns [jc, jc + nc), k block [pc, pc + kc), against one packed block of B:
// A packed kMC rows at a time into `packed_a` (or read in place, see packs_a) and the micro-kernel over
// every tile. Both drivers' inner loops (private and shared B).
inline void multiply_packed_block(const SgemmArgs& g, std::int64_t i_begin, std::int64_t i_end,
                                  std::int64_t pc, std::int64_t kc, std::int64_t jc, std::int64_t nc,
                                  float beta, float* packed_a, const float* packed_b) {
  const auto mr = static_cast<std::int64_t>(kMR);
  const auto nr = static_cast<std::int64_t>(tile_cols());
  const std::int64_t mc_max = kMCTiles * mr;
  const bool packed = packs_a(nc);
  for (std::int64_t ic = i_begin; ic < i_end; ic += mc_max) {
    const std::int64_t mc = std::min(mc_max, i_end - ic);
    if (packed) pack_a_f32(g.a, g.lda, g.transpose_a, ic, mc, pc, kc, kMR, packed_a);
    for (std::int64_t jr = 0; jr < nc; jr += nr) {
      const float* b_panel = packed_b + jr * kc;
      const auto cols = static_cast<std::size_t>(std::min(nr, nc - jr));
      for (std::int64_t ir = 0; ir < mc; ir += mr) {
        const auto rows = static_cast<std::size_t>(std::min(mr, mc - ir));
        float* c = g.c + (ic + ir) * g.ldc + jc + jr;
        const auto steps = static_cast<std::size_t>(kc);
        if (packed) {
          multiply_tile_f32<AWalk::kColumns>(rows, steps, packed_a + ir * kc, 1, mr, b_panel, c, g.ldc,
                                             g.alpha, beta, cols);
        } else if (g.transpose_a) {  // A(i, p) = a[p * lda + i]: rows side by side, k steps lda apart
          multiply_tile_f32<AWalk::kColumns>(rows, steps, g.a + pc * g.lda + ic + ir, 1, g.lda, b_panel, c,
                                             g.ldc, g.alpha, beta, cols);
        } else {  // A(i, p) = a[i * lda + p]: one stream per row
          multiply_tile_f32<AWalk::kRows>(rows, steps, g.a + (ic + ir) * g.lda + pc, g.lda, g.lda, b_panel, c,
                                          g.ldc, g.alpha, beta, cols);
        }
      }
    }
  }
}

// C[i_begin .. i_end) x [j_begin .. j_end): the Goto loops on one thread.
HWY_NOINLINE void sgemm_block(const SgemmArgs& g, std::int64_t i_begin, std::int64_t i_end,
                              std::int64_t j_begin, std::int64_t j_end) {
  const auto mr = static_cast<std::int64_t>(kMR);
  const auto nr = static_cast<std::int64_t>(tile_cols());
  const std::int64_t mc_max = kMCTiles * mr;
  thread_local hwy::AlignedFreeUniquePtr<float[]> a_buffer, b_buffer;
  thread_local std::size_t a_capacity = 0, b_capacity = 0;
  float* packed_a = scratch(a_buffer, a_capacity, static_cast<std::size_t>(mc_max * kKC));
  float* packed_b = scratch(b_buffer, b_capacity, static_cast<std::size_t>(kNC * kKC));
  for (std::int64_t jc = j_begin; jc < j_end; jc += kNC) {
    const std::int64_t nc = std::min(kNC, j_end - jc);
    for (std::int64_t pc = 0; pc < g.k; pc += kKC) {
      const std::int64_t kc = std::min(kKC, g.k - pc);
      const float beta = pc == 0 ? g.beta : 1.0f;  // later k blocks add to what the first one wrote
      pack_b_f32(g.b, g.ldb, g.transpose_b, pc, kc, jc, nc, static_cast<std::size_t>(nr), packed_b);
      multiply_packed_block(g, i_begin, i_end, pc, kc, jc, nc, beta, packed_a, packed_b);
    }
  }
}

// One column tile [j, j + cols) of rows [i, i + kRows) of C over k [pc, pc + kc), from unpacked A and B.
template <std::size_t kRows>
void direct_tile(const SgemmArgs& g, std::int64_t i, std::int64_t j, std::int64_t cols, std::int64_t pc,
                 std::int64_t kc, float beta) {
  const std::int64_t a_row = g.transpose_a ? 1 : g.lda, a_k = g.transpose_a ? g.lda : 1;
  const float* a = g.a + i * a_row + pc * a_k;
  const float* b = g.b + pc * g.ldb + j;
  float* c = g.c + i * g.ldc + j;
  if (cols == static_cast<std::int64_t>(tile_cols())) {
    direct_kernel_f32<kRows, false>(static_cast<std::size_t>(kc), a, a_row, a_k, b, g.ldb, c, g.ldc, g.alpha,
                                    beta, static_cast<std::size_t>(cols));
  } else {
    direct_kernel_f32<kRows, true>(static_cast<std::size_t>(kc), a, a_row, a_k, b, g.ldb, c, g.ldc, g.alpha,
                                   beta, static_cast<std::size_t>(cols));
  }
}

// Columns [j0, j1) of C from unpacked A and B (B not transposed). k is blocked by kDirectKC so that a block
// of B rows is swept tile after tile (adjacent 128-byte pieces of the same rows, which the prefetchers and
// the TLB follow) rather than one tile down all K rows; all row tiles (kMR, then 8, 4, 2, 1 rows) of a column
// tile run back to back while its piece of B is in L1.
HWY_NOINLINE void sgemm_direct(const SgemmArgs& g, std::int64_t j0, std::int64_t j1) {
  const auto nr = static_cast<std::int64_t>(tile_cols());
  const auto mr = static_cast<std::int64_t>(kMR);
  for (std::int64_t pc = 0; pc < g.k; pc += kDirectKC) {
    const std::int64_t kc = std::min(kDirectKC, g.k - pc);
    const float beta = pc == 0 ? g.beta : 1.0f;
    for (std::int64_t j = j0; j < j1; j += nr) {
      const std::int64_t cols = std::min(nr, j1 - j);
      std::int64_t i = 0;
      for (; i + mr <= g.m; i += mr) direct_tile<kMR>(g, i, j, cols, pc, kc, beta);
      for (; i + 8 <= g.m; i += 8) direct_tile<8>(g, i, j, cols, pc, kc, beta);
      for (; i + 4 <= g.m; i += 4) direct_tile<4>(g, i, j, cols, pc, kc, beta);
      for (; i + 2 <= g.m; i += 2) direct_tile<2>(g, i, j, cols, pc, kc, beta);
      for (; i < g.m; ++i) direct_tile<1>(g, i, j, cols, pc, kc, beta);
    }
  }
}

// The Goto loops on `count` threads sharing one packed block of B: for each kc x nc block, every thread packs
// its share of the B panels, and after a barrier the threads take blocks of rows of A from a shared counter
// (each packs its blocks into its own buffer) and multiply them by the whole block of B. B is packed once
// in total instead of once per thread. Taking row blocks as they come, rather than half the rows each,
// lets a thread that loses its core for a while (a shared machine) leave its work to the other instead of
// holding it at the next barrier; every tile of C is still computed whole by one thread, in the same order,
// so the result does not depend on who took it.
HWY_NOINLINE void sgemm_shared_b(const SgemmArgs& g, int t, int count, std::barrier<>& sync,
                                 std::atomic<std::int64_t>& next_block) {
  const auto mr = static_cast<std::int64_t>(kMR);
  const auto nr = static_cast<std::int64_t>(tile_cols());
  const std::int64_t mc_max = kMCTiles * mr;
  static hwy::AlignedFreeUniquePtr<float[]> b_buffer;  // used only by the pool's one parallel call at a time
  static std::size_t b_capacity = 0;
  if (t == 0) scratch(b_buffer, b_capacity, static_cast<std::size_t>(kNC * kKC));
  thread_local hwy::AlignedFreeUniquePtr<float[]> a_buffer;
  thread_local std::size_t a_capacity = 0;
  float* packed_a = scratch(a_buffer, a_capacity, static_cast<std::size_t>(mc_max * kKC));
  const std::int64_t tiles = (g.m + mr - 1) / mr;
  // Guided self-scheduling: each take is a share of what is left (at most kMCTiles tiles, at least one), so
  // the blocks shrink toward the end and the threads finish together.
  auto take = [&](std::int64_t& first) {
    std::int64_t next = next_block.load(std::memory_order_relaxed), size = 0;
    do {
      if (next >= tiles) return std::int64_t{0};
      size = std::clamp<std::int64_t>((tiles - next) / (2 * count), 1, kMCTiles);
    } while (!next_block.compare_exchange_weak(next, next + size, std::memory_order_relaxed));
    first = next;
    return size;
  };
  for (std::int64_t jc = 0; jc < g.n; jc += kNC) {
    const std::int64_t nc = std::min(kNC, g.n - jc);
    const std::int64_t panels = (nc + nr - 1) / nr;
    for (std::int64_t pc = 0; pc < g.k; pc += kKC) {
      const std::int64_t kc = std::min(kKC, g.k - pc);
      const float beta = pc == 0 ? g.beta : 1.0f;
      sync.arrive_and_wait();  // the previous block of B is no longer read (and, first time, allocated)
      if (t == 0) next_block.store(0, std::memory_order_relaxed);  // nobody takes blocks until the barrier
      float* packed_b = b_buffer.get();
      const std::int64_t q0 = panels * t / count, q1 = panels * (t + 1) / count;
      if (q0 < q1) {
        pack_b_f32(g.b, g.ldb, g.transpose_b, pc, kc, jc + q0 * nr, std::min(nc, q1 * nr) - q0 * nr,
                   static_cast<std::size_t>(nr), packed_b + q0 * nr * kc);
      }
      sync.arrive_and_wait();  // the whole block of B is packed
      std::int64_t first = 0;
      for (std::int64_t size = take(first); size > 0; size = take(first)) {
        multiply_packed_block(g, first * mr, std::min(g.m, (first + size) * mr), pc, kc, jc, nc, beta,
                              packed_a, packed_b);
      }
    }
  }
}

void SgemmPacked(const SgemmArgs& g) {
  const std::int64_t macs = g.m * g.n * g.k;
  if (g.m <= kDirectMaxRows && !g.transpose_b) {
    // Few rows: B is read once, straight from the caller's matrix (packing it would cost as much again).
    const int threads = macs < kThreadedMinMacs ? 1 : g.threads;
    if (threads <= 1) {
      sgemm_direct(g, 0, g.n);
      return;
    }
    const std::int64_t unit = static_cast<std::int64_t>(tile_cols());
    const std::int64_t units = (g.n + unit - 1) / unit;
    run_parallel(threads, [&](int t, int count) {
      const std::int64_t begin = std::min(g.n, units * t / count * unit);
      const std::int64_t end = std::min(g.n, units * (t + 1) / count * unit);
      if (begin < end) sgemm_direct(g, begin, end);
    });
    return;
  }
  const int threads = macs < kThreadedMinMacs ? 1 : g.threads;
  if (threads <= 1) {
    sgemm_block(g, 0, g.m, 0, g.n);
    return;
  }
  const auto mr = static_cast<std::int64_t>(kMR);
  if (g.m <= kColumnSplitMaxTiles * mr) {
    // Few row tiles would split unevenly (64 rows: 2 tiles against 3): the threads take column ranges
    // instead, each packing its own panels of B; A is small, and each thread packs all of it.
    const std::int64_t unit = static_cast<std::int64_t>(tile_cols());
    const std::int64_t units = (g.n + unit - 1) / unit;
    run_parallel(threads, [&](int t, int count) {
      const std::int64_t begin = std::min(g.n, units * t / count * unit);
      const std::int64_t end = std::min(g.n, units * (t + 1) / count * unit);
      if (begin < end) sgemm_block(g, 0, g.m, begin, end);
    });
    return;
  }
  std::barrier<> sync(threads);
  std::atomic<std::int64_t> next_block{0};
  run_parallel(threads, [&](int t, int count) {
    if (count == 1) {  // the pool was busy with another caller: this call runs alone
      sgemm_block(g, 0, g.m, 0, g.n);
    } else {
      sgemm_shared_b(g, t, count, sync, next_block);
    }
  });
}

const char* SgemmTargetName() {
  return hwy::TargetName(HWY_TARGET);
}

}  // namespace lowbit::kernels::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::kernels::cpu {

HWY_EXPORT(SgemmPacked);
HWY_EXPORT(SgemmTargetName);

void sgemm_packed(const SgemmArgs& args) {
  HWY_DYNAMIC_DISPATCH(SgemmPacked)(args);
}

const char* sgemm_target_name() {
  return HWY_DYNAMIC_DISPATCH(SgemmTargetName)();
}

}  // namespace lowbit::kernels::cpu
#endif  // HWY_ONCE
