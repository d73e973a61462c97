// cuda::encode_blocks against formats' CPU block encoder (block.hpp, itself tested against the OCP and
// ModelOpt recipes in tests/formats), every output byte: element codes, scale codes, NVFP4's tensor scale
// and the amax. Inputs are fresh random rows built from blocks of every kind block.hpp has a rule for
// (outliers, all-zero, NaN/inf, subnormal scales, ties, partial last blocks), and a sweep of every bf16
// value as an element inside blocks of varied amax. Outputs are poisoned before each run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "device_operands.hpp"
#include "lowbit/formats/block.hpp"
#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cuda.hpp"

namespace lowbit::kernels::test {
namespace {

const char* const kGpuFormats[] = {"mxfp8_e4m3", "mxfp8_e5m2", "mxfp4", "nvfp4"};

struct Encoded {
  std::vector<std::uint8_t> elements, scales;
  std::uint32_t tensor_scale_bits = 0;
  std::uint32_t amax_bits = 0;
};

// An input as the GPU reads it (fp32 or bf16 bytes) and as fp32 values for the CPU encoder.
struct Input {
  DType from = DType::float32;
  std::size_t rows = 0, cols = 0;
  std::vector<unsigned char> bytes;
  std::vector<float> values;
};

Input make_input(DType from, std::size_t rows, std::size_t cols, const std::vector<float>& values) {
  Input in{from, rows, cols, {}, {}};
  in.bytes.resize(dtype_storage_bytes(from, values.size()));
  convert_bulk(dtype_format(DType::float32), values.data(), dtype_format(from), in.bytes.data(),
               values.size());
  in.values.resize(values.size());  // bf16 widens to fp32 exactly
  convert_bulk(dtype_format(from), in.bytes.data(), dtype_format(DType::float32), in.values.data(),
               values.size());
  return in;
}

// formats' encode_blocks on each row, with the whole array's tensor scale; rows are split into pieces of
// whole blocks run on several threads (a piece is a stream of its own: full blocks start on byte
// boundaries).
Encoded reference_encode(const BlockFormat& format, const Input& in, const BlockOptions& options) {
  const std::size_t block = format.block_size(), row_bytes = format.element_bytes(in.cols),
                    row_blocks = format.block_count(in.cols);
  Encoded out;
  out.elements.assign(in.rows * row_bytes, 0);
  out.scales.assign(in.rows * row_blocks, 0);
  const float tensor_scale = format.has_tensor_scale() ? nvfp4_tensor_scale(in.values) : 1.0f;
  out.tensor_scale_bits = std::bit_cast<std::uint32_t>(tensor_scale);
  for (const float v : in.values)
    out.amax_bits = std::max(out.amax_bits, std::bit_cast<std::uint32_t>(v) & 0x7FFFFFFFu);
  struct Piece {
    std::size_t row, first, count;
  };
  std::vector<Piece> pieces;
  const std::size_t piece_elements = 256 * block;
  for (std::size_t r = 0; r < in.rows; ++r)
    for (std::size_t first = 0; first < in.cols; first += piece_elements)
      pieces.push_back({r, first, std::min(piece_elements, in.cols - first)});
  const unsigned threads = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (std::size_t p = t; p < pieces.size(); p += threads) {
        const Piece& piece = pieces[p];
        const std::size_t offset = piece.row * in.cols + piece.first;
        BlockOptions piece_options = options;
        if (!options.random.empty()) piece_options.random = options.random.subspan(offset, piece.count);
        encode_blocks(
            format, std::span<const float>(in.values).subspan(offset, piece.count),
            std::span<std::uint8_t>(out.elements)
                .subspan(piece.row * row_bytes + format.element_bytes(piece.first),
                         format.element_bytes(piece.count)),
            std::span<std::uint8_t>(out.scales)
                .subspan(piece.row * row_blocks + piece.first / block, format.block_count(piece.count)),
            tensor_scale, piece_options);
      }
    });
  }
  for (auto& t : pool) t.join();
  return out;
}

