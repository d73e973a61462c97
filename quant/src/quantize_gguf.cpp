// quantize_to_gguf: plan every tensor (rules, fallbacks), write the GGUF header, then quantize tensor by
// tensor in chunks of rows, the rows of a chunk split over the threads; each chunk is dequantized again to
// measure its error before its bytes are written.
#include <fmt/format.h>

#include <algorithm>
#include <regex>
#include <thread>

#include "lowbit/formats/error.hpp"
#include "lowbit/quant/checkpoint.hpp"
#include "lowbit/quant/ggml_quants.hpp"
#include "lowbit/quant/gguf.hpp"
#include "lowbit/quant/rules.hpp"
#include "source_tensor.hpp"

namespace lowbit::quant {

double TensorReport::bits_per_weight() const {
  return elements == 0 ? 0.0 : 8.0 * static_cast<double>(bytes_after) / static_cast<double>(elements);
}

std::uint64_t QuantizeReport::bytes_before() const {
  std::uint64_t n = 0;
  for (const auto& t : tensors) n += t.bytes_before;
  return n;
}

std::uint64_t QuantizeReport::bytes_after() const {
  std::uint64_t n = 0;
  for (const auto& t : tensors) n += t.bytes_after;
  return n;
}

ErrorStats QuantizeReport::total_error() const {
  ErrorStats total;
  for (const auto& t : tensors) {
    if (t.scheme != "keep") total.merge(t.error);
  }
  return total;
}

namespace {

constexpr std::uint64_t kChunkElements = std::uint64_t{1} << 22;  // 16 MiB of fp32 per chunk

struct Planned {
  const train::SafetensorsTensor* source;
  Decision decision;
  GgmlType stored;
  bool copy_bytes;  // kept with a GGUF type of the same bytes
};

int layer_count(const std::vector<const train::SafetensorsTensor*>& tensors) {
  static const std::regex layer(R"((^|\.)(layers|h|blk|layer)\.(\d+)\.)");
  int count = 0;
  for (const auto* t : tensors) {
    std::smatch m;
    if (std::regex_search(t->name, m, layer)) count = std::max(count, std::stoi(m[3].str()) + 1);
  }
  return count;
}

// llama.cpp's general.file_type (enum llama_ftype) for the whole-file scheme, where it has one.
std::optional<std::uint32_t> llama_ftype(std::string_view scheme) {
  std::string s(scheme);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::pair<const char*, std::uint32_t> kTable[] = {
      {"f32", 0},   {"f16", 1},     {"q4_0", 2},  {"q4_1", 3},    {"q8_0", 7},  {"q5_0", 8},  {"q5_1", 9},
      {"q4_k", 15}, {"q4_k_m", 15}, {"q5_k", 17}, {"q5_k_m", 17}, {"q6_k", 18}, {"bf16", 32},
  };
  for (const auto& [name, code] : kTable) {
    if (s == name) return code;
  }
  return std::nullopt;
}

// Quantizes rows [0, rows) of `x` (each `row` long) into `out`, dequantizes into `back` and measures the
// error, splitting the rows over `threads`; the statistics merge in row order, so they do not depend on
// the thread count.
void quantize_chunk(GgmlType type, const float* x, std::uint64_t rows, std::uint64_t row, std::uint8_t* out,
                    float* back, int threads, ErrorStats& stats, const std::string& tensor_name) {
  const std::uint64_t row_bytes = *ggml_tensor_bytes(type, row, row);
  const int parts = static_cast<int>(std::max<std::uint64_t>(1, std::min<std::uint64_t>(threads, rows)));
  std::vector<ErrorStats> part_stats(parts);
  std::vector<std::exception_ptr> errors(parts);
  auto work = [&](int p) {
    try {
      const std::uint64_t begin = rows * p / parts, end = rows * (p + 1) / parts;
      for (std::uint64_t r = begin; r < end; ++r) {
        try {
          quantize_row(type, x + r * row, static_cast<std::int64_t>(row), out + r * row_bytes);
        } catch (const RangeError& e) {
          throw RangeError(fmt::format("tensor \"{}\", row {}: {}", tensor_name, r, e.what()));
        }
        dequantize_row(type, out + r * row_bytes, static_cast<std::int64_t>(row), back + r * row);
        part_stats[p].add(x + r * row, back + r * row, row);
      }
    } catch (...) {
      errors[p] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int p = 1; p < parts; ++p) pool.emplace_back(work, p);
  work(0);
  for (auto& t : pool) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  for (const auto& s : part_stats) stats.merge(s);
}

}  // namespace

QuantizeReport quantize_to_gguf(const train::SafetensorsCheckpoint& input,
                                const std::filesystem::path& output, const QuantizeOptions& options) {
  const auto& tensors = input.tensors();
  Scheme base;
  std::vector<Rule> rules;
  for (const auto& text : options.rules) rules.push_back(parse_rule(text));
  if (auto mix = parse_mix(options.scheme, layer_count(tensors))) {
    base = mix->base;
    for (auto& r : mix->rules) rules.push_back(std::move(r));
  } else {
    base = parse_scheme(options.scheme);
  }

  std::vector<Planned> planned;
  std::vector<GgufTensorPlan> plans;
  for (const auto* t : tensors) {
    const bool is_float = detail::is_float_dtype(t->dtype);
    Planned p{t, decide_scheme(t->name, t->shape, is_float, base, rules), GgmlType::f32, false};
    if (p.decision.scheme.keep) {
      if (const auto same = detail::gguf_type_of_dtype(t->dtype)) {
        p.stored = *same;
        p.copy_bytes = true;
      } else if (is_float) {
        p.stored = GgmlType::f32;  // fp8: GGUF has no such type
      } else {
        throw FileError(fmt::format("{}: tensor \"{}\": dtype {} has no GGUF type", input.path().string(),
                                    t->name, t->dtype));
      }
    } else {
      p.stored = p.decision.scheme.type;
    }
    if (t->shape.size() > static_cast<std::size_t>(kGgufMaxDims)) {
      throw FileError(fmt::format("{}: tensor \"{}\": {} dimensions, GGUF allows at most {}",
                                  input.path().string(), t->name, t->shape.size(), kGgufMaxDims));
    }
    plans.push_back({t->name, t->shape, p.stored});
    planned.push_back(std::move(p));
  }

  GgufMetadata metadata;
  metadata.emplace_back("general.quantization_version", GgufValue::u32(2));
  if (const auto ftype = llama_ftype(options.scheme))
    metadata.emplace_back("general.file_type", GgufValue::u32(*ftype));
  metadata.emplace_back("lowbit.scheme", GgufValue::string(options.scheme));
  for (const auto& [key, value] : input.metadata()) {
    metadata.emplace_back("safetensors." + key, GgufValue::string(value));
  }

  GgufWriter writer(output, metadata, plans);
  QuantizeReport report;
  std::uint64_t total_bytes = 0, done_bytes = 0;
  for (const auto* t : tensors) total_bytes += t->data.size();
  std::vector<float> x, back;
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < planned.size(); ++i) {
    const auto& p = planned[i];
    const auto& t = *p.source;
    TensorReport r;
    r.name = t.name;
    r.shape = t.shape;
    r.source_dtype = t.dtype;
    r.scheme = p.decision.scheme.name();
    r.stored_as = std::string(ggml_type_name(p.stored));
    r.reason = p.decision.reason;
    r.elements = static_cast<std::uint64_t>(t.element_count());
    r.bytes_before = t.data.size();
    r.bytes_after = writer.tensor_bytes(i);
    if (p.copy_bytes) {
      writer.write(t.data);
      r.error.count = r.elements;  // exact: no noise
      if (detail::is_float_dtype(t.dtype)) {
        // The signal still counts towards the totals' SQNR.
        for (std::uint64_t first = 0; first < r.elements; first += kChunkElements) {
          const std::uint64_t n = std::min(kChunkElements, r.elements - first);
          x.resize(n);
          detail::read_f32(t, first, n, x.data());
          ErrorStats s;
          s.add(x.data(), x.data(), n);
          r.error.signal += s.signal;
        }
      }
    } else {
      const std::uint64_t row = t.shape.empty() ? 1 : static_cast<std::uint64_t>(t.shape.back());
      const std::uint64_t rows = row == 0 ? 0 : r.elements / row;
      const std::uint64_t chunk_rows =
          std::max<std::uint64_t>(1, kChunkElements / std::max<std::uint64_t>(row, 1));
      const std::uint64_t row_bytes = row == 0 ? 0 : *ggml_tensor_bytes(p.stored, row, row);
      for (std::uint64_t first = 0; first < rows; first += chunk_rows) {
        const std::uint64_t n = std::min(chunk_rows, rows - first);
        back.resize(n * row);
        out.resize(n * row_bytes);
        // F32 input is read in place from the mapping when aligned (safetensors writers align to 8); other
        // dtypes are converted into a buffer.
        const float* source = nullptr;
        if (t.dtype == "F32" && reinterpret_cast<std::uintptr_t>(t.data.data()) % alignof(float) == 0) {
          source = reinterpret_cast<const float*>(t.data.data()) + first * row;
        } else {
          x.resize(n * row);
          detail::read_f32(t, first * row, n * row, x.data());
          source = x.data();
        }
        quantize_chunk(p.stored, source, n, row, out.data(), back.data(), options.threads, r.error, t.name);
        writer.write(out);
        if (options.progress) {
          options.progress(
              done_bytes + (first + n) * row * t.data.size() / std::max<std::uint64_t>(r.elements, 1),
              total_bytes);
        }
      }
    }
    detail::release_pages(t.data);
    done_bytes += t.data.size();
    if (options.progress) options.progress(done_bytes, total_bytes);
    report.tensors.push_back(std::move(r));
  }
  writer.commit();
  return report;
}

}  // namespace lowbit::quant
