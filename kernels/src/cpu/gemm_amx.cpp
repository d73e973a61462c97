// bf16 (and fp8, decoded to bf16 while packing) and int8 GEMM on AMX tiles, the matrix units of Sapphire
// Rapids. On this CPU vdpbf16ps runs at about a third of the FMA rate, so AMX is the only way bf16 beats
// fp32 here. One register tile is 32 x 32 of C in four 16 x 16 accumulator tiles (tmm0..3), fed per k step
// by two A tiles (tmm4, tmm5: 16 rows x 64 bytes) and two B tiles (tmm6, tmm7: 16 rows of k-groups x 16
// columns). Panels are packed so every tile is one load: A as 32 rows x 16 words per k step (contiguous,
// stride 64 bytes), B as k-group rows of 32 words (the two B tiles side by side, stride 128 bytes); k is
// padded with zeros to whole k steps. AMX multiplies every sign combination of int8 natively.
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "cpu/amx.hpp"
#include "cpu/bf16_read.hpp"
#include "cpu/combine_tile.hpp"
#include "cpu/pack_raw.hpp"
#include "cpu/packed_driver.hpp"
#include "cpu/problem.hpp"

namespace lowbit::kernels::cpu {

bool epilogue_is_exact_int32(const GemmProblem& p);

#define LOWBIT_AMX_TARGET \
  __attribute__((target("amx-tile,amx-bf16,amx-int8,avx512f,avx512bw,avx512vl,avx512dq")))

bool cpu_has_amx() {
  static const bool yes = [] {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    const bool tile = edx & (1u << 24), bf16 = edx & (1u << 22), int8 = edx & (1u << 25);
    if (!(tile && bf16 && int8 && __builtin_cpu_supports("avx512bw"))) return false;
    // Linux hands out the 8 KiB tile state only on request (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return yes;
}

// Palette 1: tiles 0..7 all 16 rows x 64 bytes.
struct alignas(64) TileConfig {
  std::uint8_t palette = 1, start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  std::uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

LOWBIT_AMX_TARGET void load_tile_config() {
  static const TileConfig config;
  _tile_loadconfig(&config);
}
LOWBIT_AMX_TARGET void release_tiles() {
  _tile_release();
}

namespace {

LOWBIT_AMX_TARGET void combine_s32(const std::int32_t* acc, std::int32_t* c, std::int64_t ldc, float beta,
                                   int mr, int nr) {
  const __mmask16 m0 = nr >= 16 ? 0xffff : static_cast<__mmask16>((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : static_cast<__mmask16>((1u << (nr - 16)) - 1);
  for (int r = 0; r < mr; ++r) {
    std::int32_t* row = c + r * ldc;
    __m512i v0 = _mm512_load_si512(acc + r * 32), v1 = _mm512_load_si512(acc + r * 32 + 16);
    if (beta != 0.0f) {
      v0 = _mm512_add_epi32(v0, _mm512_maskz_loadu_epi32(m0, row));
      v1 = _mm512_add_epi32(v1, _mm512_maskz_loadu_epi32(m1, row + 16));
    }
    _mm512_mask_storeu_epi32(row, m0, v0);
    _mm512_mask_storeu_epi32(row + 16, m1, v1);
  }
}

struct AmxBf16Kernel {
  using Acc = float;
  static constexpr std::int64_t kMR = 32, kNR = 32, kKGroup = 2;
  static constexpr std::int64_t kKC = 1024;    // 512 pairs: a 64 KiB B panel, a 64 KiB A panel
  static constexpr std::int64_t kMCTiles = 8;  // 256 rows: a 512 KiB A block in the 2 MiB L2
  static constexpr std::int64_t kNC = 2048;
  static std::int64_t groups(std::int64_t kc) { return ((kc + 1) / 2 + 15) / 16 * 16; }
  static void begin() { load_tile_config(); }
  static void end() { release_tiles(); }

  static void pack_a(const GemmProblem& p, std::int64_t i0, std::int64_t mc, std::int64_t p0, std::int64_t kc,
                     std::uint32_t* out) {
    if (p.a.type == DType::bfloat16)
      return pack_a_amx_raw<std::uint16_t>(p.a, i0, mc, p0, kc, groups(kc), out);
    pack_a_amx_fp8(p.a, i0, mc, p0, kc, groups(kc), out);
  }
  static void pack_b(const GemmProblem& p, std::int64_t p0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
                     std::uint32_t* out) {
    if (p.b.type == DType::bfloat16) return pack_b_raw<std::uint16_t>(p.b, p0, kc, j0, nc, out, groups(kc));
    pack_b_fp8(p.b, p0, kc, j0, nc, out, groups(kc));
  }

  LOWBIT_AMX_TARGET static void tile(std::int64_t groups, const std::uint32_t* a, const std::uint32_t* b,
                                     float* c, std::int64_t ldc, float alpha, float beta, int mr, int nr) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (std::int64_t s = 0; s < groups / 16; ++s) {
      _tile_loadd(4, a + s * 512, 64);
      _tile_loadd(5, a + s * 512 + 256, 64);
      _tile_loadd(6, b + s * 512, 128);
      _tile_loadd(7, b + s * 512 + 16, 128);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
    alignas(64) float acc[32 * 32];
    _tile_stored(0, acc, 128);
    _tile_stored(1, acc + 16, 128);
    _tile_stored(2, acc + 512, 128);
    _tile_stored(3, acc + 512 + 16, 128);
    combine_f32(acc, c, ldc, alpha, beta, mr, nr);
  }
};

// int8 on AMX: the instruction is chosen by the operands' signedness (tdpbssd, tdpbsud, tdpbusd, tdpbuud).
template <bool kASigned, bool kBSigned>
struct AmxS8Kernel {
  using Acc = std::int32_t;
  static constexpr std::int64_t kMR = 32, kNR = 32, kKGroup = 4;
  static constexpr std::int64_t kKC = 2048;    // 512 words of 4: 64 KiB panels
  static constexpr std::int64_t kMCTiles = 8;  // 256 rows: a 512 KiB A block
  static constexpr std::int64_t kNC = 2048;
  static std::int64_t groups(std::int64_t kc) { return ((kc + 3) / 4 + 15) / 16 * 16; }
  static void begin() { load_tile_config(); }
  static void end() { release_tiles(); }

  static void pack_a(const GemmProblem& p, std::int64_t i0, std::int64_t mc, std::int64_t p0, std::int64_t kc,
                     std::uint32_t* out) {
    pack_a_amx_raw<std::uint8_t>(p.a, i0, mc, p0, kc, groups(kc), out);
  }
  static void pack_b(const GemmProblem& p, std::int64_t p0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
                     std::uint32_t* out) {
    pack_b_raw<std::uint8_t>(p.b, p0, kc, j0, nc, out, groups(kc));
  }

  LOWBIT_AMX_TARGET static void tile(std::int64_t groups, const std::uint32_t* a, const std::uint32_t* b,
                                     std::int32_t* c, std::int64_t ldc, float, float beta, int mr, int nr) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (std::int64_t s = 0; s < groups / 16; ++s) {
      _tile_loadd(4, a + s * 512, 64);
      _tile_loadd(5, a + s * 512 + 256, 64);
      _tile_loadd(6, b + s * 512, 128);
      _tile_loadd(7, b + s * 512 + 16, 128);
      if constexpr (kASigned && kBSigned) {
        _tile_dpbssd(0, 4, 6);
        _tile_dpbssd(1, 4, 7);
        _tile_dpbssd(2, 5, 6);
        _tile_dpbssd(3, 5, 7);
      } else if constexpr (kASigned) {
        _tile_dpbsud(0, 4, 6);
        _tile_dpbsud(1, 4, 7);
        _tile_dpbsud(2, 5, 6);
        _tile_dpbsud(3, 5, 7);
      } else if constexpr (kBSigned) {
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
      } else {
        _tile_dpbuud(0, 4, 6);
        _tile_dpbuud(1, 4, 7);
        _tile_dpbuud(2, 5, 6);
        _tile_dpbuud(3, 5, 7);
      }
    }
    alignas(64) std::int32_t acc[32 * 32];
    _tile_stored(0, acc, 128);
    _tile_stored(1, acc + 16, 128);
    _tile_stored(2, acc + 512, 128);
    _tile_stored(3, acc + 512 + 16, 128);
    combine_s32(acc, c, ldc, beta, mr, nr);
  }
};

void noop(std::int64_t, std::int64_t, std::int64_t, std::int64_t) {}

template <class Kernel>
void run_s8(const GemmProblem& p) {
  if (epilogue_is_exact_int32(p)) {
    packed_gemm<Kernel>(p, static_cast<std::int32_t*>(p.c.data), p.c.ld, 1.0f, p.epilogue.beta, noop);
    return;
  }
  const auto acc = accumulators<std::int32_t>(p);
  packed_gemm<Kernel>(p, acc.get(), p.n, 1.0f, 0.0f,
                      [&](std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1) {
                        apply_epilogue_int32(p, acc.get(), p.n, i0, i1, j0, j1);
                      });
}

}  // namespace

void gemm_bf16_amx(const GemmProblem& p) {
  packed_gemm_f32<AmxBf16Kernel>(p);
}

void gemm_s8_amx(const GemmProblem& p) {
  const bool a_signed = p.a.type == DType::int8, b_signed = p.b.type == DType::int8;
  if (a_signed && b_signed) {
    run_s8<AmxS8Kernel<true, true>>(p);
  } else if (a_signed) {
    run_s8<AmxS8Kernel<true, false>>(p);
  } else if (b_signed) {
    run_s8<AmxS8Kernel<false, true>>(p);
  } else {
    run_s8<AmxS8Kernel<false, false>>(p);
  }
}

}  // namespace lowbit::kernels::cpu
