// The GEMM for GPUs before Hopper (sm_80 Ampere, sm_89 Ada; it runs on sm_90 too): warp-level mma.sync
// tensor-core instructions. A 128 x 128 tile per block of 8 warps (each 64 x 32), K in slices of 64 bytes
// copied with cp.async into a double buffer; rows padded by 16 bytes so the fragment loads hit 32 banks.
// The fragments of the 16-bit m16n8k16 and the 8-bit m16n8k32 instructions have the same byte layout
// (4 bytes per register: 2 bf16 or 4 fp8/int8 of one row), so one kernel serves every type.
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "cuda_check.hpp"
#include "device_gemm.hpp"
#include "epilogue.cuh"

namespace lowbit::kernels::cuda {

namespace {

constexpr int kBM = 128, kBN = 128;
constexpr int kSliceBytes = 64;              // bytes of K per stage
constexpr int kRowBytes = kSliceBytes + 16;  // padded shared-memory row
constexpr int kStages = 2;                   // 40 KiB of static shared memory (the limit is 48)
constexpr int kThreads = 256;

template <Operands O>
struct MmaSync {
  using Acc = std::conditional_t<O == Operands::s8_s8, std::int32_t, float>;
  __device__ static void run(Acc (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    if constexpr (O == Operands::bf16) {
      asm volatile(
          "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
          "{%0,%1,%2,%3};"
          : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
          : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    } else if constexpr (O == Operands::f16) {
      asm volatile(
          "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
          "{%0,%1,%2,%3};"
          : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
          : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    } else if constexpr (O == Operands::s8_s8) {
      asm volatile(
          "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
          "{%0,%1,%2,%3};"
          : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
          : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    } else {
#if __CUDA_ARCH__ >= 890
      if constexpr (O == Operands::e4m3_e4m3) {
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
      } else if constexpr (O == Operands::e4m3_e5m2) {
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e5m2.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
      } else {
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
      }
#else
      __trap();  // fp8 tensor cores start with sm_89; the launcher checks
#endif
    }
#endif
  }
};

// 16 bytes from global to shared, asynchronously; bytes past `valid` (0 or 16) are zero-filled.
__device__ inline void copy_16(void* dst, const void* src, int valid) {
  const auto d = static_cast<std::uint32_t>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(d), "l"(src), "r"(valid) : "memory");
}

// One stage: rows [row0, row0 + 128) of a K-major operand, bytes [byte0, byte0 + 64) of each row.
__device__ inline void load_slice(unsigned char* tile, const KMajor& x, int element_bytes, std::int64_t row0,
                                  std::int64_t byte0, std::int64_t row_bytes_valid) {
  for (int chunk = threadIdx.x; chunk < 128 * (kSliceBytes / 16); chunk += kThreads) {
    const int r = chunk / (kSliceBytes / 16), c = chunk % (kSliceBytes / 16);
    const std::int64_t row = row0 + r, byte = byte0 + 16 * c;
    const bool inside = row < x.rows && byte < row_bytes_valid;
    const auto* src =
        static_cast<const unsigned char*>(x.data) + (inside ? row * x.ld * element_bytes + byte : 0);
    copy_16(tile + r * kRowBytes + 16 * c, src, inside ? 16 : 0);
  }
  asm volatile("cp.async.commit_group;" ::: "memory");
}

template <Operands O>
__global__ void __launch_bounds__(kThreads) gemm_mma_sync_kernel(const DeviceGemm g) {
  using Op = MmaSync<O>;
  using Acc = typename Op::Acc;
  __shared__ __align__(16) unsigned char tiles[kStages][2][128 * kRowBytes];
  const int element_bytes = operand_bytes(O);
  const std::int64_t row_bytes = g.k * element_bytes;  // a multiple of 16 (the host pads K)
  const std::int64_t tm = blockIdx.y, tn = blockIdx.x;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int warp_m = warp / 4, warp_n = warp % 4;  // 2 x 4 warps of 64 x 32
  const int group = lane / 4, quad = lane % 4;

  Acc acc[4][4][4] = {};
  const int slices = static_cast<int>((row_bytes + kSliceBytes - 1) / kSliceBytes);
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < slices) {
      load_slice(tiles[s][0], g.a, element_bytes, tm * kBM, s * kSliceBytes, row_bytes);
      load_slice(tiles[s][1], g.b, element_bytes, tn * kBN, s * kSliceBytes, row_bytes);
    } else {
      asm volatile("cp.async.commit_group;" ::: "memory");
    }
  }
  for (int s = 0; s < slices; ++s) {
    asm volatile("cp.async.wait_group %0;" ::"n"(kStages - 2) : "memory");
    __syncthreads();
    const int next = s + kStages - 1;
    if (next < slices) {
      load_slice(tiles[next % kStages][0], g.a, element_bytes, tm * kBM, next * kSliceBytes, row_bytes);
      load_slice(tiles[next % kStages][1], g.b, element_bytes, tn * kBN, next * kSliceBytes, row_bytes);
    } else {
      asm volatile("cp.async.commit_group;" ::: "memory");
    }
    const unsigned char* ta = tiles[s % kStages][0];
    const unsigned char* tb = tiles[s % kStages][1];
#pragma unroll
    for (int step = 0; step < kSliceBytes / 32; ++step) {
      const int byte = step * 32 + quad * 4;
      std::uint32_t a[4][4], b[4][2];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const unsigned char* row = ta + (warp_m * 64 + i * 16 + group) * kRowBytes + byte;
        a[i][0] = *reinterpret_cast<const std::uint32_t*>(row);
        a[i][1] = *reinterpret_cast<const std::uint32_t*>(row + 8 * kRowBytes);
        a[i][2] = *reinterpret_cast<const std::uint32_t*>(row + 16);
        a[i][3] = *reinterpret_cast<const std::uint32_t*>(row + 8 * kRowBytes + 16);
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const unsigned char* row = tb + (warp_n * 32 + j * 8 + group) * kRowBytes + byte;
        b[j][0] = *reinterpret_cast<const std::uint32_t*>(row);
        b[j][1] = *reinterpret_cast<const std::uint32_t*>(row + 16);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) Op::run(acc[i][j], a[i], b[j]);
      }
    }
  }

