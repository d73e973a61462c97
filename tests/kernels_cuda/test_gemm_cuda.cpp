// The CUDA GEMMs against the CPU fp64 reference (kernels/reference.hpp): every operand type on each path,
// shapes that are not multiples of any tile (1, 7, 33, 1000; K = 1), transposed and padded operands (the
// repacking path), epilogues, block-scaled fp8, and exact results for integer inputs. Outputs are
// poisoned before every run and inputs are fresh random values each time.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "device_operands.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cuda.hpp"
#include "lowbit/kernels/reference.hpp"

namespace lowbit::kernels::test {
namespace {

using cuda::GemmPath;

struct Case {
  DType a, b;
};
const Case kCases[] = {
    {DType::bfloat16, DType::bfloat16},           {DType::float16, DType::float16},
    {DType::float8_e4m3fn, DType::float8_e4m3fn}, {DType::float8_e4m3fn, DType::float8_e5m2},
    {DType::float8_e5m2, DType::float8_e4m3fn},   {DType::int8, DType::int8}};

bool is_fp8(DType t) {
  return t == DType::float8_e4m3fn || t == DType::float8_e5m2;
}

// Unit roundoff of the accumulation: fp32, except that Hopper's fp8 tensor cores keep about 14 bits of
// each partial sum before it reaches the fp32 accumulator (DeepSeek-V3 report, section 3.3.2).
double accumulate_u(DType a) {
  return is_fp8(a) ? 0x1p-14 : 0x1p-24;
}

std::vector<GemmPath> paths() {
  std::vector<GemmPath> p{GemmPath::mma_sync};
  if (cuda::device_properties().major == 9) p.insert(p.begin(), GemmPath::wgmma);
  return p;
}

const char* path_name(GemmPath p) {
  return p == GemmPath::wgmma ? "wgmma" : "mma.sync";
}

struct Layout {
  bool transpose_a, transpose_b;  // the fast layout is A as stored (no), B stored n x k (yes)
  std::int64_t pad;               // extra elements per stored row
  std::int64_t c_pad = 0;         // extra elements per row of C
};

// Runs one GEMM on the GPU and compares every element of C (rows `rows` of op(A) only, when given) with
// the reference: exactly when `exact`, else within gemm_error_bound.
void run_and_check(std::int64_t m, std::int64_t n, std::int64_t k, const Case& types, const Layout& layout,
                   DType out, GemmPath path, std::uint64_t seed, bool exact, int range,
                   const Epilogue& host_epilogue = {}, const std::vector<float>& row_scale = {},
                   const std::vector<float>& col_scale = {}, const std::vector<float>& bias = {},
                   const std::vector<std::int64_t>& rows = {}) {
  INFO("seed " << seed << ", " << dtype_name(types.a) << " x " << dtype_name(types.b) << " -> "
               << dtype_name(out) << ", " << m << "x" << n << "x" << k << ", path " << path_name(path)
               << ", transpose a/b " << layout.transpose_a << "/" << layout.transpose_b << ", pad "
               << layout.pad << ", ldc pad " << layout.c_pad);
  std::mt19937_64 rng(seed);
  const std::int64_t a_rows = layout.transpose_a ? k : m, a_cols = layout.transpose_a ? m : k;
  const std::int64_t b_rows = layout.transpose_b ? n : k, b_cols = layout.transpose_b ? k : n;
  HostDevice a = random_operand(types.a, a_rows, a_cols, a_cols + layout.pad, rng, range);
  HostDevice b = random_operand(types.b, b_rows, b_cols, b_cols + layout.pad, rng, range);
  const std::int64_t ldc = n + layout.c_pad;
  HostDevice c0 = random_operand(out, m, n, ldc, rng, out == DType::int32 ? 1000 : 0);  // beta * C input
  MatrixIn ha{a.host.data(), types.a, a_cols + layout.pad,
              layout.transpose_a ? Transpose::yes : Transpose::no};
  MatrixIn hb{b.host.data(), types.b, b_cols + layout.pad,
              layout.transpose_b ? Transpose::yes : Transpose::no};
  MatrixIn da = ha, db = hb;
  da.data = a.ptr();
  db.data = b.ptr();

  cuda::DeviceBuffer d_row = to_device(row_scale), d_col = to_device(col_scale), d_bias = to_device(bias);
  Epilogue de = host_epilogue, he = host_epilogue;
  he.row_scale = row_scale.empty() ? nullptr : row_scale.data();
  he.col_scale = col_scale.empty() ? nullptr : col_scale.data();
  he.bias = bias.empty() ? nullptr : bias.data();
  de.row_scale = row_scale.empty() ? nullptr : d_row.as<float>();
  de.col_scale = col_scale.empty() ? nullptr : d_col.as<float>();
  de.bias = bias.empty() ? nullptr : d_bias.as<float>();

  cuda::DeviceBuffer c(std::max<std::size_t>(c0.host.size(), 1));
  if (host_epilogue.beta != 0.0f) {
    c.upload(c0.host.data(), c0.host.size());
  } else {
    c.fill_bytes(0xFF);  // poison: NaN in every float type, -1 in int32
  }
  cuda::gemm(m, n, k, da, db, MatrixOut{c.get(), out, ldc}, de, {nullptr, path});
  cuda::synchronize();
  const std::vector<double> got = download_as_double(c, out, static_cast<std::size_t>(m * ldc));

  std::vector<std::int64_t> check_rows = rows;
  if (check_rows.empty())
    for (std::int64_t i = 0; i < m; ++i) check_rows.push_back(i);
  int failures = 0;
  for (const std::int64_t i : check_rows) {
    // The reference for row i alone: A's row i (column i when transposed), the same B, C and epilogue.
    MatrixIn ra = ha;
    ra.data = a.host.data() +
              dtype_storage_bytes(types.a, static_cast<std::size_t>(layout.transpose_a ? i : i * ha.ld));
    Epilogue re = he;
    if (re.row_scale) re.row_scale += i;
    const ReferenceResult ref = gemm_reference_values(
        1, n, k, ra, hb,
        MatrixOut{c0.host.data() + dtype_storage_bytes(out, static_cast<std::size_t>(i * ldc)), out, ldc},
        re);
    for (std::int64_t j = 0; j < n; ++j) {
      const double want = ref.at(0, j), value = got[static_cast<std::size_t>(i * ldc + j)];
      const double bound = exact ? 0.0
                                 : gemm_error_bound(k, want, ref.magnitude[static_cast<std::size_t>(j)], out,
                                                    accumulate_u(types.a), host_epilogue.activation);
      if (!(std::fabs(value - want) <= bound) && failures++ < 5) {
        INFO("C(" << i << ", " << j << ") = " << value << ", reference " << want << ", bound " << bound);
        CHECK(std::fabs(value - want) <= bound);
      }
    }
  }
  CHECK(failures == 0);
}

TEST_CASE("cuda gemm matches the fp64 reference for every operand type, path and awkward shape",
          "[kernels][cuda]") {
  struct Shape {
    std::int64_t m, n, k;
  };
  const Shape shapes[] = {{1, 1, 1},     {7, 33, 1000},   {33, 7, 1},
                          {1000, 33, 7}, {130, 257, 200}, {129, 520, 1100}};
  const Layout layouts[] = {{false, true, 0}, {true, false, 3}, {false, false, 8}};
  for (const GemmPath path : paths()) {
    for (const Case& types : kCases) {
      const bool integer = types.a == DType::int8;
      const DType out = integer ? DType::int32 : DType::float32;
      for (const Shape& s : shapes) {
        for (const Layout& layout : layouts) {
          run_and_check(s.m, s.n, s.k, types, layout, out, path, fresh_seed(), integer, integer ? 127 : 0);
        }
      }
    }
  }
}

TEST_CASE("cuda gemm rounds once into bf16 and fp16 outputs", "[kernels][cuda]") {
  // C rows of 300 (no 16-byte stores), 512 (16-byte stores, whole tiles) and 261 of 264 (16-byte stores,
  // partial segments at the right edge).
  struct OutShape {
    std::int64_t m, n, k, c_pad;
  };
  const OutShape shapes[] = {{67, 300, 333, 0}, {130, 512, 200, 0}, {70, 261, 128, 3}};
  for (const GemmPath path : paths()) {
    for (const Case& types : kCases) {
      if (types.a == DType::int8) continue;
      for (const DType out : {DType::bfloat16, DType::float16}) {
        for (const OutShape& s : shapes) {
          run_and_check(s.m, s.n, s.k, types, {false, true, 0, s.c_pad}, out, path, fresh_seed(), false, 0);
        }
      }
    }
  }
}

TEST_CASE("cuda gemm is exact on small-integer float inputs", "[kernels][cuda]") {
  // |sum| <= 520 * 4 = 2080: exact in fp32 and within the fp8 tensor cores' 14 bits.
  for (const GemmPath path : paths()) {
    for (const Case& types : kCases) {
      run_and_check(70, 150, 520, types, {false, true, 0},
                    types.a == DType::int8 ? DType::int32 : DType::float32, path, fresh_seed(), true, 2);
    }
  }
}

TEST_CASE("cuda gemm int8 gives the exact wrapping int32 sum, plus C when beta is 1", "[kernels][cuda]") {
  Epilogue add_c;
  add_c.beta = 1.0f;
  for (const GemmPath path : paths()) {
    run_and_check(100, 200, 1000, {DType::int8, DType::int8}, {false, true, 0}, DType::int32, path,
                  fresh_seed(), true, 127, add_c);
  }
}

TEST_CASE("cuda gemm applies alpha, beta, row and column scales, bias and activation as the CPU does",
          "[kernels][cuda]") {
  std::mt19937_64 rng(fresh_seed());
  std::uniform_real_distribution<float> scale(0.25f, 2.0f), offset(-1.0f, 1.0f);
  const std::int64_t m = 70, n = 90, k = 128;
  std::vector<float> rows(m), cols(n), bias(n);
  for (auto& x : rows) x = scale(rng);
  for (auto& x : cols) x = scale(rng);
  for (auto& x : bias) x = offset(rng);
  for (const GemmPath path : paths()) {
    for (const Activation act : {Activation::none, Activation::relu, Activation::gelu_tanh}) {
      for (const DType out : {DType::float32, DType::bfloat16}) {
        Epilogue e;
        e.alpha = 0.75f;
        e.beta = -0.5f;
        e.activation = act;
        run_and_check(m, n, k, {DType::bfloat16, DType::bfloat16}, {false, true, 0}, out, path, fresh_seed(),
                      false, 0, e, rows, cols, bias);
        e.beta = 0.0f;
        run_and_check(m, n, k, {DType::int8, DType::int8}, {false, true, 0}, out, path, fresh_seed(), false,
                      100, e, rows, cols, bias);
      }
    }
  }
}

TEST_CASE("cuda gemm walks more tiles than the GPU has multiprocessors", "[kernels][cuda]") {
  // 2000 x 2100 is 16 x 9 tiles of 128 x 256 (and 16 x 17 of 128 x 128): more than 132 multiprocessors, so
  // the persistent kernel's blocks take several tiles each. Rows sampled across every row tile.
  std::vector<std::int64_t> rows;
  for (std::int64_t i = 0; i < 2000; i += 61) rows.push_back(i);
  rows.push_back(1999);
  for (const GemmPath path : paths()) {
    run_and_check(2000, 2100, 256, {DType::bfloat16, DType::bfloat16}, {false, true, 0}, DType::float32, path,
                  fresh_seed(), true, 2, {}, {}, {}, {}, rows);
    run_and_check(2000, 2100, 384, {DType::float8_e4m3fn, DType::float8_e4m3fn}, {false, true, 0},
                  DType::bfloat16, path, fresh_seed(), false, 0, {}, {}, {}, {}, rows);
  }
}

// Block-scaled fp8: A's scale per row and 128 of K, B's per 128 x 128 block; the reference applies them to
// every element exactly (kernels/reference.cpp), the kernel per 128-wide partial sum. Every row of C is
// checked, or rows `rows` only when given.
void run_block_scaled(std::int64_t m, std::int64_t n, std::int64_t k, DType b_type, std::uint64_t seed,
                      const std::vector<std::int64_t>& rows = {}) {
  INFO("seed " << seed << ", block-scaled e4m3 x " << dtype_name(b_type) << ", " << m << "x" << n << "x"
               << k);
  std::mt19937_64 rng(seed);
  HostDevice a = random_operand(DType::float8_e4m3fn, m, k, k, rng, 0);
  HostDevice b = random_operand(b_type, n, k, k, rng, 0);
  const std::int64_t groups = (k + 127) / 128;
  std::vector<float> scale_a(static_cast<std::size_t>(m * groups)),
      scale_b(static_cast<std::size_t>((n + 127) / 128 * groups));
  std::uniform_real_distribution<float> scale(0.1f, 4.0f);
  for (auto& x : scale_a) x = scale(rng);
  for (auto& x : scale_b) x = scale(rng);
  cuda::DeviceBuffer d_sa = to_device(scale_a), d_sb = to_device(scale_b);
  MatrixIn ha{a.host.data(), DType::float8_e4m3fn, k, Transpose::no, 128, scale_a.data()};
  MatrixIn hb{b.host.data(), b_type, k, Transpose::yes, 128, scale_b.data()};
  hb.group_span = 128;
  MatrixIn da = ha, db = hb;
  da.data = a.ptr();
  da.group_scale = d_sa.as<float>();
  db.data = b.ptr();
  db.group_scale = d_sb.as<float>();
  cuda::DeviceBuffer c(static_cast<std::size_t>(m * n) * 4);
  c.fill_bytes(0xFF);
  cuda::gemm(m, n, k, da, db, MatrixOut{c.get(), DType::float32, n});
  cuda::synchronize();
  const std::vector<double> got = download_as_double(c, DType::float32, static_cast<std::size_t>(m * n));
  // Each 128-product partial sum keeps about 14 bits, then fp32 accumulates the k / 128 partials.
  const double u = (128.0 * 0x1p-14 + static_cast<double>(k) * 0x1p-24) / static_cast<double>(k);
  std::vector<std::int64_t> check_rows = rows;
  if (check_rows.empty())
    for (std::int64_t i = 0; i < m; ++i) check_rows.push_back(i);
  std::vector<float> dummy(static_cast<std::size_t>(n));
  int failures = 0;
  for (const std::int64_t i : check_rows) {
    // The reference for row i alone: A's row i and its scales, the same B.
    MatrixIn ra = ha;
    ra.data = a.host.data() + i * k;
    ra.group_scale = scale_a.data() + i * groups;
    const ReferenceResult ref =
        gemm_reference_values(1, n, k, ra, hb, MatrixOut{dummy.data(), DType::float32, n});
    for (std::int64_t j = 0; j < n; ++j) {
      const double want = ref.value[static_cast<std::size_t>(j)],
                   value = got[static_cast<std::size_t>(i * n + j)];
      const double bound =
          gemm_error_bound(k, want, ref.magnitude[static_cast<std::size_t>(j)], DType::float32, u);
      if (!(std::fabs(value - want) <= bound) && failures++ < 5) {
        INFO("C(" << i << ", " << j << ") = " << value << ", reference " << want << ", bound " << bound);
        CHECK(std::fabs(value - want) <= bound);
      }
    }
  }
  CHECK(failures == 0);
}

TEST_CASE("cuda gemm block-scaled fp8 applies 1x128 activation and 128x128 weight scales",
          "[kernels][cuda]") {
  if (cuda::device_properties().major != 9) return;  // the wgmma path only
  for (const DType b_type : {DType::float8_e4m3fn, DType::float8_e5m2}) {
    run_block_scaled(1, 1, 1, b_type, fresh_seed());
    run_block_scaled(130, 300, 520, b_type, fresh_seed());
    run_block_scaled(7, 129, 1000, b_type, fresh_seed());
    run_block_scaled(256, 384, 2048, b_type, fresh_seed());
  }
}

TEST_CASE("cuda gemm block-scaled fp8 walks more tiles than the GPU has multiprocessors", "[kernels][cuda]") {
  if (cuda::device_properties().major != 9) return;  // the wgmma path only
  // The kernel picks 192- or 256-column tiles by shape; on 132 multiprocessors (H100, H200) the first shape
  // runs 16 x 12 tiles of 128 x 192, where every other tile starts in the middle of a 128-column weight-scale
  // block, and the second 31 x 16 tiles of 128 x 256. Both have partial tiles at the bottom and right, and
  // the persistent blocks take several tiles each, carrying the stage ring and its phases across tiles.
  run_block_scaled(2000, 2200, 384, DType::float8_e4m3fn, fresh_seed());
  run_block_scaled(3900, 4050, 256, DType::float8_e5m2, fresh_seed());
}

TEST_CASE("cuda gemm block-scaled fp8 in clusters sharing B by multicast", "[kernels][cuda]") {
  if (cuda::device_properties().major != 9) return;  // the wgmma path only
  // An even number of row-tiles and K >= 4096 run in clusters of two CTAs, each loading half of the B tile
  // both use. The first shape is checked whole. The others run 16 x 12 tiles of 128 x 192 (every other one
  // starting in the middle of a weight-scale block; K ends in a partial slice after 4-slice runs and two
  // single slices) and 16 x 16 of 128 x 256, both more cluster tiles than the 66 clusters an H100 runs at
  // once and partial at the right; two rows of each row-tile are checked.
  run_block_scaled(256, 384, 4096, DType::float8_e4m3fn, fresh_seed());
  std::vector<std::int64_t> rows;
  for (std::int64_t tile = 0; tile < 16; ++tile) {
    rows.push_back(tile * 128 + tile);
    rows.push_back(tile * 128 + 127 - tile);
  }
  run_block_scaled(2048, 2200, 4300, DType::float8_e4m3fn, fresh_seed(), rows);
  run_block_scaled(2048, 4050, 4224, DType::float8_e5m2, fresh_seed(), rows);
}

TEST_CASE("cuda gemm rejects what it cannot run with a message naming the argument", "[kernels][cuda]") {
  cuda::DeviceBuffer buf(4096);
  const MatrixIn f32{buf.get(), DType::float32, 8};
  const MatrixIn bf16{buf.get(), DType::bfloat16, 8, Transpose::yes};
  const MatrixIn e5m2{buf.get(), DType::float8_e5m2, 16};
  const MatrixOut out{buf.get(), DType::float32, 8};
  REQUIRE_THROWS_WITH(cuda::gemm(4, 4, 4, f32, f32, out), Catch::Contains("a.type = float32"));
  REQUIRE_THROWS_WITH(cuda::gemm(4, 4, 4, e5m2, e5m2, out), Catch::Contains("float8_e5m2"));
  REQUIRE_THROWS_WITH(cuda::gemm(-1, 4, 4, bf16, bf16, out), Catch::Contains("m = -1"));
  REQUIRE_THROWS_WITH(cuda::gemm(4, 4, 4, bf16, bf16, MatrixOut{buf.get(), DType::int32, 8}),
                      Catch::Contains("int32 C takes int8 inputs"));
  MatrixIn grouped = bf16;
  grouped.group_size = 128;
  grouped.group_scale = buf.as<float>();
  REQUIRE_THROWS_WITH(cuda::gemm(4, 4, 4, grouped, bf16, out), Catch::Contains("block scaling"));
  REQUIRE_THROWS_AS(cuda::gemm(4, 4, 4, MatrixIn{nullptr, DType::bfloat16, 8}, bf16, out), RangeError);
}

}  // namespace
}  // namespace lowbit::kernels::test