Encoded gpu_encode(const BlockFormat& format, const Input& in, const cuda::EncodeBlocksOptions& options,
                   const std::vector<std::uint32_t>& random = {}) {
  cuda::DeviceBuffer d_src(std::max<std::size_t>(in.bytes.size(), 1));
  if (!in.bytes.empty()) d_src.upload(in.bytes.data(), in.bytes.size());
  Encoded out;
  out.elements.resize(in.rows * format.element_bytes(in.cols));
  out.scales.resize(in.rows * format.block_count(in.cols));
  cuda::DeviceBuffer d_elements(std::max<std::size_t>(out.elements.size(), 1)),
      d_scales(std::max<std::size_t>(out.scales.size(), 1)), d_tensor_scale(4), d_amax(4),
      d_random(std::max<std::size_t>(random.size() * 4, 1));
  d_elements.fill_bytes(0xA5);  // poison: every byte must be written
  d_scales.fill_bytes(0x5A);
  d_tensor_scale.fill_bytes(0xFF);
  d_amax.fill_bytes(0);
  if (!random.empty()) d_random.upload(random.data(), random.size() * 4);
  cuda::EncodeBlocksOptions o = options;
  o.amax = d_amax.as<float>();
  if (!random.empty()) o.random = d_random.as<std::uint32_t>();
  cuda::encode_blocks(format, d_src.get(), in.from, in.rows, in.cols, d_elements.as<std::uint8_t>(),
                      d_scales.as<std::uint8_t>(),
                      format.has_tensor_scale() ? d_tensor_scale.as<float>() : nullptr, o);
  cuda::synchronize();
  if (!out.elements.empty()) d_elements.download(out.elements.data(), out.elements.size());
  if (!out.scales.empty()) d_scales.download(out.scales.data(), out.scales.size());
  if (format.has_tensor_scale())
    d_tensor_scale.download(&out.tensor_scale_bits, 4);
  else
    out.tensor_scale_bits = std::bit_cast<std::uint32_t>(1.0f);
  d_amax.download(&out.amax_bits, 4);
  return out;
}

// Every byte equal; the first difference is reported with the row, block and input values around it.
void check_same(const BlockFormat& format, const Input& in, const Encoded& want, const Encoded& got) {
  CHECK(want.tensor_scale_bits == got.tensor_scale_bits);
  CHECK(want.amax_bits == got.amax_bits);
  const std::size_t row_bytes = format.element_bytes(in.cols), row_blocks = format.block_count(in.cols);
  auto report = [&](const char* what, const std::vector<std::uint8_t>& w, const std::vector<std::uint8_t>& g,
                    std::size_t per_row, std::size_t elements_per_unit_x2) {
    REQUIRE(w.size() == g.size());
    const auto mismatch = std::mismatch(w.begin(), w.end(), g.begin());
    if (mismatch.first == w.end()) return;
    const std::size_t i = static_cast<std::size_t>(mismatch.first - w.begin());
    const std::size_t row = i / per_row, col = (i % per_row) * elements_per_unit_x2 / 2;
    INFO(what << " byte " << i << " (row " << row << ", element " << col << "): formats 0x" << std::hex
              << int{w[i]} << ", GPU 0x" << int{g[i]} << std::dec << "; input there "
              << in.values[row * in.cols + col]);
    CHECK(false);
  };
  report("elements", want.elements, got.elements, row_bytes, 16 / format.element_bits());
  report("scales", want.scales, got.scales, row_blocks, 2 * format.block_size());
}

