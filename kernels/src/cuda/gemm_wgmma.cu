// The sm_90a GEMM: a persistent, warp-specialized kernel in the shape of the fastest public Hopper GEMMs.
// One producer warpgroup streams 128-byte-wide K slices of A (128 rows) and B (BN rows) into a ring of
// shared-memory stages with TMA; two consumer warpgroups each multiply 64 rows of the tile with wgmma,
// accumulating in registers; mbarriers hand the stages back and forth (full: data landed; empty: both
// consumers are done with it). Tiles are visited in groups of kGroupM row-tiles so concurrent CTAs share
// operands in L2. The producer gives up registers (setmaxnreg) so the consumers can hold 128 accumulators.
//
// Block-scaled fp8 (DeepSeek-V3 recipe): each 128-wide K slice is multiplied into fresh registers and
// promoted into the fp32 accumulators with that slice's A-row and B-block scales, which also bounds the
// tensor cores' reduced-precision fp8 accumulation to 128 products. The slice is multiplied in groups of
// columns into two alternating sets of fresh registers: a warpgroup issues group n + 1 before it waits for
// and promotes group n, so its promotion runs under its own next multiply instead of leaving the tensor
// cores to the other warpgroup (which, working on the same stages, tends to promote at the same moment).
// Large block-scaled GEMMs run in clusters of two CTAs that share their B tile through TMA multicast (kernel
// template parameter Cluster; scaled_cluster() decides), which cuts their traffic from L2 by a third.
#include <cuda_runtime.h>

#include <type_traits>

#include "cuda_check.hpp"
#include "device_gemm.hpp"
#include "epilogue.cuh"
#include "sm90.cuh"
#include "wgmma_ops.cuh"

