// dequantize_gguf: each GGUF tensor streamed into a safetensors entry, converted chunk by chunk.
#include <fmt/format.h>

#include <algorithm>

#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/quant/checkpoint.hpp"
#include "lowbit/quant/ggml_quants.hpp"
#include "lowbit/quant/gguf.hpp"
#include "source_tensor.hpp"

namespace lowbit::quant {
namespace {

constexpr std::uint64_t kChunkElements = std::uint64_t{1} << 22;

}  // namespace

void dequantize_gguf(const std::filesystem::path& input, const std::filesystem::path& output,
                     std::string_view dtype, const Progress& progress) {
  DType target;
  if (dtype == "F32") {
    target = DType::float32;
  } else if (dtype == "F16") {
    target = DType::float16;
  } else if (dtype == "BF16") {
    target = DType::bfloat16;
  } else {
    throw RangeError(fmt::format("dequantize: dtype '{}' is not one of F32, F16, BF16", dtype));
  }
  const GgufFile file = GgufFile::open(input);
  std::uint64_t total = 0, done = 0;
  for (const auto& t : file.tensors()) total += t.bytes;

  std::vector<train::SafetensorsEntry> entries;
  for (const auto& t : file.tensors()) {
    std::vector<std::int64_t> shape = t.shape();
    const auto plain = detail::dtype_of_gguf_type(t.type);
    const bool is_int = plain && (plain->front() == 'I');
    if (is_int) {
      entries.push_back(train::SafetensorsEntry::bytes(t.name, std::string(*plain), shape, t.data));
      continue;
    }
    if (!can_dequantize(t.type)) {
      throw FileError(fmt::format("{}: tensor \"{}\": lowbit cannot dequantize type {}", input.string(),
                                  t.name, ggml_type_name(t.type)));
    }
    const GgufTensor* tp = &t;
    entries.push_back(train::SafetensorsEntry::streamed(
        t.name, std::string(dtype), shape, [tp, target, &done, total, &progress](train::AtomicFile& out) {
          const std::uint64_t elements = tp->element_count();
          const std::uint64_t row = tp->ne.empty() ? 1 : tp->ne[0];
          const std::uint64_t row_bytes = row == 0 ? 0 : *ggml_tensor_bytes(tp->type, row, row);
          const std::uint64_t chunk_rows =
              std::max<std::uint64_t>(1, kChunkElements / std::max<std::uint64_t>(row, 1));
          const std::uint64_t rows = row == 0 ? 0 : elements / row;
          std::vector<float> y;
          std::vector<std::uint8_t> converted;
          for (std::uint64_t first = 0; first < rows; first += chunk_rows) {
            const std::uint64_t n = std::min(chunk_rows, rows - first);
            y.resize(n * row);
            for (std::uint64_t r = 0; r < n; ++r) {
              dequantize_row(tp->type, tp->data.data() + (first + r) * row_bytes,
                             static_cast<std::int64_t>(row), y.data() + r * row);
            }
            if (target == DType::float32) {
              out.write(y.data(), y.size() * 4);
            } else {
              converted.resize(y.size() * 2);
              convert_bulk(dtype_format(DType::float32), y.data(), dtype_format(target), converted.data(),
                           y.size());
              out.write(converted.data(), converted.size());
            }
          }
          done += tp->bytes;
          if (progress) progress(done, total);
        }));
  }
  std::map<std::string, std::string> metadata;
  metadata["format"] = "pt";
  train::write_safetensors(output, entries, metadata);
}

}  // namespace lowbit::quant
