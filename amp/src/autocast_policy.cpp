#include "lowbit/amp/autocast_policy.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lowbit/formats/error.hpp"

namespace lowbit::amp {

namespace {

// PyTorch's CUDA autocast lists (torch/csrc/autograd/autocast_mode.cpp, listed in the "Autocast Op
// Reference" of the torch.amp documentation), restricted to the ops train/ has:
//   lower precision: conv2d, matmul, bmm, linear (PyTorch: conv*, mm, matmul, bmm, baddbmm, addmm, linear,
//     scaled_dot_product_attention, ...). Attention in lowbit is built from matmul/bmm, so it follows.
//   float32: exp, log, pow, softmax, log_softmax, cross_entropy, layer_norm, sum (PyTorch's "autocast to
//     float32" list: exp, log, pow, softmax, log_softmax, cross_entropy/nll_loss, layer_norm, sum, ...);
//     mean is sum times a constant in lowbit, so it runs in float32 as well.
//   promote: concat (PyTorch: cat, stack, index_put, ...), and the binary arithmetic add, sub, mul, div,
//     which PyTorch leaves off the lists but runs with type promotion, i.e. in the widest input type.
const char* const kAllow[] = {"bmm", "conv2d", "linear", "matmul"};
const char* const kDeny[] = {"cross_entropy", "exp", "layer_norm", "log",
                             "log_softmax",   "pow", "softmax",    "sum"};
const char* const kPromote[] = {"add", "concat", "div", "mul", "sub"};

bool is_float(DType t) {
  return t == DType::float64 || t == DType::float32 || train::is_low_precision_float(t);
}

}  // namespace

const std::vector<std::string>& known_ops() {
  static const std::vector<std::string> ops{
      "add",  "add_scalar",  "avg_pool2d", "bmm",        "concat", "conv2d",     "cross_entropy",
      "div",  "dropout",     "embedding",  "exp",        "gelu",   "layer_norm", "linear",
      "log",  "log_softmax", "matmul",     "max_pool2d", "mul",    "mul_scalar", "pow",
      "relu", "sigmoid",     "softmax",    "sqrt",       "sub",    "sum",        "tanh"};
  return ops;
}

std::string_view op_list_name(OpList list) {
  switch (list) {
    case OpList::allow:
      return "allow";
    case OpList::deny:
      return "deny";
    case OpList::promote:
      return "promote";
  }
  return "?";
}

AutocastPolicy::AutocastPolicy(DType dtype) : dtype_(DType::bfloat16) {
  set_dtype(dtype);
  for (const char* op : kAllow) lists_[0].insert(op);
  for (const char* op : kDeny) lists_[1].insert(op);
  for (const char* op : kPromote) lists_[2].insert(op);
}

void AutocastPolicy::set_dtype(DType dtype) {
  if (dtype != DType::bfloat16 && dtype != DType::float16) {
    throw RangeError(fmt::format("autocast dtype {}: use bfloat16 or float16", dtype_name(dtype)));
  }
  dtype_ = dtype;
}

void AutocastPolicy::set(std::string_view op, OpList list) {
  const auto& known = known_ops();
  if (std::find(known.begin(), known.end(), op) == known.end()) {
    throw RangeError(fmt::format("autocast {} list: unknown op '{}'; lowbit's ops are {}", op_list_name(list),
                                 op, fmt::join(known, ", ")));
  }
  remove(op);
  lists_[static_cast<int>(list)].insert(std::string(op));
}

void AutocastPolicy::remove(std::string_view op) {
  for (auto& l : lists_) {
    if (auto it = l.find(std::string(op)); it != l.end()) l.erase(it);
  }
}

const std::set<std::string>& AutocastPolicy::ops(OpList list) const {
  return lists_[static_cast<int>(list)];
}

DType AutocastPolicy::compute_type(std::string_view op, std::span<const DType> inputs) const {
  const DType widest = train::widest_float_type(inputs);
  const std::string name(op);
  // Like PyTorch, autocast leaves float64 alone: only narrower float inputs are recast.
  if (widest == DType::float64) return widest;
  if (lists_[0].count(name)) return dtype_;
  if (lists_[1].count(name)) return DType::float32;
  return widest;
}

train::Tensor AutocastPolicy::cast_input(const train::Tensor& t, DType dtype) const {
  if (!is_float(t.dtype())) return t;
  return cache_.get(t, dtype);
}

void AutocastPolicy::clear_cache() const {
  cache_.clear();
  if (fp8_) fp8_->clear_cache();
}

train::Tensor AutocastPolicy::run_linear(const train::Tensor& x, const train::Tensor& weight,
                                         const train::Tensor& bias) const {
  if (!fp8_ || !lists_[0].count("linear") || !fp8_->registered(weight)) return {};
  return fp8_->linear(x, weight, bias);
}

void AutocastPolicy::apply_json(std::string_view text, std::string_view source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FileError(fmt::format("{}: not JSON: {}", source, e.what()));
  }
  if (!doc.is_object()) throw RangeError(fmt::format("{}: expected a JSON object", source));
  AutocastPolicy edited = *this;
  for (const auto& [key, value] : doc.items()) {
    if (key == "dtype") {
      if (!value.is_string()) throw RangeError(fmt::format("{}: field 'dtype' must be a string", source));
      edited.set_dtype(parse_dtype(value.get<std::string>()));
      continue;
    }
    OpList list;
    if (key == "allow") {
      list = OpList::allow;
    } else if (key == "deny") {
      list = OpList::deny;
    } else if (key == "promote") {
      list = OpList::promote;
    } else {
      throw RangeError(fmt::format("{}: unknown field '{}' (use dtype, allow, deny, promote)", source, key));
    }
    if (!value.is_array())
      throw RangeError(fmt::format("{}: field '{}' must be an array of op names", source, key));
    edited.lists_[static_cast<int>(list)].clear();
  }
  std::map<std::string, std::string> listed;  // op -> the list of this document that names it
  for (const auto& [key, value] : doc.items()) {
    if (key == "dtype") continue;
    const OpList list = key == "allow" ? OpList::allow : key == "deny" ? OpList::deny : OpList::promote;
    for (const auto& op : value) {
      if (!op.is_string()) {
        throw RangeError(fmt::format("{}: field '{}' holds {}, not an op name", source, key, op.dump()));
      }
      const std::string name = op.get<std::string>();
      if (auto [it, fresh] = listed.emplace(name, key); !fresh && it->second != key) {
        throw RangeError(fmt::format("{}: op '{}' is in both '{}' and '{}'", source, name, it->second, key));
      }
      try {
        edited.set(name, list);
      } catch (const RangeError& e) {
        throw RangeError(fmt::format("{}: field '{}': {}", source, key, e.what()));
      }
    }
  }
  dtype_ = edited.dtype_;
  for (int i = 0; i < 3; ++i) lists_[i] = edited.lists_[i];
}

void AutocastPolicy::apply_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(fmt::format("{}: cannot open the autocast policy file", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  apply_json(text.str(), path.string());
}

std::string AutocastPolicy::to_json() const {
  nlohmann::json doc;
  doc["dtype"] = std::string(dtype_name(dtype_));
  for (OpList list : {OpList::allow, OpList::deny, OpList::promote}) {
    doc[std::string(op_list_name(list))] = std::vector<std::string>(ops(list).begin(), ops(list).end());
  }
  return doc.dump();
}

}  // namespace lowbit::amp
