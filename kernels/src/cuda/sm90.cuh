// Hopper (sm_90a) building blocks as thin inline PTX: mbarriers, TMA tile loads, wgmma fences and shared-
// memory matrix descriptors, register reallocation. Each wrapper is one instruction; the PTX ISA's section
// on the instruction says what it does.
#pragma once

#include <cuda.h>

#include <cstdint>

namespace lowbit::kernels::cuda::sm90 {

__device__ inline std::uint32_t smem_address(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// ---- mbarrier ------------------------------------------------------------------------------------------
__device__ inline void mbarrier_init(std::uint64_t* bar, std::uint32_t arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_address(bar)), "r"(arrivals));
}

// Makes the initialized barriers visible to the async proxy (TMA) before anyone uses them.
__device__ inline void fence_barrier_init() {
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

// Arrives once and adds `bytes` to the transaction count the current phase waits for.
__device__ inline void mbarrier_arrive_expect_tx(std::uint64_t* bar, std::uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_address(bar)), "r"(bytes)
               : "memory");
}

__device__ inline void mbarrier_arrive(std::uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_address(bar)) : "memory");
}

// Waits until the phase with this parity has completed. A fresh barrier is in phase 0, so waiting for
// parity 1 returns at once: that is how a producer sees every stage of a new ring as free.
__device__ inline void mbarrier_wait(std::uint64_t* bar, std::uint32_t parity) {
  std::uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(smem_address(bar)), "r"(parity)
        : "memory");
  } while (done == 0);
}

// ---- clusters ------------------------------------------------------------------------------------------
__device__ inline std::uint32_t cluster_rank() {
  std::uint32_t rank;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
  return rank;
}

// Every thread of every CTA in the cluster arrives and waits; orders shared-memory writes (barrier
// initialization included) before the other CTAs' later accesses.
__device__ inline void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}

// Arrives once on the barrier at the same shared-memory offset as `bar` in CTA `rank` of the cluster, with
// the default (CTA-scope) release, as CUTLASS's cluster barriers do: with .release.cluster the block-scaled
// GEMM ran at half speed (Nsight Compute: warps stalled on a memory barrier and on the wgmmas in flight).
__device__ inline void mbarrier_arrive_cluster(std::uint64_t* bar, std::uint32_t rank) {
  asm volatile(
      "{\n.reg .b32 remote;\nmapa.shared::cluster.u32 remote, %0, %1;\n"
      "mbarrier.arrive.shared::cluster.b64 _, [remote];\n}" ::"r"(smem_address(bar)),
      "r"(rank)
      : "memory");
}

// ---- TMA -----------------------------------------------------------------------------------------------
// Loads the box at (inner, outer) of the tensor `map` into shared memory; completion is counted on `bar`.
// Out-of-bounds elements are filled with zeros, which is how partial tiles at the matrix edges work.
__device__ inline void tma_load_2d(void* dst, const CUtensorMap* map, std::uint64_t* bar, int inner,
                                   int outer) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], "
      "[%2];" ::"r"(smem_address(dst)),
      "l"(map), "r"(smem_address(bar)), "r"(inner), "r"(outer)
      : "memory");
}

// The same box written to the same shared-memory offset in every CTA of the cluster named in `ctas` (bit r:
// rank r), each completing its bytes on its own barrier at `bar`'s offset.
__device__ inline void tma_load_2d_multicast(void* dst, const CUtensorMap* map, std::uint64_t* bar, int inner,
                                             int outer, std::uint16_t ctas) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%0], "
      "[%1, {%3, %4}], [%2], %5;" ::"r"(smem_address(dst)),
      "l"(map), "r"(smem_address(bar)), "r"(inner), "r"(outer), "h"(ctas)
      : "memory");
}

// ---- wgmma ---------------------------------------------------------------------------------------------
// Orders earlier register and shared-memory writes before the wgmma instructions that follow.
__device__ inline void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
}
__device__ inline void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}
// Waits until at most N committed groups of this warpgroup are still running.
template <int N>
__device__ inline void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}

// Keeps the compiler from moving reads or writes of accumulator registers across an asynchronous wgmma.
__device__ inline void fence_register(float& r) {
  asm volatile("" : "+f"(r)::"memory");
}
__device__ inline void fence_register(std::int32_t& r) {
  asm volatile("" : "+r"(r)::"memory");
}
template <class T, int N>
__device__ inline void fence_registers(T (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) fence_register(r[i]);
}

// Descriptor of a K-major tile in shared memory laid out by TMA with 128-byte swizzling: rows of 128 bytes,
// groups of 8 rows 1024 bytes apart (the stride byte offset); the tile must start on a 1024-byte boundary.
// Adding 2 (32 bytes) to the descriptor steps one wgmma's worth of K along the row: the hardware applies the
// swizzle to the full address.
__device__ inline std::uint64_t smem_descriptor_sw128(const void* tile) {
  const std::uint64_t address = smem_address(tile);
  std::uint64_t d = (address & 0x3FFFF) >> 4;
  d |= std::uint64_t{1} << 16;          // leading byte offset: unused for swizzled K-major tiles
  d |= std::uint64_t{1024 >> 4} << 32;  // stride byte offset: 8 rows x 128 bytes
  d |= std::uint64_t{1} << 62;          // 128-byte swizzle
  return d;
}

// ---- register reallocation -----------------------------------------------------------------------------
template <int Registers>
__device__ inline void release_registers() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(Registers));
}
template <int Registers>
__device__ inline void claim_registers() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(Registers));
}

}  // namespace lowbit::kernels::cuda::sm90