namespace lowbit::kernels::cuda {

namespace {

using namespace sm90;

constexpr int kConsumers = 2;  // warpgroups that multiply; 64 rows each
constexpr int kThreads = 128 * (kConsumers + 1);
constexpr int kBM = 64 * kConsumers;
constexpr int kSliceBytes = 128;  // bytes of K per stage: one 128-byte swizzle row
constexpr int kGroupM = 16;       // row-tiles visited together (L2 reuse of B)
constexpr int kProducerRegisters = 40;
constexpr int kConsumerRegisters = 232;

template <int BN>
constexpr int stage_bytes() {
  return (kBM + BN) * kSliceBytes;
}
template <int BN>
constexpr int stage_count() {
  return (200 * 1024) / stage_bytes<BN>();
}

// The epilogue goes through shared memory 32 columns at a time (64 rows per consumer, rows padded to 40
// words so the fragment writes and the row-wise reads are free of bank conflicts): the code that writes C
// is then one small loop with coalesced stores, not 64 unrolled copies that overflow the instruction cache
// (measured: 2.3 ms -> 1.75 ms for bf16 8192^3 on an H100).
constexpr int kChunkColumns = 32;
constexpr int kChunkStride = 40;
constexpr int kChunkBytes = 64 * kChunkStride * 4;

template <int BN>
constexpr int shared_bytes() {
  return stage_count<BN>() * stage_bytes<BN>() + kConsumers * kChunkBytes + 2 * stage_count<BN>() * 8 +
         1024;  // + barriers + alignment
}

// Finishes this warp's 16 rows of a staged 64 x 32 chunk of C (a warp's fragments hold only its own rows,
// so a warp-level sync suffices): two rows of 16 column pairs per step, coalesced.
template <class Acc>
__device__ inline void finish_chunk(const DeviceGemm& g, const Acc* chunk, int warp, std::int64_t row0,
                                    std::int64_t col0) {
  with_out_type(g.epilogue.out, [&](auto out) {
    for (int index = threadIdx.x % 32; index < 16 * (kChunkColumns / 2); index += 32) {
      const int r = warp * 16 + index / (kChunkColumns / 2), c = 2 * (index % (kChunkColumns / 2));
      finish_pair<out()>(g.epilogue, g.m, g.n, row0 + r, col0 + c, chunk[r * kChunkStride + c],
                         chunk[r * kChunkStride + c + 1]);
    }
  });
}

// The common epilogue, alpha alone into bf16 / fp16 with C 16-byte aligned: the fragments are scaled,
// rounded and packed in registers, staged 64 columns at a time as 16-bit pairs (rows of 40 words), and
// each lane stores 16 bytes: a warp writes 4 rows of 128 bytes per step. Partial tiles store element-wise.
template <int BN>
__device__ inline void store_vector16(const DeviceGemm& g, const float (&acc)[BN / 2], std::uint32_t* stage,
                                      int warp, int lane, std::int64_t tile_row, std::int64_t tile_col) {
  constexpr int kStride = 40;  // words per staged row: 64 columns + padding, 16-byte aligned rows
  const float alpha = g.epilogue.alpha;
  const bool bf16 = g.epilogue.out == OutType::bf16;
  auto pack = [&](float a, float b) -> std::uint32_t {
    a *= alpha;
    b *= alpha;
    if (bf16) {
      const __nv_bfloat162 p = OutElement<OutType::bf16>::round_pair(a, b);
      return *reinterpret_cast<const std::uint32_t*>(&p);
    }
    const __half2 p = OutElement<OutType::f16>::round_pair(a, b);
    return *reinterpret_cast<const std::uint32_t*>(&p);
  };
  const int r = warp * 16 + lane / 4;
  auto* c = static_cast<std::uint16_t*>(g.epilogue.c);
#pragma unroll
  for (int chunk = 0; chunk < BN / 64; ++chunk) {
#pragma unroll
    for (int jj = 0; jj < 8; ++jj) {
      const int j = chunk * 8 + jj, word = jj * 4 + lane % 4;
      stage[r * kStride + word] = pack(acc[4 * j], acc[4 * j + 1]);
      stage[(r + 8) * kStride + word] = pack(acc[4 * j + 2], acc[4 * j + 3]);
    }
    __syncwarp();
#pragma unroll
    for (int step = 0; step < 4; ++step) {
      const int row = warp * 16 + step * 4 + lane / 8, segment = lane % 8;
      const std::int64_t i = tile_row + row, j = tile_col + chunk * 64 + segment * 8;
      const uint4 v = *reinterpret_cast<const uint4*>(stage + row * kStride + segment * 4);
      if (i < g.m && j + 8 <= g.n) {
        *reinterpret_cast<uint4*>(c + i * g.epilogue.ldc + j) = v;
      } else if (i < g.m) {
        const std::uint32_t words[4] = {v.x, v.y, v.z, v.w};
        for (int e = 0; e < 8 && j + e < g.n; ++e)
          c[i * g.epilogue.ldc + j + e] = static_cast<std::uint16_t>(words[e / 2] >> (16 * (e % 2)));
      }
    }
    __syncwarp();
  }
}

struct TileOrder {
  int tiles_m, tiles_n, group_m;
  __device__ int count() const { return tiles_m * tiles_n; }
  // Tile t -> (row-tile, column-tile), walking group_m row-tiles down each column before moving right.
  __device__ void at(int t, int& tm, int& tn) const {
    const int per_group = group_m * tiles_n;
    const int group = t / per_group, first = group * group_m;
    const int rows = min(tiles_m - first, group_m);
    const int r = t % per_group;
    tm = first + r % rows;
    tn = r / rows;
  }
};

// Block-scaled tiles are 128 x BN, multiplied GroupN columns at a time, with as many fresh registers
// (2 x GroupN / 2) beside the BN / 2 accumulators as the 128 + 64 of a 256-column tile multiplied in two
// unoverlapped halves. Measured on an H100 at 8192^3 (e4m3, TFLOP/s): 256 in unoverlapped halves 967;
// 192 in groups of 96 (A read from shared memory twice per slice) 1008 with Unroll 1, 1027 with 2, 1031
// with 4; 256 in groups of 64 (A read four times) 1015; 128 in groups of 64, 914 (two runs on lent H100s,
// which differed by up to 3%). Starting the second warpgroup one slice later, so that the two drain at
// different moments, made ptxas spill and ran slower (946). Groups of 96 win where both tile widths fill
// the multiprocessors equally; scaled_tile_n() picks per shape.
//
// What limits it (issue 8, measured on an H100 at 8192^3): the promotion's FFMAs. With the tensor cores' work
// unchanged and one FFMA per group instead of 48, the kernel ran at 1240 TFLOP/s instead of 1040, and
// Nsight Compute puts the tensor pipe at 74% of cycles against 90% for the per-tensor kernel, at the same
// (power-capped, about 1.34 GHz) clock. Each measured no faster (bench/RESULTS.md has the numbers): A from
// registers (ldmatrix once per slice and register-A wgmma, a fifth fewer shared-memory reads); a third
// register set, so two groups run during each promotion; one 192-column group per slice promoted after a
// full wait (DeepGEMM's order); the accumulators' register parity swapped against the fresh sets' (ptxas
// re-pairs them); staggered drains of the two warpgroups; 8 or 32 row-tiles per raster group; DeepGEMM's
// rewrite of the FFMAs' reuse and yield bits in the SASS (1-2% slower; bench/variants/ffma_control_bits.py).
constexpr int kScaleBlock = 128;  // B's scale blocks are 128 x 128 (cuda::gemm checks)

// Cluster > 1: the CTAs of a cluster take vertically adjacent tiles, which share their B tile; each CTA
// loads 1 / Cluster of it and multicasts that into every CTA's shared memory. A stage is then refilled only
// when the consumers of all the cluster's CTAs are done with it, so they release it to every CTA's producer.
template <class Ops, int BN, bool BlockScaled, int GroupN = BN, int Unroll = 1, int Cluster = 1>
__global__ void __launch_bounds__(kThreads, 1)
    gemm_wgmma_kernel(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b,
                      const DeviceGemm g) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using Op = WgmmaOp<Ops, GroupN>;  // all the tile's columns, or with block scaling one group's
  using Acc = typename Op::Acc;
  constexpr int kGroups = BN / GroupN;
  constexpr int kPart = GroupN / 2;  // fresh registers per thread for one group
  static_assert(!BlockScaled || (kGroups % 2 == 0 && BN % 64 == 0 && BN <= 2 * kScaleBlock),
                "groups alternate between two register sets, and a tile starting on a multiple of 64 "
                "columns then spans at most two 128-column scale blocks");
  constexpr int kStages = stage_count<BN>();
  constexpr int kStageA = kBM * kSliceBytes, kStageB = BN * kSliceBytes;
  constexpr int kSteps = kSliceBytes / 32;  // every wgmma consumes 32 bytes of K (16 bf16 or 32 fp8 / int8)
  constexpr int kSliceK = Op::kK * kSteps;  // elements of K per stage
  constexpr int kAcc = BN / 2;              // accumulators per thread: 64 x BN over 128 threads

