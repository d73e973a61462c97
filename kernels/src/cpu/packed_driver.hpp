// The Goto/BLIS loops shared by the raw-intrinsic low-precision paths (bf16 and int8): a kKC-deep block of
// op(B) is packed into kNR-column panels, then for every kMC-row block of op(A) (packed into kMR-row
// panels) the micro-kernel sweeps the tiles. Elements are packed in 32-bit words of kKGroup consecutive k
// (2 bf16 or 4 int8), the operand of one vdpbf16ps / vpdpbusd lane. Threads take whole-tile ranges of
// the longer side of C and each packs its own panels.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "cpu/problem.hpp"
#include "cpu/thread_pool.hpp"

namespace lowbit::kernels::cpu {

// Below this many multiply-adds one thread does the whole product.
inline constexpr std::int64_t kThreadedMinMacs = std::int64_t{1} << 19;

// Kernel supplies: kMR, kNR, kKC (a multiple of kKGroup), kMCTiles, kNC, kKGroup, Acc (float or int32),
//   groups(kc) (words per packed row or column: ceil(kc / kKGroup), or more where the kernel pads k),
//   begin() / end() around each thread's work (AMX tile configuration),
//   pack_a(problem, i0, mc, p0, kc, uint32_t* out), pack_b(problem, p0, kc, j0, nc, uint32_t* out),
//   tile(groups, a, b, Acc* out, ld, alpha, beta, mr, nr): out = alpha * acc + beta * out (beta 0: no read).
// `finish(i0, i1, j0, j1)` runs on each thread once its block of C is complete (epilogue, corrections).
// Kernels whose tile also takes `const Acc* row_add, const Acc* col_add` (kTakesAdds) get, on the last k
// block, row_add[i] + col_add[j] to add to each element of the tile (nullptr: none), so a rank-one
// correction (the int8 kernel's offsets) costs no extra pass over C.
template <class Kernel, class Finish>
void packed_gemm(const GemmProblem& p, typename Kernel::Acc* out, std::int64_t ld_out, float alpha,
                 float beta, Finish&& finish, const typename Kernel::Acc* row_add = nullptr,
                 const typename Kernel::Acc* col_add = nullptr) {
  auto block = [&](std::int64_t i_begin, std::int64_t i_end, std::int64_t j_begin, std::int64_t j_end) {
    constexpr std::int64_t mr = Kernel::kMR, nr = Kernel::kNR;
    constexpr std::int64_t mc_max = Kernel::kMCTiles * mr;
    thread_local std::vector<std::uint32_t> a_buf, b_buf;
    // Sized for this product (k and n may be far below the blocks), grown only.
    const std::int64_t k_words = Kernel::groups(std::min(Kernel::kKC, p.k));
    const std::int64_t b_columns = std::min(Kernel::kNC, (j_end - j_begin + nr - 1) / nr * nr);
    const std::int64_t a_rows = std::min(mc_max, (i_end - i_begin + mr - 1) / mr * mr);
    a_buf.resize(std::max(a_buf.size(), static_cast<std::size_t>(a_rows * k_words + 16)));
    b_buf.resize(std::max(b_buf.size(), static_cast<std::size_t>(b_columns * k_words + 16)));
    // 64-byte alignment for the panel loads.
    auto align = [](std::uint32_t* ptr) {
      return reinterpret_cast<std::uint32_t*>((reinterpret_cast<std::uintptr_t>(ptr) + 63) &
                                              ~std::uintptr_t{63});
    };
    std::uint32_t* pa = align(a_buf.data());
    std::uint32_t* pb = align(b_buf.data());
    // When the rows fit one A block (few rows: the LLM shapes), B is packed a panel at a time right before
    // the tiles that use it, so each panel is still in L1/L2 when they read it instead of coming back from
    // L3 after the whole block was packed (int4 64 x 4096 x 4096 on Zen 4, 2 threads: 11.8-12.2 -> 11.1-11.4
    // ms of CPU time; bf16 unchanged).
    const bool panel_at_a_time = i_end - i_begin <= mc_max;
    Kernel::begin();
    for (std::int64_t jc = j_begin; jc < j_end; jc += Kernel::kNC) {
      const std::int64_t nc = std::min(Kernel::kNC, j_end - jc);
      for (std::int64_t pc = 0; pc < p.k; pc += Kernel::kKC) {
        const std::int64_t kc = std::min(Kernel::kKC, p.k - pc);
        const std::int64_t groups = Kernel::groups(kc);
        const float beta_now = pc == 0 ? beta : 1.0f;
        if (!panel_at_a_time) Kernel::pack_b(p, pc, kc, jc, nc, pb);
        for (std::int64_t ic = i_begin; ic < i_end; ic += mc_max) {
          const std::int64_t mc = std::min(mc_max, i_end - ic);
          Kernel::pack_a(p, ic, mc, pc, kc, pa);
          for (std::int64_t jr = 0; jr < nc; jr += nr) {
            if (panel_at_a_time) Kernel::pack_b(p, pc, kc, jc + jr, std::min(nr, nc - jr), pb);
            for (std::int64_t ir = 0; ir < mc; ir += mr) {
              const std::uint32_t* a_panel = pa + ir * groups;
              const std::uint32_t* b_panel = panel_at_a_time ? pb : pb + jr * groups;
              auto* c_tile = out + (ic + ir) * ld_out + jc + jr;
              const int rows = static_cast<int>(std::min(mr, mc - ir));
              const int cols = static_cast<int>(std::min(nr, nc - jr));
              if constexpr (requires { Kernel::kTakesAdds; }) {
                const bool last = pc + kc >= p.k;
                Kernel::tile(groups, a_panel, b_panel, c_tile, ld_out, alpha, beta_now, rows, cols,
                             last && row_add ? row_add + ic + ir : nullptr,
                             last && col_add ? col_add + jc + jr : nullptr);
              } else {
                Kernel::tile(groups, a_panel, b_panel, c_tile, ld_out, alpha, beta_now, rows, cols);
              }
            }
          }
        }
      }
    }
    Kernel::end();
    finish(i_begin, i_end, j_begin, j_end);
  };
  const int threads = p.m * p.n * p.k < kThreadedMinMacs ? 1 : p.threads;
  if (threads <= 1) {
    block(0, p.m, 0, p.n);
    return;
  }
  const bool split_n = p.n >= p.m;
  run_parallel(threads, [&](int t, int count) {
    std::int64_t begin, end;
    split_range(split_n ? p.n : p.m, split_n ? Kernel::kNR : Kernel::kMR, t, count, begin, end);
    if (begin < end) {
      if (split_n) {
        block(0, p.m, begin, end);
      } else {
        block(begin, end, 0, p.n);
      }
    }
  });
}

// Asks for the mr rows of a kernel's 32-column C tile (fp32 or int32) at the start of a tile that will add
// to C: C was last touched a whole pass over the matrix ago, and its rows, a power-of-two stride apart at
// the usual sizes, share one L1 set, so without the prefetch the read-modify-write at the end of the tile
// waits on 28 misses in a row (measured on Zen 4: bf16 2048^3 in 1024-deep k blocks 177 -> 205 GFLOP/s on
// one core).
template <class T>
inline void prefetch_tile(const T* c, std::int64_t ldc, int mr) {
  for (int r = 0; r < mr; ++r) {
    __builtin_prefetch(c + r * ldc, 1, 3);
    __builtin_prefetch(c + r * ldc + 16, 1, 3);
  }
}

// Reads op(X)(row, col) through `read(data, index)` for the packing loops.
inline std::int64_t operand_index(const MatrixIn& x, std::int64_t row, std::int64_t col) {
  return x.transpose == Transpose::yes ? col * x.ld + row : row * x.ld + col;
}

// Packs op(A)[i0 .. i0+mc) x [p0 .. p0+kc) into panels of kMR rows; each panel holds, for every group of
// kKGroup k's, kMR words (one per row). Elements past kc and rows past mc are `zero`. `groups` words per row
// (default ceil(kc / kKGroup); more pads with `zero`), panels `panel_words` apart (default groups * kMR).
template <int kMR, int kKGroup, class Elem, class Read>
void pack_a_words(const MatrixIn& a, std::int64_t i0, std::int64_t mc, std::int64_t p0, std::int64_t kc,
                  std::uint32_t* out, Elem zero, Read read, std::int64_t groups = 0,
                  std::int64_t panel_words = 0) {
  constexpr int kBits = 32 / kKGroup;
  if (groups == 0) groups = (kc + kKGroup - 1) / kKGroup;
  if (panel_words == 0) panel_words = groups * kMR;
  for (std::int64_t q = 0; q < mc; q += kMR) {
    for (std::int64_t r = 0; r < kMR; ++r) {
      const std::int64_t i = i0 + q + r;
      for (std::int64_t gi = 0; gi < groups; ++gi) {
        std::uint32_t word = 0;
        for (int t = 0; t < kKGroup; ++t) {
          const std::int64_t p = gi * kKGroup + t;
          const Elem e = (q + r < mc && p < kc) ? read(a.data, operand_index(a, i, p0 + p)) : zero;
          word |= static_cast<std::uint32_t>(e) << (kBits * t);
        }
        out[gi * kMR + r] = word;
      }
    }
    out += panel_words;
  }
}

// Packs op(B)[p0 .. p0+kc) x [j0 .. j0+nc) into panels of kNR columns; each panel holds, for every group of
// kKGroup k's, kNR words (one per column).
template <int kNR, int kKGroup, class Elem, class Read>
void pack_b_words(const MatrixIn& b, std::int64_t p0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
                  std::uint32_t* out, Elem zero, Read read, std::int64_t groups = 0) {
  constexpr int kBits = 32 / kKGroup;
  if (groups == 0) groups = (kc + kKGroup - 1) / kKGroup;  // callers may ask for zero groups past kc
  for (std::int64_t q = 0; q < nc; q += kNR) {
    for (std::int64_t gi = 0; gi < groups; ++gi) {
      std::uint32_t* dst = out + gi * kNR;
      for (std::int64_t j = 0; j < kNR; ++j) dst[j] = 0;
      for (int t = 0; t < kKGroup; ++t) {
        const std::int64_t p = gi * kKGroup + t;
        for (std::int64_t j = 0; j < kNR; ++j) {
          const Elem e = (q + j < nc && p < kc) ? read(b.data, operand_index(b, p0 + p, j0 + q + j)) : zero;
          dst[j] |= static_cast<std::uint32_t>(e) << (kBits * t);
        }
      }
    }
    out += groups * kNR;
  }
}

// The accumulators of a product that an epilogue finishes, left uninitialized: packed_gemm's first k block
// stores every element (beta 0), and only k = 0 (no block) needs zeros. Zeroing them cost 12% of a bf16
// MLP training step on Zen 4 (perf: memset).
template <class Acc>
std::unique_ptr<Acc[]> accumulators(const GemmProblem& p) {
  const auto count = static_cast<std::size_t>(p.m * p.n);
  return p.k > 0 ? std::make_unique_for_overwrite<Acc[]>(count) : std::make_unique<Acc[]>(count);
}

// The float-accumulating kernels' entry: straight into C when the epilogue is only alpha/beta on an fp32
// output, otherwise into an fp32 workspace that apply_epilogue finishes block by block.
template <class Kernel>
void packed_gemm_f32(const GemmProblem& p) {
  if (epilogue_is_plain_f32(p)) {
    packed_gemm<Kernel>(p, static_cast<float*>(p.c.data), p.c.ld, p.epilogue.alpha, p.epilogue.beta,
                        [](std::int64_t, std::int64_t, std::int64_t, std::int64_t) {});
    return;
  }
  const auto acc = accumulators<float>(p);
  packed_gemm<Kernel>(p, acc.get(), p.n, 1.0f, 0.0f,
                      [&](std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1) {
                        apply_epilogue(p, acc.get(), p.n, i0, i1, j0, j1);
                      });
}

}  // namespace lowbit::kernels::cpu
