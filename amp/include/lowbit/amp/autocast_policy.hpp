// The autocast policy: which ops run in the low-precision dtype (allow), which in float32 (deny) and which in
// the widest dtype of their inputs (promote). It implements train::PrecisionPolicy, so train/'s ops ask it
// for their compute dtype while an AutocastGuard (autocast.hpp) has it installed. Ops on no list run in the
// widest dtype of their inputs (their input's dtype), as PyTorch's unlisted ops do.
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/amp/cast_cache.hpp"
#include "lowbit/amp/fp8.hpp"
#include "lowbit/train/precision.hpp"

namespace lowbit::amp {

enum class OpList : std::uint8_t { allow, deny, promote };
std::string_view op_list_name(OpList list);

class AutocastPolicy final : public train::PrecisionPolicy {
 public:
  // The defaults: PyTorch's CUDA autocast lists restricted to the ops lowbit has (autocast_policy.cpp).
  // `dtype` is the low-precision type of the allow list: bfloat16 or float16.
  explicit AutocastPolicy(DType dtype = DType::bfloat16);

  DType dtype() const { return dtype_; }
  void set_dtype(DType dtype);  // bfloat16 or float16; RangeError otherwise

  // Moves `op` onto `list` (off the others). RangeError naming the op and the known ones for an op lowbit
  // does not have.
  void set(std::string_view op, OpList list);
  // Takes `op` off every list (it then runs in its inputs' dtype).
  void remove(std::string_view op);
  const std::set<std::string>& ops(OpList list) const;

  // Edits from a JSON document: {"dtype": "bf16", "allow": [...], "deny": [...], "promote": [...]}; each
  // list given replaces that list, every key is optional, others are an error. Errors name `source` (the
  // file) and the field.
  void apply_json(std::string_view text, std::string_view source);
  void apply_json_file(const std::filesystem::path& path);
  // The effective lists as JSON: {"dtype", "allow", "deny", "promote"} (sorted names).
  std::string to_json() const;

  DType compute_type(std::string_view op, std::span<const DType> inputs) const override;
  // Leaf tensors that require grad (weights) are converted once and served from the cache until
  // clear_cache(); every other tensor is converted each time.
  train::Tensor cast_input(const train::Tensor& t, DType dtype) const override;
  void clear_cache() const;
  // With a float8 recipe, linear layers whose weight it registered run through it while "linear" is on the
  // allow list (float8 GEMMs with scaling); every other allowed op runs in dtype().
  void set_fp8(std::shared_ptr<Fp8Recipe> recipe) { fp8_ = std::move(recipe); }
  train::Tensor run_linear(const train::Tensor& x, const train::Tensor& weight,
                           const train::Tensor& bias) const override;
  const CastCache& cache() const { return cache_; }

 private:
  DType dtype_;
  std::set<std::string> lists_[3];
  mutable CastCache cache_;
  std::shared_ptr<Fp8Recipe> fp8_;
};

// The ops lowbit's train/ asks the policy about, sorted.
const std::vector<std::string>& known_ops();

}  // namespace lowbit::amp