  extern __shared__ unsigned char shared_raw[];
  unsigned char* shared = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<std::uintptr_t>(shared_raw) + 1023) & ~std::uintptr_t{1023});
  unsigned char* tiles_a = shared;
  unsigned char* tiles_b = shared + kStages * kStageA;
  unsigned char* chunks = tiles_b + kStages * kStageB;
  auto* full = reinterpret_cast<std::uint64_t*>(chunks + kConsumers * kChunkBytes);
  std::uint64_t* empty = full + kStages;

  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      mbarrier_init(&full[s], 1);
      mbarrier_init(&empty[s], kConsumers * Cluster);
    }
    fence_barrier_init();
  }
  if constexpr (Cluster > 1)
    cluster_sync();  // every CTA's barriers are initialized before the first multicast or arrival on them
  else
    __syncthreads();

  // The tiles in units of Cluster vertically adjacent tiles; CTA `rank` of a cluster takes row-tile
  // Cluster * tm + rank (past the last row-tile for an odd count: all-zero rows that are never stored).
  const int rank = Cluster > 1 ? static_cast<int>(cluster_rank()) : 0;
  const int first_tile = static_cast<int>(blockIdx.x) / Cluster, tile_stride = gridDim.x / Cluster;
  const TileOrder order{static_cast<int>(((g.m + kBM - 1) / kBM + Cluster - 1) / Cluster),
                        static_cast<int>((g.n + BN - 1) / BN), kGroupM / Cluster};
  const int slices = static_cast<int>((g.k + kSliceK - 1) / kSliceK);
  const int warpgroup = threadIdx.x / 128;

  if (warpgroup == 0) {  // producer
    release_registers<kProducerRegisters>();
    if (threadIdx.x == 0) {
      int stage = 0;
      std::uint32_t phase = 0;
      for (int t = first_tile; t < order.count(); t += tile_stride) {
        int tm, tn;
        order.at(t, tm, tn);
        tm = tm * Cluster + rank;
        for (int s = 0; s < slices; ++s) {
          mbarrier_wait(&empty[stage], phase ^ 1);
          mbarrier_arrive_expect_tx(&full[stage], kStageA + kStageB);
          tma_load_2d(tiles_a + stage * kStageA, &map_a, &full[stage], s * kSliceK, tm * kBM);
          if constexpr (Cluster == 1) {
            tma_load_2d(tiles_b + stage * kStageB, &map_b, &full[stage], s * kSliceK, tn * BN);
          } else {
            constexpr int kRows = BN / Cluster;  // a multiple of 8: the halves keep the 1024-byte swizzle
            tma_load_2d_multicast(tiles_b + stage * kStageB + rank * kRows * kSliceBytes, &map_b,
                                  &full[stage], s * kSliceK, tn * BN + rank * kRows, (1 << Cluster) - 1);
          }
          if (++stage == kStages) {
            stage = 0;
            phase ^= 1;
          }
        }
      }
      // The other CTAs' consumers arrive on this CTA's barriers: wait for the last of those arrivals (every
      // stage's final release) before this CTA may exit.
      if constexpr (Cluster > 1) {
        for (int i = 0; i < kStages; ++i) {
          mbarrier_wait(&empty[stage], phase ^ 1);
          if (++stage == kStages) {
            stage = 0;
            phase ^= 1;
          }
        }
      }
    }
    return;
  }

  claim_registers<kConsumerRegisters>();
  const int consumer = warpgroup - 1;
  const int lane = threadIdx.x % 32, warp = (threadIdx.x % 128) / 32;
  const bool releases = threadIdx.x % 128 == 0;  // one arrival per consumer warpgroup
  // Hands a stage back: to this CTA's producer, and with a cluster to every CTA's, since each writes into it.
  auto release = [&](int s) {
    if (!releases) return;
    mbarrier_arrive(&empty[s]);
#pragma unroll
    for (int r = 1; r < Cluster; ++r) mbarrier_arrive_cluster(&empty[s], (rank + r) % Cluster);
  };
  int stage = 0;
  std::uint32_t phase = 0;
  Acc acc[kAcc];
  [[maybe_unused]] Acc part[2][BlockScaled ? kPart : 1];

  for (int t = first_tile; t < order.count(); t += tile_stride) {
    int tm, tn;
    order.at(t, tm, tn);
    tm = tm * Cluster + rank;
    const std::int64_t row0 = static_cast<std::int64_t>(tm) * kBM + consumer * 64 + warp * 16 + lane / 4;
#pragma unroll
    for (int i = 0; i < kAcc; ++i) acc[i] = 0;

    if constexpr (!BlockScaled) {
      int previous = -1;
      for (int s = 0; s < slices; ++s) {
        mbarrier_wait(&full[stage], phase);
        const std::uint64_t desc_a =
            smem_descriptor_sw128(tiles_a + stage * kStageA + consumer * 64 * kSliceBytes);
        const std::uint64_t desc_b = smem_descriptor_sw128(tiles_b + stage * kStageB);
        fence_registers(acc);
        wgmma_fence();
#pragma unroll
        for (int step = 0; step < kSteps; ++step) Op::run(acc, desc_a + 2 * step, desc_b + 2 * step, 1);
        wgmma_commit();
        fence_registers(acc);
        // Keep this slice's wgmmas running while the previous slice's stage goes back to the producer.
        if (previous >= 0) {
          wgmma_wait<1>();
          release(previous);
        }
        previous = stage;
        if (++stage == kStages) {
          stage = 0;
          phase ^= 1;
        }
      }
      wgmma_wait<0>();
      fence_registers(acc);
      if (previous >= 0) release(previous);
    } else {
      // The slice's scale factors, one per (row, scale block) pair this thread holds: A's scales for rows
      // row0 and row0 + 8 times B's for the tile's (at most two) scale blocks. Rows past m and blocks past
      // n borrow a valid neighbour's scale; their results are never stored. The raw scales of slice s + 1
      // are loaded during slice s, so their latency hides behind its multiplies.
      const int groups = static_cast<int>((g.k + kScaleBlock - 1) / kScaleBlock);
      const std::int64_t tile_col = static_cast<std::int64_t>(tn) * BN;
      const std::int64_t block_lo = tile_col / kScaleBlock;
      const std::int64_t block_hi = min(block_lo + 1, (g.n - 1) / kScaleBlock);
      const float* scale_a0 = g.a.block_scale + min(row0, g.m - 1) * groups;
      const float* scale_a1 = g.a.block_scale + min(row0 + 8, g.m - 1) * groups;
      const float* scale_b_lo = g.b.block_scale + block_lo * groups;
      const float* scale_b_hi = g.b.block_scale + block_hi * groups;
      float raw[4] = {scale_a0[0], scale_a1[0], scale_b_lo[0], scale_b_hi[0]};
      // The tile's columns switch from block_lo to block_hi at tile column 128, or at 64 for a 192-column
      // tile that starts in the middle of a block. Each branch is compiled with its boundary as a constant,
      // so choosing the factor for each 8-column fragment group costs nothing at run time.
      const bool boundary_64 = BN % kScaleBlock != 0 && tile_col % kScaleBlock != 0;
      // acc[group's columns] += part * factor: the fragment's registers 4j..4j+3 hold columns 8j + 2(lane%4)
      // and +1, rows r (registers 0, 1) and r + 8 (2, 3).
      auto promote = [&](const Acc(&done)[kPart], int group, const float(&f)[4]) {
        auto with_boundary = [&](int boundary) {
#pragma unroll
          for (int i = 0; i < kPart; ++i) {
            const int hi = group * GroupN + 8 * (i / 4) >= boundary ? 1 : 0;
            acc[group * kPart + i] += done[i] * f[(i & 2) + hi];
          }
        };
        if (boundary_64)
          with_boundary(64);
        else
          with_boundary(kScaleBlock);
      };
      // Multiplies and promotes `units` consecutive slices from s on: every group but the last is promoted
      // while the next one runs, and the last is waited for in full. A group still running across the loop's
      // back edge and read in the next iteration makes ptxas serialize every wgmma (warning C7514), so the
      // overlap stops at the end of each call; Unroll slices per call make that drain rarer.
      auto multiply = [&](int s, auto units) {
        constexpr int kUnits = decltype(units)::value;
        float factor[kUnits][4];
        int stages[kUnits];
#pragma unroll
        for (int u = 0; u < kUnits; ++u) {
          factor[u][0] = raw[0] * raw[2];
          factor[u][1] = raw[0] * raw[3];
          factor[u][2] = raw[1] * raw[2];
          factor[u][3] = raw[1] * raw[3];
          if (s + u + 1 < slices) {
            raw[0] = scale_a0[s + u + 1];
            raw[1] = scale_a1[s + u + 1];
            raw[2] = scale_b_lo[s + u + 1];
            raw[3] = scale_b_hi[s + u + 1];
          }
          stages[u] = stage;
          mbarrier_wait(&full[stage], phase);
          const std::uint64_t desc_a =
              smem_descriptor_sw128(tiles_a + stage * kStageA + consumer * 64 * kSliceBytes);
          const std::uint64_t desc_b = smem_descriptor_sw128(tiles_b + stage * kStageB);
#pragma unroll
          for (int h = 0; h < kGroups; ++h) {
            Acc(&fresh)[kPart] = part[h % 2];
            Acc(&done)[kPart] = part[(h + 1) % 2];  // group h - 1, or the last of slice u - 1
            fence_registers(fresh);
            wgmma_fence();
#pragma unroll
            for (int step = 0; step < kSteps; ++step)
              Op::run(fresh, desc_a + 2 * step, desc_b + ((h * GroupN * kSliceBytes) >> 4) + 2 * step, step);
            wgmma_commit();
            if (h > 0 || u > 0) {
              wgmma_wait<1>();  // the previous group is done; group h keeps the tensor cores busy meanwhile
              fence_registers(done);
              if (h > 0) {
                promote(done, h - 1, factor[u]);
              } else {
                release(stages[u - 1]);  // slice u - 1 is fully multiplied
                promote(done, kGroups - 1, factor[u - 1]);
              }
            }
          }
          if (++stage == kStages) {
            stage = 0;
            phase ^= 1;
          }
        }
        wgmma_wait<0>();
        fence_registers(part[(kGroups - 1) % 2]);
        release(stages[kUnits - 1]);
        promote(part[(kGroups - 1) % 2], kGroups - 1, factor[kUnits - 1]);
      };
      // Unroll slices per call, the rest one at a time.
      for (int s = 0; s < slices;) {
        if (s + Unroll > slices) {
          multiply(s, std::integral_constant<int, 1>{});
          s += 1;
        } else {
          multiply(s, std::integral_constant<int, Unroll>{});
          s += Unroll;
        }
      }
    }

    // Fragment layout of a 64 x BN wgmma result: thread (warp, lane) holds, for each 8-column group j,
    // rows warp*16 + lane/4 and +8, columns 8j + 2(lane%4) and +1.
    const std::int64_t tile_row = static_cast<std::int64_t>(tm) * kBM + consumer * 64;
    const std::int64_t tile_col = static_cast<std::int64_t>(tn) * BN;
    const int r = warp * 16 + lane / 4;
    if constexpr (!std::is_integral_v<Acc>) {
      if (g.epilogue.vector16) {
        store_vector16<BN>(g, acc, reinterpret_cast<std::uint32_t*>(chunks + consumer * kChunkBytes), warp,
                           lane, tile_row, tile_col);
        continue;
      }
    }
    Acc* chunk = reinterpret_cast<Acc*>(chunks + consumer * kChunkBytes);
#pragma unroll
    for (int c = 0; c < BN / kChunkColumns; ++c) {
#pragma unroll
      for (int jj = 0; jj < kChunkColumns / 8; ++jj) {
        const int j = c * (kChunkColumns / 8) + jj, col = jj * 8 + 2 * (lane % 4);
        chunk[r * kChunkStride + col] = acc[4 * j];
        chunk[r * kChunkStride + col + 1] = acc[4 * j + 1];
        chunk[(r + 8) * kChunkStride + col] = acc[4 * j + 2];
        chunk[(r + 8) * kChunkStride + col + 1] = acc[4 * j + 3];
      }
      __syncwarp();
      finish_chunk(g, chunk, warp, tile_row, tile_col + c * kChunkColumns);
      __syncwarp();
    }
  }
