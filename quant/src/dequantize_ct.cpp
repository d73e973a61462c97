// dequantize_compressed_tensors: the modules of the file's quantization_config, each weight rebuilt as
// (code - zero_point) * scale in fp32 (the compressed-tensors package's order of operations), then
// converted to the requested dtype.
#include <fmt/format.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/quant/checkpoint.hpp"
#include "lowbit/quant/compressed_tensors.hpp"
#include "tensor_names.hpp"

namespace lowbit::quant {
namespace {

CtScheme scheme_from_args(const nlohmann::json& w, const std::string& file) {
  CtScheme s;
  try {
    s.bits = w.at("num_bits").get<int>();
    s.kind = w.at("type").get<std::string>() == "float" ? CtScheme::Kind::fp8 : CtScheme::Kind::int_packed;
    s.symmetric = w.value("symmetric", true);
    const std::string strategy = w.at("strategy").get<std::string>();
    s.group = strategy == "group" || strategy == "tensor_group" ? w.at("group_size").get<int>()
              : strategy == "channel"                           ? 0
                                                                : -1;
    if (s.kind == CtScheme::Kind::fp8 && s.bits == 4) {
      s.kind = s.group == 16 ? CtScheme::Kind::nvfp4 : CtScheme::Kind::mxfp4;
    }
  } catch (const nlohmann::json::exception& e) {
    throw FileError(fmt::format("{}: quantization_config weights {}: {}", file, w.dump(), e.what()));
  }
  if ((s.kind == CtScheme::Kind::int_packed && s.bits != 4 && s.bits != 8) ||
      (s.kind == CtScheme::Kind::fp8 && s.bits != 8) || (s.is_fp4() && s.group != 16 && s.group != 32)) {
    throw FileError(fmt::format(
        "{}: quantization_config weights {}: lowbit reads int4, int8, fp8, nvfp4 and mxfp4", file, w.dump()));
  }
  return s;
}

// An nvfp4 / mxfp4 module's weight: e2m1 codes times the block scale (nvfp4: fp32(s / G), then bfloat16,
// as the package computes it).
train::SafetensorsEntry fp4_entry(const train::SafetensorsFile& in, const std::string& module,
                                  const CtScheme& s, const std::string& dtype, DType target,
                                  std::uint64_t& done, std::uint64_t total, const Progress& progress) {
  const std::string file = in.path().string();
  const auto& packed = in.at(suffixed(module, ".weight_packed"));
  const auto& scale = in.at(suffixed(module, ".weight_scale"));
  if (packed.dtype != "U8" || packed.shape.size() != 2) {
    throw FileError(fmt::format("{}: tensor \"{}\" must be U8 of 2 dimensions", file, packed.name));
  }
  const std::int64_t rows = packed.shape[0], cols = packed.shape[1] * 2;
  const std::int64_t blocks = cols / s.group;
  if (cols % s.group != 0 || scale.data.size() != static_cast<std::uint64_t>(rows * blocks) ||
      scale.dtype != (s.kind == CtScheme::Kind::nvfp4 ? "F8_E4M3" : "U8")) {
    throw FileError(fmt::format("{}: tensor \"{}\": {} {} bytes do not fit [{}, {}] in groups of {}", file,
                                scale.name, scale.dtype, scale.data.size(), rows, cols, s.group));
  }
  float global = 1.0f;
  if (s.kind == CtScheme::Kind::nvfp4) {
    const auto& g = in.at(suffixed(module, ".weight_global_scale"));
    if (g.dtype != "F32" || g.data.size() != 4) {
      throw FileError(fmt::format("{}: tensor \"{}\" must be one F32", file, g.name));
    }
    std::memcpy(&global, g.data.data(), 4);
  }
  const auto* pp = &packed;
  const auto* sp = &scale;
  return train::SafetensorsEntry::streamed(
      suffixed(module, ".weight"), dtype, {rows, cols}, [=, &done, &progress](train::AtomicFile& out) {
        std::vector<float> y(static_cast<std::size_t>(cols));
        std::vector<std::uint8_t> converted(static_cast<std::size_t>(cols) * 2);
        for (std::int64_t r = 0; r < rows; ++r) {
          for (std::int64_t c = 0; c < cols; ++c) {
            const std::uint8_t byte = pp->data[static_cast<std::size_t>(r * cols / 2 + c / 2)];
            const auto code = static_cast<std::uint8_t>(c % 2 == 0 ? byte & 0xF : byte >> 4);
            const std::uint8_t sc = sp->data[static_cast<std::size_t>(r * blocks + c / s.group)];
            const float e = float4_e2m1fn::from_bits(code).to_float();
            if (s.kind == CtScheme::Kind::nvfp4) {
              const float block = float8_e4m3fn::from_bits(sc).to_float() / global;
              y[c] = bfloat16::from(e * block).to_float();
            } else {
              y[c] = e * float8_e8m0fnu::from_bits(sc).to_float();
            }
          }
          if (target == DType::float32) {
            out.write(y.data(), y.size() * 4);
          } else {
            convert_bulk(dtype_format(DType::float32), y.data(), dtype_format(target), converted.data(),
                         y.size());
            out.write(converted.data(), converted.size());
          }
        }
        done += pp->data.size();
        if (progress) progress(done, total);
      });
}

}  // namespace

void dequantize_compressed_tensors(const std::filesystem::path& input, const std::filesystem::path& output,
                                   std::string_view dtype, const Progress& progress) {
  const std::string file = input.string();
  DType target = dtype == "F32" ? DType::float32 : dtype == "F16" ? DType::float16 : DType::bfloat16;
  if (dtype != "F32" && dtype != "F16" && dtype != "BF16") {
    throw RangeError(fmt::format("dequantize: dtype '{}' is not one of F32, F16, BF16", dtype));
  }
  const auto in = train::SafetensorsFile::open(input);
  const auto it = in.metadata().find("quantization_config");
  if (it == in.metadata().end()) {
    throw FileError(
        fmt::format("{}: no quantization_config in the metadata: not a compressed-tensors file lowbit "
                    "wrote (a GGUF file? use a .gguf input)",
                    file));
  }
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    throw FileError(fmt::format("{}: metadata quantization_config is not JSON: {}", file, e.what()));
  }
  std::map<std::string, CtScheme> modules;
  const nlohmann::json config_groups = config.value("config_groups", nlohmann::json::object());
  for (const auto& [name, group] : config_groups.items()) {
    const CtScheme s = scheme_from_args(group.at("weights"), file);
    for (const auto& target_name : group.at("targets")) modules[target_name.get<std::string>()] = s;
  }
  auto tensor = [&](const std::string& name) -> const train::SafetensorsTensor& { return in.at(name); };

