// Shared pieces of the AMX kernels (gemm_amx.cpp, gemm_w4_amx.cpp): the tile configuration and the A-panel
// packing (the combine of a 32 x 32 fp32 result tile into C: combine_tile.hpp).
#pragma once

#include <cstdint>

#include "cpu/packed_driver.hpp"

#define LOWBIT_AMX_TARGET \
  __attribute__((target("amx-tile,amx-bf16,amx-int8,avx512f,avx512bw,avx512vl,avx512dq")))

namespace lowbit::kernels::cpu {

// Palette 1 with tiles 0..7 all 16 rows x 64 bytes, on the calling thread; release_tiles gives the state
// back.
void load_tile_config();
void release_tiles();

// Packs op(A) rows [i0, i0+mc) x k [p0, p0+kc) for AMX: panels of 32 rows; within a panel, per k step
// (16 words), 32 rows x 16 words. Words hold kKGroup consecutive k. Panels start `panel_words` apart
// (default: right after each other).
template <int kKGroup, class Elem, class Read>
void pack_a_amx(const MatrixIn& a, std::int64_t i0, std::int64_t mc, std::int64_t p0, std::int64_t kc,
                std::int64_t groups, std::uint32_t* out, Read read, std::int64_t panel_words = 0) {
  constexpr int kBits = 32 / kKGroup;
  const std::int64_t steps = groups / 16;
  for (std::int64_t q = 0; q < mc; q += 32) {
    for (std::int64_t r = 0; r < 32; ++r) {
      const bool row_ok = q + r < mc;
      for (std::int64_t gi = 0; gi < groups; ++gi) {
        std::uint32_t word = 0;
        if (row_ok) {
          for (int t = 0; t < kKGroup; ++t) {
            const std::int64_t p = gi * kKGroup + t;
            if (p < kc)
              word |= static_cast<std::uint32_t>(
                          static_cast<Elem>(read(a.data, operand_index(a, i0 + q + r, p0 + p))))
                      << (kBits * t);
          }
        }
        out[(gi / 16) * 512 + r * 16 + gi % 16] = word;
      }
    }
    out += panel_words != 0 ? panel_words : steps * 512;
  }
}

}  // namespace lowbit::kernels::cpu