// Rows built block by block from the kinds of block block.hpp has rules for. `wide`: exponents over
// fp32's whole range (most NVFP4 blocks then underflow their scale), else within +-12 binades.
std::vector<float> mixed_blocks(std::mt19937_64& rng, std::size_t rows, std::size_t cols, std::size_t block,
                                bool wide) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> kind_of(0, 99), small_int(-63, 63), bit(0, 1);
  std::uniform_int_distribution<std::uint32_t> any_bits;
  const int spread = wide ? 100 : 12;
  std::uniform_int_distribution<int> exponent(-spread, spread);
  std::vector<float> v(rows * cols);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t first = 0; first < cols; first += block) {
      float* x = v.data() + r * cols + first;
      const std::size_t n = std::min(block, cols - first);
      const int kind = kind_of(rng), e = exponent(rng);
      std::uniform_int_distribution<std::size_t> position(0, n - 1);
      for (std::size_t i = 0; i < n; ++i) x[i] = std::ldexp(normal(rng), e);  // ordinary
      if (kind < 10) {                                                        // an outlier
        x[position(rng)] *= std::ldexp(1.0f, 4 + kind);
      } else if (kind < 18) {  // all zero, either sign
        for (std::size_t i = 0; i < n; ++i) x[i] = bit(rng) ? -0.0f : 0.0f;
      } else if (kind < 26) {  // NaN or +-inf among ordinary values
        const std::uint32_t special[] = {0x7FC00000u, 0xFF800001u | (any_bits(rng) & 0x7FFFFFu), 0x7F800000u,
                                         0xFF800000u};
        x[position(rng)] = std::bit_cast<float>(special[kind % 4]);
        if (kind % 3 == 0) x[position(rng)] = std::bit_cast<float>(special[(kind + 1) % 4]);
      } else if (kind < 34) {  // fp32 subnormals (MX: the scale underflows to 2^-127), some tiny normals
        for (std::size_t i = 0; i < n; ++i) {
          const std::uint32_t magnitude =
              kind % 2 ? any_bits(rng) % 0x800000u : 0x800000u + any_bits(rng) % 0x3000000u;
          x[i] = std::bit_cast<float>(magnitude | (bit(rng) ? 0x80000000u : 0u));
        }
      } else if (kind < 42) {  // far below the rest (NVFP4: e4m3 subnormal or zero block scales)
        for (std::size_t i = 0; i < n; ++i) x[i] = std::ldexp(x[i], -10 - (kind - 34) * 4);
      } else if (kind < 56) {  // small integers times a power of two: many exact ties
        for (std::size_t i = 0; i < n; ++i) x[i] = std::ldexp(static_cast<float>(small_int(rng)), e);
      } else if (wide && kind < 64) {  // any finite fp32
        for (std::size_t i = 0; i < n; ++i) {
          std::uint32_t b;
          do b = any_bits(rng);
          while ((b & 0x7F800000u) == 0x7F800000u);
          x[i] = std::bit_cast<float>(b);
        }
      }
    }
  }
  return v;
}

struct Shape {
  std::size_t rows, cols;
};

TEST_CASE(
    "cuda encode_blocks matches formats byte for byte on rows of outliers, zero, NaN/inf, "
    "subnormal-scale and tie blocks, partial last blocks included",
    "[kernels][cuda]") {
  const std::uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const Shape shapes[] = {{1, 1},   {1, 15},   {1, 16},   {1, 17},   {3, 31},           {2, 33},
                          {5, 100}, {64, 257}, {33, 512}, {7, 4103}, {1, (1 << 20) + 5}};
  for (const char* name : kGpuFormats) {
    const BlockFormat& format = find_block_format(name);
    for (const DType from : {DType::float32, DType::bfloat16}) {
      for (const bool wide : {false, true}) {
        for (const Shape shape : shapes) {
          INFO(name << " from " << dtype_name(from) << (wide ? ", wide" : ", narrow") << " exponents, "
                    << shape.rows << " x " << shape.cols);
          const Input in = make_input(from, shape.rows, shape.cols,
                                      mixed_blocks(rng, shape.rows, shape.cols, format.block_size(), wide));
          check_same(format, in, reference_encode(format, in, format.default_options()),
                     gpu_encode(format, in, {}));
        }
      }
    }
  }
}

TEST_CASE(
    "cuda encode_blocks rounds elements in every mode and policy as formats does, stochastic rounding "
    "with one random word per element",
    "[kernels][cuda]") {
  const std::uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const Shape shape{9, 1000};
  std::vector<std::uint32_t> random(shape.rows * shape.cols);
  for (auto& r : random) r = static_cast<std::uint32_t>(rng());
  for (const char* name : kGpuFormats) {
    const BlockFormat& format = find_block_format(name);
    for (const Rounding rounding : {Rounding::nearest_even, Rounding::nearest_away, Rounding::toward_zero,
                                    Rounding::up, Rounding::down, Rounding::odd, Rounding::stochastic}) {
      for (const Policy policy : {Policy::saturate, Policy::ieee}) {
        INFO(name << ", " << to_string(rounding) << ", " << to_string(policy));
        const Input in = make_input(DType::float32, shape.rows, shape.cols,
                                    mixed_blocks(rng, shape.rows, shape.cols, format.block_size(), false));
        BlockOptions cpu;
        cpu.rounding = rounding;
        cpu.policy = policy;
        if (rounding == Rounding::stochastic) cpu.random = random;
        cuda::EncodeBlocksOptions gpu;
        gpu.rounding = rounding;
        gpu.policy = policy;
        check_same(format, in, reference_encode(format, in, cpu),
                   gpu_encode(format, in, gpu,
                              rounding == Rounding::stochastic ? random : std::vector<std::uint32_t>{}));
      }
    }
  }
}