  std::vector<train::SafetensorsEntry> entries;
  std::uint64_t done = 0, total = 0;
  for (const auto& t : in.tensors()) total += t.data.size();
  for (const auto& t : in.tensors()) {
    std::string module;
    bool consumed = false;  // a part of a quantized module other than its codes: read with the codes
    for (const std::string_view suffix : {".weight_packed", ".weight_scale", ".weight_shape",
                                          ".weight_zero_point", ".weight_global_scale", ".weight"}) {
      if (t.name.ends_with(suffix)) {
        module = t.name.substr(0, t.name.size() - suffix.size());
        if (!modules.count(module)) {
          module.clear();
        } else if (suffix != ".weight_packed" &&
                   !(suffix == ".weight" && modules.at(module).kind == CtScheme::Kind::fp8)) {
          consumed = true;
        }
        break;
      }
    }
    if (consumed) continue;
    if (module.empty()) {
      entries.push_back(train::SafetensorsEntry::bytes(t.name, t.dtype, t.shape, t.data));
      continue;
    }
    const CtScheme s = modules.at(module);
    if (s.is_fp4()) {
      entries.push_back(fp4_entry(in, module, s, std::string(dtype), target, done, total, progress));
      continue;
    }
    std::vector<std::int64_t> shape = t.shape;
    if (s.kind == CtScheme::Kind::int_packed) {
      const auto& st = tensor(suffixed(module, ".weight_shape"));
      if (st.dtype != "I64" || st.data.size() != 16) {
        throw FileError(fmt::format("{}: tensor \"{}\" must be I64 [2]", file, st.name));
      }
      std::memcpy(shape.data(), st.data.data(), 16);
    }
    const std::int64_t rows = shape[0], cols = shape[1];
    const std::int64_t groups = s.groups_per_row(cols);
    const auto& scale_t = tensor(suffixed(module, ".weight_scale"));
    const std::uint64_t scale_count = s.group < 0 ? 1 : static_cast<std::uint64_t>(rows * groups);
    if (scale_t.dtype != "F32" || scale_t.data.size() != scale_count * 4) {
      throw FileError(fmt::format("{}: tensor \"{}\": expected {} F32 scales, found {} {} bytes", file,
                                  scale_t.name, scale_count, scale_t.dtype, scale_t.data.size()));
    }
    const train::SafetensorsTensor* zp_t =
        s.symmetric ? nullptr : &tensor(suffixed(module, ".weight_zero_point"));
    const train::SafetensorsTensor* codes_t = &t;
    entries.push_back(train::SafetensorsEntry::streamed(
        suffixed(module, ".weight"), std::string(dtype), shape,
        [=, &done, &progress](train::AtomicFile& out) {
          std::vector<float> scale(scale_count);
          std::memcpy(scale.data(), scale_t.data.data(), scale_count * 4);
          std::vector<std::int8_t> zp;
          if (zp_t) {
            const std::int64_t zp_words = (rows * s.bits + 31) / 32;
            if (zp_t->data.size() != static_cast<std::uint64_t>(zp_words * groups * 4)) {
              throw FileError(fmt::format("{}: tensor \"{}\": wrong size", file, zp_t->name));
            }
            std::vector<std::int32_t> words(static_cast<std::size_t>(zp_words * groups)), column(zp_words);
            std::memcpy(words.data(), zp_t->data.data(), words.size() * 4);
            std::vector<std::int8_t> unpacked(static_cast<std::size_t>(rows));
            zp.resize(static_cast<std::size_t>(rows * groups));
            for (std::int64_t j = 0; j < groups; ++j) {
              for (std::int64_t k = 0; k < zp_words; ++k) column[k] = words[k * groups + j];
              unpack_int32_row(column.data(), rows, s.bits, unpacked.data());
              for (std::int64_t row = 0; row < rows; ++row) zp[row * groups + j] = unpacked[row];
            }
          }
          const std::int64_t words = (cols * s.bits + 31) / 32;
          const std::uint64_t want = s.kind == CtScheme::Kind::fp8
                                         ? static_cast<std::uint64_t>(rows * cols)
                                         : static_cast<std::uint64_t>(rows * words * 4);
          if (codes_t->data.size() != want) {
            throw FileError(fmt::format("{}: tensor \"{}\": {} bytes, expected {}", file, codes_t->name,
                                        codes_t->data.size(), want));
          }
          std::vector<std::int8_t> codes(static_cast<std::size_t>(cols));
          std::vector<std::int32_t> row_words(static_cast<std::size_t>(words));
          std::vector<float> y(static_cast<std::size_t>(cols));
          std::vector<std::uint8_t> converted(static_cast<std::size_t>(cols) * 2);
          for (std::int64_t r = 0; r < rows; ++r) {
            if (s.kind == CtScheme::Kind::fp8) {
              std::memcpy(codes.data(), codes_t->data.data() + r * cols, cols);
            } else {
              std::memcpy(row_words.data(), codes_t->data.data() + r * words * 4, words * 4);
              unpack_int32_row(row_words.data(), cols, s.bits, codes.data());
            }
            for (std::int64_t c = 0; c < cols; ++c) {
              const std::int64_t g = s.group < 0 ? 0 : r * groups + (s.group > 0 ? c / s.group : 0);
              if (s.kind == CtScheme::Kind::fp8) {
                y[c] = float8_e4m3fn::from_bits(static_cast<std::uint8_t>(codes[c])).to_float() * scale[g];
              } else {
                const float z = zp.empty() ? 0.0f : static_cast<float>(zp[g]);
                y[c] = (static_cast<float>(codes[c]) - z) * scale[g];
              }
            }
            if (target == DType::float32) {
              out.write(y.data(), y.size() * 4);
            } else {
              convert_bulk(dtype_format(DType::float32), y.data(), dtype_format(target), converted.data(),
                           y.size());
              out.write(converted.data(), converted.size());
            }
          }
          done += codes_t->data.size();
          if (progress) progress(done, total);
        }));
  }
  train::write_safetensors(output, entries, {{"format", "pt"}});
}

}  // namespace lowbit::quant
