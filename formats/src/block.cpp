// The block formats' table and lookup, and the array encode/decode entry points (size checks, then one
// block at a time through the codecs of block_mx.cpp and block_nvfp4.cpp).
#include "lowbit/formats/block.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <vector>

#include "block_internal.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/formats/float_engine.hpp"

namespace lowbit {

BlockFormat::BlockFormat(std::string name, std::vector<std::string> aliases, BlockScaling scaling,
                         std::size_t block_size, Format element, Format scale, std::string description)
    : name_(std::move(name)),
      aliases_(std::move(aliases)),
      scaling_(scaling),
      block_size_(block_size),
      element_(std::move(element)),
      scale_(std::move(scale)),
      description_(std::move(description)) {}

int BlockFormat::emax_elem() const {
  return element_.is_float() ? element_.float_spec().emax() : 0;
}

double BlockFormat::bits_per_element() const {
  return element_bits() + static_cast<double>(scale_bits()) / static_cast<double>(block_size_);
}

std::size_t BlockFormat::block_count(std::size_t count) const {
  return (count + block_size_ - 1) / block_size_;
}

std::size_t BlockFormat::element_bytes(std::size_t count) const {
  return detail::packed_bytes(count, element_bits());
}

BlockOptions BlockFormat::default_options() const {
  BlockOptions options;
  options.rounding = scaling_ == BlockScaling::mx ? Rounding::nearest_away : Rounding::nearest_even;
  options.policy = Policy::saturate;
  return options;
}

namespace {

std::vector<BlockFormat> make_block_formats() {
  using S = std::vector<std::string>;
  const Format e8m0 = find_format("float8_e8m0fnu");
  auto mx = [&](const char* name, S aliases, const char* element, const char* description) {
    return BlockFormat(name, std::move(aliases), BlockScaling::mx, 32, find_format(element), e8m0,
                       description);
  };
  return {
      mx("mxfp8_e4m3", {}, "float8_e4m3fn", "OCP MX: 32 x float8_e4m3fn, one e8m0 scale"),
      mx("mxfp8_e5m2", {}, "float8_e5m2", "OCP MX: 32 x float8_e5m2, one e8m0 scale"),
      mx("mxfp6_e3m2", {}, "float6_e3m2fn", "OCP MX: 32 x float6_e3m2fn, one e8m0 scale"),
      mx("mxfp6_e2m3", {}, "float6_e2m3fn", "OCP MX: 32 x float6_e2m3fn, one e8m0 scale"),
      mx("mxfp4", {"mxfp4_e2m1"}, "float4_e2m1fn", "OCP MX: 32 x float4_e2m1fn, one e8m0 scale"),
      mx("mxint8", {}, "q1.6", "OCP MX: 32 x int8 (two's complement, times 2^-6), one e8m0 scale"),
      BlockFormat("nvfp4", {}, BlockScaling::nvfp4, 16, find_format("float4_e2m1fn"),
                  find_format("float8_e4m3fn"),
                  "NVIDIA NVFP4: 16 x float4_e2m1fn, one float8_e4m3fn scale, one fp32 scale per tensor"),
  };
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

void check_tensor_scale(const BlockFormat& format, float tensor_scale) {
  if (format.has_tensor_scale()) {
    if (!std::isfinite(tensor_scale) || !(tensor_scale > 0.0f)) {
      throw RangeError(
          fmt::format("{} tensor_scale must be finite and positive, got {}", format.name(), tensor_scale));
    }
  } else if (tensor_scale != 1.0f) {
    throw RangeError(fmt::format("{} has no per-tensor scale: tensor_scale must be 1, got {}", format.name(),
                                 tensor_scale));
  }
}

void check_sizes(const BlockFormat& format, std::size_t count, std::size_t element_bytes,
                 std::size_t scale_bytes) {
  if (element_bytes != format.element_bytes(count)) {
    throw RangeError(fmt::format("{}: the elements buffer holds {} bytes, {} elements need {}", format.name(),
                                 element_bytes, count, format.element_bytes(count)));
  }
  if (scale_bytes != format.block_count(count)) {
    throw RangeError(
        fmt::format("{}: the scales buffer holds {} bytes, {} elements need {} (one per block of {})",
                    format.name(), scale_bytes, count, format.block_count(count), format.block_size()));
  }
}

Unpacked decode_element(const BlockFormat& format, std::uint8_t scale_code, std::uint8_t code,
                        float tensor_scale) {
  return format.scaling() == BlockScaling::mx ? detail::decode_mx_element(format, scale_code, code)
                                              : detail::decode_nvfp4_element(scale_code, code, tensor_scale);
}

float to_float32(const Unpacked& value) {
  Flags ignored;
  return std::bit_cast<float>(static_cast<std::uint32_t>(pack_float(spec::float32, value, {}, ignored)));
}

}  // namespace

const std::vector<BlockFormat>& listed_block_formats() {
  static const std::vector<BlockFormat> formats = make_block_formats();
  return formats;
}

const BlockFormat& find_block_format(std::string_view text) {
  const std::string name = lower(text);
  std::string known;
  for (const BlockFormat& f : listed_block_formats()) {
    if (f.name() == name || std::find(f.aliases().begin(), f.aliases().end(), name) != f.aliases().end())
      return f;
    known += (known.empty() ? "" : ", ") + f.name();
    for (const auto& alias : f.aliases()) known += ", " + alias;
  }
  throw UnknownFormatError(fmt::format("unknown block format '{}' (known: {})", std::string(text), known));
}

void encode_blocks(const BlockFormat& format, std::span<const float> values, std::span<std::uint8_t> elements,
                   std::span<std::uint8_t> scales, float tensor_scale, const BlockOptions& options) {
  check_sizes(format, values.size(), elements.size(), scales.size());
  check_tensor_scale(format, tensor_scale);
  if (options.rounding == Rounding::stochastic && options.random.size() != values.size()) {
    throw RangeError(
        fmt::format("{}: stochastic rounding needs one random word per element: got {} for {} elements",
                    format.name(), options.random.size(), values.size()));
  }
  std::fill(elements.begin(), elements.end(), std::uint8_t{0});
  std::vector<std::uint8_t> codes(format.block_size());
  const int bits = format.element_bits();
  for (std::size_t block = 0; block < scales.size(); ++block) {
    const std::size_t first = block * format.block_size();
    const std::span<const float> chunk =
        values.subspan(first, std::min(format.block_size(), values.size() - first));
    const std::span<std::uint8_t> chunk_codes(codes.data(), chunk.size());
    scales[block] = format.scaling() == BlockScaling::mx
                        ? detail::encode_mx_block(format, chunk, chunk_codes, options, first)
                        : detail::encode_nvfp4_block(chunk, chunk_codes, tensor_scale, options, first);
    for (std::size_t i = 0; i < chunk.size(); ++i)
      detail::write_code(elements, bits, first + i, chunk_codes[i]);
  }
}

EncodedBlocks encode_blocks(const BlockFormat& format, std::span<const float> values,
                            const BlockOptions& options) {
  EncodedBlocks out;
  out.elements.resize(format.element_bytes(values.size()));
  out.scales.resize(format.block_count(values.size()));
  out.tensor_scale = format.has_tensor_scale() ? nvfp4_tensor_scale(values) : 1.0f;
  encode_blocks(format, values, out.elements, out.scales, out.tensor_scale, options);
  return out;
}

EncodedBlocks encode_blocks(const BlockFormat& format, std::span<const float> values) {
  return encode_blocks(format, values, format.default_options());
}

void decode_blocks(const BlockFormat& format, std::span<const std::uint8_t> elements,
                   std::span<const std::uint8_t> scales, std::span<float> out, float tensor_scale) {
  check_sizes(format, out.size(), elements.size(), scales.size());
  check_tensor_scale(format, tensor_scale);
  const int bits = format.element_bits();
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::uint8_t code = detail::read_code(elements, bits, i);
    out[i] = to_float32(decode_element(format, scales[i / format.block_size()], code, tensor_scale));
  }
}

DecodedBlock decode_block(const BlockFormat& format, std::span<const std::uint8_t> bytes,
                          float tensor_scale) {
  check_tensor_scale(format, tensor_scale);
  const std::size_t most = 1 + format.element_bytes(format.block_size());
  if (bytes.size() < 2 || bytes.size() > most) {
    throw RangeError(fmt::format("{}: a block is 1 scale byte and 1 to {} element bytes, got {} bytes in all",
                                 format.name(), most - 1, bytes.size()));
  }
  const std::span<const std::uint8_t> packed = bytes.subspan(1);
  const std::size_t count = packed.size() * 8 / static_cast<std::size_t>(format.element_bits());
  DecodedBlock block;
  block.scale_code = bytes[0];
  block.scale = format.scaling() == BlockScaling::mx ? detail::mx_scale_value(bytes[0])
                                                     : unpack_float(spec::float8_e4m3fn, bytes[0]);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t code = detail::read_code(packed, format.element_bits(), i);
    block.codes.push_back(code);
    block.exact.push_back(decode_element(format, block.scale_code, code, tensor_scale));
    block.values.push_back(to_float32(block.exact.back()));
  }
  return block;
}

}  // namespace lowbit