#else
  (void)map_a;
  (void)map_b;
  (void)g;
#endif
}

template <class Ops, int BN, bool BlockScaled, int GroupN = BN, int Unroll = 1, int Cluster = 1>
void launch(const DeviceGemm& g, const CUtensorMap& map_a, const CUtensorMap& map_b, int multiprocessors) {
  auto* kernel = &gemm_wgmma_kernel<Ops, BN, BlockScaled, GroupN, Unroll, Cluster>;
  constexpr int bytes = shared_bytes<BN>();
  check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes),
             "cudaFuncSetAttribute(gemm_wgmma_kernel)");
  cudaLaunchConfig_t config{};
  config.blockDim = dim3(kThreads);
  config.dynamicSmemBytes = bytes;
  config.stream = static_cast<cudaStream_t>(g.stream);
  cudaLaunchAttribute cluster{};
  cluster.id = cudaLaunchAttributeClusterDimension;
  cluster.val.clusterDim.x = Cluster;
  cluster.val.clusterDim.y = 1;
  cluster.val.clusterDim.z = 1;
  config.attrs = &cluster;
  config.numAttrs = Cluster > 1 ? 1 : 0;
  // One CTA per multiprocessor, in as many clusters as fit at once (clusters need their CTAs on one GPC).
  int slots = multiprocessors / Cluster;
  if constexpr (Cluster > 1) {
    config.gridDim = dim3(slots * Cluster);
    check_cuda(cudaOccupancyMaxActiveClusters(&slots, kernel, &config), "cudaOccupancyMaxActiveClusters");
  }
  const std::int64_t tiles =
      ((g.m + kBM - 1) / kBM + Cluster - 1) / Cluster * ((g.n + BN - 1) / BN);  // in units of clusters
  config.gridDim = dim3(static_cast<unsigned>(tiles < slots ? tiles : slots) * Cluster);
  check_cuda(cudaLaunchKernelEx(&config, kernel, map_a, map_b, g), "launch of gemm_wgmma_kernel");
}

