#include "lowbit/kernels/packed_weights.hpp"

#include <fmt/format.h>

#include "cpu/problem.hpp"
#include "gemm_args.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cpu_path.hpp"

namespace lowbit::kernels {

namespace {

// Where element (kk, j) of op(B) goes: the byte of codes_ and the shift of its nibble (see the header:
// tile row w = r / 2 of the step, word l = 2 * (c % 16) + r % 2 of half h = c / 16; that row and half are
// output vector o = 2w + h, which comes from 64-byte block u = o % 8, nibble t = o / 8).
struct CodeSlot {
  std::int64_t byte;
  int shift;
};

CodeSlot code_slot(std::int64_t steps, std::int64_t kk, std::int64_t j) {
  const std::int64_t panel = j / 32, c = j % 32, s = kk / 32, r = kk % 32;
  const std::int64_t o = 2 * (r / 2) + c / 16, l = 2 * (c % 16) + r % 2;
  const std::int64_t u = o % 8, t = o / 8;
  return {(panel * steps + s) * 512 + 2 * (32 * u + l) + t / 2, 4 * static_cast<int>(t % 2)};
}

}  // namespace

PackedInt4Weights::PackedInt4Weights(std::int64_t k, std::int64_t n, const MatrixIn& b)
    : k_(k), n_(n), group_size_(b.group_size) {
  constexpr const char* kFn = "PackedInt4Weights";
  check_dims(kFn, 0, n, k);
  check_operand(kFn, "b", b, k, n);
  if (b.type != DType::int4) {
    throw RangeError(fmt::format("{}: b.type = {} is not int4", kFn, dtype_name(b.type)));
  }
  if (b.group_size <= 0 || b.group_size % 32 != 0 || 1024 % b.group_size != 0) {
    throw RangeError(fmt::format("{}: b.group_size = {} is not one of 32, 64, ..., 1024", kFn, b.group_size));
  }
  if (b.group_span != 1) {
    throw RangeError(fmt::format("{}: b.group_span = {} is not 1", kFn, b.group_span));
  }
  const std::int64_t ngroups = groups();
  codes_.assign(static_cast<std::size_t>(panels() * steps() * 512), 0x88);  // q = 0 everywhere, padding too
  scales_.assign(static_cast<std::size_t>(panels() * ngroups * 32), 0.0f);
  if (b.group_zero) zeros_.assign(scales_.size(), 0);
  const auto* bytes = static_cast<const std::uint8_t*>(b.data);
  for (std::int64_t j = 0; j < n; ++j) {
    for (std::int64_t g = 0; g < ngroups; ++g) {
      const std::size_t at = static_cast<std::size_t>(((j / 32) * ngroups + g) * 32 + j % 32);
      scales_[at] = b.group_scale[j * ngroups + g];
      if (b.group_zero) zeros_[at] = b.group_zero[j * ngroups + g];
    }
    for (std::int64_t kk = 0; kk < k; ++kk) {
      const std::int64_t idx = b.transpose == Transpose::yes ? j * b.ld + kk : kk * b.ld + j;
      const int code = (bytes[idx / 2] >> (4 * (idx % 2))) & 0xf;
      const CodeSlot slot = code_slot(steps(), kk, j);
      std::uint8_t& byte = codes_[static_cast<std::size_t>(slot.byte)];
      byte = static_cast<std::uint8_t>((byte & ~(0xf << slot.shift)) | (code ^ 8) << slot.shift);  // q + 8
    }
  }
}

MatrixIn PackedInt4Weights::unpacked(std::vector<std::uint8_t>& codes, std::vector<float>& scales,
                                     std::vector<std::int8_t>& zeros) const {
  const std::int64_t row_bytes = (k_ + 1) / 2, ngroups = groups();
  codes.assign(static_cast<std::size_t>(std::max<std::int64_t>(n_ * row_bytes, 1)), 0);
  scales.assign(static_cast<std::size_t>(std::max<std::int64_t>(n_ * ngroups, 1)), 0.0f);
  zeros.assign(has_zero_points() ? scales.size() : 0, 0);
  for (std::int64_t j = 0; j < n_; ++j) {
    for (std::int64_t g = 0; g < ngroups; ++g) {
      const std::size_t at = static_cast<std::size_t>(((j / 32) * ngroups + g) * 32 + j % 32);
      scales[static_cast<std::size_t>(j * ngroups + g)] = scales_[at];
      if (has_zero_points()) zeros[static_cast<std::size_t>(j * ngroups + g)] = zeros_[at];
    }
    for (std::int64_t kk = 0; kk < k_; ++kk) {
      const CodeSlot slot = code_slot(steps(), kk, j);
      const int code = ((codes_[static_cast<std::size_t>(slot.byte)] >> slot.shift) & 0xf) ^ 8;
      codes[static_cast<std::size_t>(j * row_bytes + kk / 2)] |=
          static_cast<std::uint8_t>(code << (4 * (kk % 2)));
    }
  }
  return MatrixIn{codes.data(),
                  DType::int4,
                  2 * row_bytes,
                  Transpose::yes,
                  group_size_,
                  scales.data(),
                  has_zero_points() ? zeros.data() : nullptr};
}

void gemm(std::int64_t m, std::int64_t n, std::int64_t k, const MatrixIn& a, const PackedInt4Weights& b,
          const MatrixOut& c, const Epilogue& epilogue) {
  constexpr const char* kFn = "gemm";
  check_dims(kFn, m, n, k);
  if (n != b.n() || k != b.k()) {
    throw RangeError(
        fmt::format("{}: k x n = {} x {} but the packed weights are {} x {}", kFn, k, n, b.k(), b.n()));
  }
  check_operand(kFn, "a", a, m, k);
  check_matrix(kFn, "c", c.data, m, n, c.ld);
  if (c.type == DType::int4) throw RangeError(fmt::format("{}: c.type = int4 is not an output type", kFn));
  if (m == 0 || n == 0) return;
  const bool bf16_activations =
      a.group_size == 0 &&
      (a.type == DType::bfloat16 || a.type == DType::float8_e4m3fn || a.type == DType::float8_e5m2);
  const bool amx = cpu_path_limit() == CpuPath::best && cpu::cpu_has_amx();
  const bool avx512_bf16 = cpu_path_limit() != CpuPath::portable && cpu::cpu_has_avx512_bf16();
  if (k > 0 && bf16_activations && (amx || avx512_bf16)) {
    cpu::GemmProblem p{m, n, k, a, MatrixIn{}, c, epilogue, num_threads()};
    p.packed_b = &b;
    if (amx) {
      cpu::gemm_w4_packed_amx(p);
    } else {
      cpu::gemm_w4_packed_avx512(p);
    }
    return;
  }
  std::vector<std::uint8_t> codes;
  std::vector<float> scales;
  std::vector<std::int8_t> zeros;
  gemm(m, n, k, a, b.unpacked(codes, scales, zeros), c, epilogue);
}

}  // namespace lowbit::kernels