  with_out_type(g.epilogue.out, [&](auto out) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const std::int64_t row = tm * kBM + warp_m * 64 + i * 16 + group;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const std::int64_t col = tn * kBN + warp_n * 32 + j * 8 + 2 * quad;
        finish_pair<out()>(g.epilogue, g.m, g.n, row, col, acc[i][j][0], acc[i][j][1]);
        finish_pair<out()>(g.epilogue, g.m, g.n, row + 8, col, acc[i][j][2], acc[i][j][3]);
      }
    }
  });
}

template <Operands O>
void launch(const DeviceGemm& g) {
  const dim3 grid(static_cast<unsigned>((g.n + kBN - 1) / kBN), static_cast<unsigned>((g.m + kBM - 1) / kBM));
  gemm_mma_sync_kernel<O><<<grid, kThreads, 0, static_cast<cudaStream_t>(g.stream)>>>(g);
  check_cuda(cudaGetLastError(), "launch of gemm_mma_sync_kernel");
}

}  // namespace

void launch_gemm_mma_sync(const DeviceGemm& g) {
  switch (g.operands) {
    case Operands::bf16:
      return launch<Operands::bf16>(g);
    case Operands::f16:
      return launch<Operands::f16>(g);
    case Operands::e4m3_e4m3:
      return launch<Operands::e4m3_e4m3>(g);
    case Operands::e4m3_e5m2:
      return launch<Operands::e4m3_e5m2>(g);
    case Operands::e5m2_e4m3:
      return launch<Operands::e5m2_e4m3>(g);
    case Operands::s8_s8:
      return launch<Operands::s8_s8>(g);
  }
}

}  // namespace lowbit::kernels::cuda
