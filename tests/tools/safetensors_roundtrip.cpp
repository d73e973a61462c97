// A small driver for tests/train/crosscheck_safetensors.py: lowbit's safetensors writer and reader, driven
// from Python so that the Hugging Face `safetensors` package can check both directions.
//
//   lowbit_safetensors write OUT [KEY=VALUE ...]
//       writes the fixed test tensors (tensor_specs() below; the script builds the same ones) with the
//       given metadata.
//   lowbit_safetensors dump PATH OUT.json
//       opens PATH (a file, an index .json or a folder) as a SafetensorsCheckpoint and writes
//       {"metadata": {...}, "tensors": {name: {"dtype", "shape", "data" (hex)}}}.
//
// Exits 2 on bad arguments or input, naming the problem.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/safetensors.hpp"

namespace {

using namespace lowbit::train;

struct Spec {
  const char* name;
  const char* dtype;
  std::vector<std::int64_t> shape;
};

// Keep in step with TENSORS in crosscheck_safetensors.py. Byte i of tensor k is (i * 37 + k * 11) mod 256
// (mod 2 for BOOL, so numpy reads valid booleans).
const std::vector<Spec>& tensor_specs() {
  static const std::vector<Spec> specs = {
      {"embed.weight", "F32", {4, 3}},
      {"layer.0.weight", "F16", {2, 5}},
      {"layer.0.bias", "BF16", {5}},
      {"fp8.e4m3", "F8_E4M3", {3, 3}},
      {"fp8.e5m2", "F8_E5M2", {7}},
      {"scale.e8m0", "F8_E8M0", {2}},
      {"step", "I64", {}},
      {"mask", "BOOL", {6}},
      {"ids", "I32", {2, 2}},
      {"bytes", "U8", {9}},
      {"signed", "I8", {3}},
      {"wide", "F64", {2}},
      {"half_ints", "I16", {3}},
      {"uhalf", "U16", {2}},
      {"u32", "U32", {1}},
      {"u64", "U64", {1}},
      {"empty", "F32", {0, 4}},
  };
  return specs;
}

std::vector<std::uint8_t> tensor_bytes(std::size_t k, const Spec& spec) {
  const std::uint64_t size = *safetensors_byte_size(spec.dtype, spec.shape);
  std::vector<std::uint8_t> b(size);
  for (std::size_t i = 0; i < size; ++i) {
    b[i] = static_cast<std::uint8_t>((i * 37 + k * 11) % 256);
    if (std::string(spec.dtype) == "BOOL") b[i] %= 2;
  }
  return b;
}

void write(const std::string& out, const std::map<std::string, std::string>& metadata) {
  std::vector<std::vector<std::uint8_t>> buffers;
  std::vector<SafetensorsEntry> entries;
  const auto& specs = tensor_specs();
  buffers.reserve(specs.size());
  for (std::size_t k = 0; k < specs.size(); ++k) {
    buffers.push_back(tensor_bytes(k, specs[k]));
    // Every other tensor is streamed, so both writer paths are checked.
    if (k % 2 == 0) {
      entries.push_back(
          SafetensorsEntry::bytes(specs[k].name, specs[k].dtype, specs[k].shape, buffers.back()));
    } else {
      const auto* data = &buffers.back();
      entries.push_back(
          SafetensorsEntry::streamed(specs[k].name, specs[k].dtype, specs[k].shape,
                                     [data](AtomicFile& f) { f.write(data->data(), data->size()); }));
    }
  }
  write_safetensors(out, entries, metadata);
}

void dump(const std::string& path, const std::string& out) {
  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open(path);
  nlohmann::json result;
  result["metadata"] = nlohmann::json::object();
  for (const auto& [k, v] : ckpt.metadata()) result["metadata"][k] = v;
  result["tensors"] = nlohmann::json::object();
  static const char* hex = "0123456789abcdef";
  for (const SafetensorsTensor* t : ckpt.tensors()) {
    std::string data;
    for (const std::uint8_t b : t->data) {
      data += hex[b >> 4];
      data += hex[b & 15];
    }
    result["tensors"][t->name] = {{"dtype", t->dtype}, {"shape", t->shape}, {"data", data}};
  }
  std::ofstream(out) << result.dump(1) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() >= 2 && args[0] == "write") {
      std::map<std::string, std::string> metadata;
      for (std::size_t i = 2; i < args.size(); ++i) {
        const auto eq = args[i].find('=');
        if (eq == std::string::npos) throw lowbit::Error("metadata must be KEY=VALUE: " + args[i]);
        metadata[args[i].substr(0, eq)] = args[i].substr(eq + 1);
      }
      write(args[1], metadata);
    } else if (args.size() == 3 && args[0] == "dump") {
      dump(args[1], args[2]);
    } else {
      std::fprintf(stderr, "usage: %s write OUT [KEY=VALUE ...] | dump PATH OUT.json\n", argv[0]);
      return 2;
    }
  } catch (const lowbit::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