// The block-scaled tile width for this shape: 192 or 256 columns, whichever takes less time counted as
// (waves of tiles over the multiprocessors) x (columns per tile). 8192^3 gives 21 waves of 192-column tiles
// against 16 of 256 (192 wins); 4096^3 gives 6 against 4 (256 wins, measured 990 against 899 TFLOP/s).
int scaled_tile_n(const DeviceGemm& g) {
  int device = 0, multiprocessors = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device),
             "cudaDeviceGetAttribute");
  auto cost = [&](std::int64_t bn) {
    const std::int64_t tiles = ((g.m + kBM - 1) / kBM) * ((g.n + bn - 1) / bn);
    return (tiles + multiprocessors - 1) / multiprocessors * bn;
  };
  return cost(192) <= cost(256) ? 192 : 256;
}

// Block-scaled GEMMs run in clusters of 2 CTAs sharing B where the row-tiles pair up and K is at least
// 4096. The GPU is at its power cap, and the L2 traffic saved raised the rate 0.2-3.7% at K = 4096 to
// 16384 (8192^3: 1030 -> 1051 TFLOP/s); in an earlier run, at K = 2048 (16 slices per tile) it cost 3%
// (950 -> 919 at 8192 x 8192 x 2048), and an odd row-tile count leaves a tile of every column's last cluster
// idle (with a single row-tile, half the CTAs: 522 -> 454 at 128 x 16384 x 4096). Clusters of 4 fit only 30
// at a time on an H100 (120 of its 132 multiprocessors) and ran slower (1007-1015 against 1060-1065 at
// 8192^3).
int scaled_cluster(const DeviceGemm& g) {
  const std::int64_t tiles_m = (g.m + kBM - 1) / kBM;
  return tiles_m % 2 == 0 && g.k >= 4096 ? 2 : 1;
}

