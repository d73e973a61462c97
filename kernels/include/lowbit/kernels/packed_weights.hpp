// int4 weights packed once and multiplied many times (the LLM case: the weights stay, the activations
// change), as oneDNN's weight reorder and OpenBLAS's packed B do. gemm() on plain int4 weights rearranges
// them into the kernel's layout on every call; for M of tens of rows that costs as much as the product.
// The packed form keeps 4 bits per weight, in the order the AMX kernel consumes them (32-column panels,
// steps of 32 k), with the group scales and zero points beside them; it owns its storage, so the caller may
// free the original weights.
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/kernels/gemm.hpp"

namespace lowbit::kernels {

class PackedInt4Weights {
 public:
  // Packs op(B) (k x n) of `b`: int4 with group scales along K (optionally zero points), group_size a
  // multiple of 32 that divides 1024, group_span 1; any layout gemm() accepts (Transpose::yes is the
  // [out, in] shape of a linear layer). Throws RangeError naming the bad argument otherwise.
  PackedInt4Weights(std::int64_t k, std::int64_t n, const MatrixIn& b);

  std::int64_t k() const { return k_; }
  std::int64_t n() const { return n_; }
  std::int32_t group_size() const { return group_size_; }
  bool has_zero_points() const { return !zeros_.empty(); }

  // The layout, for the kernels. Panel P holds columns [32P, 32P + 32) (past n: scale 0), step s holds k
  // [32s, 32s + 32) (past k: code 0). Codes: 512 bytes per (panel, step), at (P * steps() + s) * 512; read
  // as 32 little-endian 16-bit words per 64 bytes, nibble t (bits 4t..4t+3) of word l of the u-th 64 bytes
  // is q + 8 of the element that lands in word l of tile row (8t + u) / 2, half (8t + u) % 2 (16 columns
  // each) when the step is unpacked into AMX's bf16 pair rows. Scales and zero points: [panel][group][32].
  std::int64_t panels() const { return (n_ + 31) / 32; }
  std::int64_t steps() const { return (k_ + 31) / 32; }
  std::int64_t groups() const { return (k_ + group_size_ - 1) / group_size_; }
  const std::uint8_t* codes() const { return codes_.data(); }
  const float* scales() const { return scales_.data(); }
  const std::int8_t* zeros() const { return zeros_.empty() ? nullptr : zeros_.data(); }

  // The weights in the plain form gemm() takes, k x n as op(B) with B stored n x k (Transpose::yes), into
  // caller-owned buffers: `codes` gets n rows of ceil(k / 2) bytes, `scales` and `zeros` n x groups().
  MatrixIn unpacked(std::vector<std::uint8_t>& codes, std::vector<float>& scales,
                    std::vector<std::int8_t>& zeros) const;

 private:
  std::int64_t k_ = 0, n_ = 0;
  std::int32_t group_size_ = 0;
  std::vector<std::uint8_t> codes_;
  std::vector<float> scales_;
  std::vector<std::int8_t> zeros_;
};

// C(m x n) = epilogue(op(A)(m x k) * B(k x n)) with pre-packed int4 weights: the same result and error bound
// as gemm() on the weights `b` was packed from. For bf16 / fp8 activations the AMX and AVX512_BF16 kernels
// unpack the packed codes straight into their B panels; other activation types, and CPUs with neither, go
// through gemm() on the weights unpacked into a temporary.
void gemm(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a, const PackedInt4Weights& b,
          const MatrixOut& c, const Epilogue& epilogue = {});

}  // namespace lowbit::kernels
