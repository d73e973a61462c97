// What the low-precision drivers (gemm_bf16_avx512.cpp, gemm_s8_avx512.cpp, gemm_widen.cpp) receive from
// gemm(): the validated arguments, and where the epilogue runs.
#pragma once

#include <cstdint>

#include "lowbit/kernels/gemm.hpp"

namespace lowbit::kernels {
class PackedInt4Weights;
}

namespace lowbit::kernels::cpu {

struct GemmProblem {
  std::int64_t m = 0, n = 0, k = 0;
  MatrixIn a, b;
  MatrixOut c;
  Epilogue epilogue;
  int threads = 1;
  const PackedInt4Weights* packed_b = nullptr;  // B pre-packed (gemm_w4_packed_amx); then `b` is unused
};

// True when C is fp32 and the epilogue is alpha * acc + beta * C alone: the micro-kernels then write C
// directly. Otherwise they accumulate into an fp32 workspace and apply_epilogue finishes the job.
bool epilogue_is_plain_f32(const GemmProblem& p);

// C[i0 .. i1) x [j0 .. j1) = epilogue(acc), acc an fp32 m x n block with leading dimension ld_acc (acc
// points at element (0, 0)). Rounds into C's type with formats' bulk conversion (nearest-even).
void apply_epilogue(const GemmProblem& p, const float* acc, std::int64_t ld_acc, std::int64_t i0,
                    std::int64_t i1, std::int64_t j0, std::int64_t j1);

// The same for an int32 accumulator block (the integer kernels' sums), converted to fp32 in place first.
void apply_epilogue_int32(const GemmProblem& p, std::int32_t* acc, std::int64_t ld_acc, std::int64_t i0,
                          std::int64_t i1, std::int64_t j0, std::int64_t j1);

// CPU features the raw-intrinsic kernels need (cpuid, checked once).
bool cpu_has_avx512_bf16();
bool cpu_has_avx512_vnni();
// AMX-TILE, AMX-BF16 and AMX-INT8, with the kernel's permission to use the tile state (asked once).
bool cpu_has_amx();

// The paths. Each handles any m, n, k >= 1.
void gemm_bf16_amx(const GemmProblem& p);      // A, B in {bfloat16, float8_e4m3fn, float8_e5m2}
void gemm_s8_amx(const GemmProblem& p);        // A, B in {int8, uint8}
void gemm_bf16_avx512(const GemmProblem& p);   // A, B in {bfloat16, float8_e4m3fn, float8_e5m2}
void gemm_s8_avx512(const GemmProblem& p);     // A, B in {int8, uint8}
void gemm_int_portable(const GemmProblem& p);  // integer inputs without VNNI (and int4 / group scales)
void gemm_widen_f32(const GemmProblem& p);     // any float inputs: widen to fp32, then the packed sgemm
// int4 weights (B stored N x K with group scales, group a multiple of 32) times bf16/fp32 activations, m
// <= 8.
bool gemv_w4_applies(const GemmProblem& p);
void gemv_w4_avx512(const GemmProblem& p);
// int4 weights with group scales (group a multiple of 32 dividing 1024) times bf16/fp8 activations, any m:
// on AMX tiles, or on AVX512_BF16.
bool gemm_w4_applies(const GemmProblem& p);
void gemm_w4_amx(const GemmProblem& p);
void gemm_w4_avx512(const GemmProblem& p);
// The same with B pre-packed (p.packed_b) and A bf16 or fp8, any m.
void gemm_w4_packed_amx(const GemmProblem& p);
void gemm_w4_packed_avx512(const GemmProblem& p);

// Splits [0, extent) into `count` ranges of whole `unit`s; returns range t.
inline void split_range(std::int64_t extent, std::int64_t unit, std::int64_t t, std::int64_t count,
                        std::int64_t& begin, std::int64_t& end) {
  const std::int64_t units = (extent + unit - 1) / unit;
  begin = units * t / count * unit;
  end = units * (t + 1) / count * unit;
  if (begin > extent) begin = extent;
  if (end > extent) end = extent;
}

}  // namespace lowbit::kernels::cpu