template <class Ops>
void launch_for(const DeviceGemm& g, const CUtensorMap& map_a, const CUtensorMap& map_b, int sms) {
  if (is_block_scaled(g)) {  // fp8 only (cuda::gemm checks)
    if constexpr (!std::is_same_v<Ops, AbBf16> && !std::is_same_v<Ops, AbF16> &&
                  !std::is_same_v<Ops, AbS8S8>) {
      const bool narrow = scaled_tile_n(g) == 192;
      auto with_cluster = [&](auto cluster) {
        constexpr int kCluster = decltype(cluster)::value;
        if (narrow)
          launch<Ops, 192, true, 96, 4, kCluster>(g, map_a, map_b, sms);
        else
          launch<Ops, 256, true, 64, 1, kCluster>(g, map_a, map_b, sms);
      };
      if (scaled_cluster(g) == 2)
        with_cluster(std::integral_constant<int, 2>{});
      else
        with_cluster(std::integral_constant<int, 1>{});
    }
  } else {
    launch<Ops, 256, false>(g, map_a, map_b, sms);
  }
}

}  // namespace

WgmmaBoxes wgmma_boxes(const DeviceGemm& g) {
  if (!is_block_scaled(g)) return {kSliceBytes / operand_bytes(g.operands), kBM, 256};
  return {kSliceBytes / operand_bytes(g.operands), kBM, scaled_tile_n(g) / scaled_cluster(g)};
}

void launch_gemm_wgmma(const DeviceGemm& g, const CUtensorMap& map_a, const CUtensorMap& map_b,
                       int multiprocessors) {
  switch (g.operands) {
    case Operands::bf16:
      return launch_for<AbBf16>(g, map_a, map_b, multiprocessors);
    case Operands::f16:
      return launch_for<AbF16>(g, map_a, map_b, multiprocessors);
    case Operands::e4m3_e4m3:
      return launch_for<AbE4m3E4m3>(g, map_a, map_b, multiprocessors);
    case Operands::e4m3_e5m2:
      return launch_for<AbE4m3E5m2>(g, map_a, map_b, multiprocessors);
    case Operands::e5m2_e4m3:
      return launch_for<AbE5m2E4m3>(g, map_a, map_b, multiprocessors);
    case Operands::s8_s8:
      return launch_for<AbS8S8>(g, map_a, map_b, multiprocessors);
  }
}

}  // namespace lowbit::kernels::cuda