// Every bf16 code c, each in six blocks: alone among zeros (c is the amax, a zero block, or a NaN/inf
// block), with smaller values, and with an amax 1, 3, 9 and 17 binades above c.
std::vector<float> sweep_block(std::uint16_t c, int context, std::size_t block, std::mt19937_64& rng) {
  const float value = std::bit_cast<float>(std::uint32_t{c} << 16);
  const int e = std::isfinite(value) && value != 0.0f ? std::ilogb(value) : 0;
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> x(block, 0.0f);
  const int above[] = {0, 0, 1, 3, 9, 17};
  for (std::size_t i = 0; i < block; ++i) {
    if (context == 1) x[i] = std::isfinite(value) ? unit(rng) * std::fabs(value) : unit(rng);
    if (context >= 2) x[i] = std::ldexp(unit(rng), std::min(e + above[context], 127));
  }
  if (context >= 2) x[(c + 1) % block] = std::ldexp(1.0f, std::min(e + above[context], 127)) * 1.5f;
  x[c % block] = value;
  return x;
}

TEST_CASE("cuda encode_blocks matches formats on every bf16 value as an element inside blocks of varied amax",
          "[kernels][cuda]") {
  const std::uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  constexpr int kContexts = 6;
  for (const char* name : kGpuFormats) {
    const BlockFormat& format = find_block_format(name);
    const std::size_t block = format.block_size();
    // NVFP4's tensor scale comes from the whole array, so each call holds the codes of one bf16 exponent:
    // their blocks' scales then span e4m3's range instead of all underflowing under one huge value.
    const std::uint32_t codes_per_call = format.has_tensor_scale() ? 128 : 65536;
    for (std::uint32_t first = 0; first < 65536; first += codes_per_call) {
      std::vector<float> values;
      values.reserve(std::size_t{codes_per_call} * kContexts * block);
      for (std::uint32_t c = first; c < first + codes_per_call; ++c)
        for (int context = 0; context < kContexts; ++context) {
          const std::vector<float> x = sweep_block(static_cast<std::uint16_t>(c), context, block, rng);
          values.insert(values.end(), x.begin(), x.end());
        }
      const Input in = make_input(DType::bfloat16, values.size() / block, block, values);
      INFO(name << ", bf16 codes from 0x" << std::hex << first);
      check_same(format, in, reference_encode(format, in, format.default_options()),
                 gpu_encode(format, in, {}));
    }
  }
}

TEST_CASE("cuda encode_blocks rejects bad arguments naming them", "[kernels][cuda]") {
  cuda::DeviceBuffer buf(256);
  auto* bytes = buf.as<std::uint8_t>();
  float* scale = buf.as<float>();
  const BlockFormat& mx = find_block_format("mxfp8_e4m3");
  const BlockFormat& nv = find_block_format("nvfp4");
  REQUIRE_THROWS_WITH(
      cuda::encode_blocks(find_block_format("mxfp6_e3m2"), buf.get(), DType::float32, 1, 4, bytes, bytes),
      Catch::Contains("format = mxfp6_e3m2"));
  REQUIRE_THROWS_WITH(cuda::encode_blocks(mx, buf.get(), DType::float16, 1, 4, bytes, bytes),
                      Catch::Contains("from = float16"));
  REQUIRE_THROWS_WITH(cuda::encode_blocks(nv, buf.get(), DType::float32, 1, 4, bytes, bytes),
                      Catch::Contains("nvfp4 needs tensor_scale"));
  REQUIRE_THROWS_WITH(cuda::encode_blocks(mx, buf.get(), DType::float32, 1, 4, bytes, bytes, scale),
                      Catch::Contains("tensor_scale must be null"));
  REQUIRE_THROWS_WITH(cuda::encode_blocks(mx, nullptr, DType::float32, 1, 4, bytes, bytes),
                      Catch::Contains("src is null"));
  REQUIRE_THROWS_WITH(cuda::encode_blocks(mx, buf.get(), DType::float32, 1, 4, bytes, nullptr),
                      Catch::Contains("scales is null"));
  cuda::EncodeBlocksOptions stochastic;
  stochastic.rounding = Rounding::stochastic;
  REQUIRE_THROWS_WITH(
      cuda::encode_blocks(mx, buf.get(), DType::float32, 1, 4, bytes, bytes, nullptr, stochastic),
      Catch::Contains("needs random"));
  REQUIRE_THROWS_AS(cuda::encode_blocks(mx, buf.get(), DType::float32, std::size_t{1} << 40,
                                        std::size_t{1} << 40, bytes, bytes),
                    RangeError);
}

}  // namespace
}  // namespace lowbit::kernels::test
