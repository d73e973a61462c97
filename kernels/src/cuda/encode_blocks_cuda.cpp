// cuda::encode_blocks: the argument checks, then the launcher (encode_blocks.cu).
#include <fmt/format.h>

#include "encode_blocks_launch.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cuda.hpp"

namespace lowbit::kernels::cuda {

void encode_blocks(const BlockFormat& format, const void* src, DType from, std::size_t rows, std::size_t cols,
                   std::uint8_t* elements, std::uint8_t* scales, float* tensor_scale,
                   const EncodeBlocksOptions& options) {
  const std::string& name = format.name();
  if (name != "mxfp8_e4m3" && name != "mxfp8_e5m2" && name != "mxfp4" && name != "nvfp4") {
    throw RangeError(fmt::format(
        "cuda::encode_blocks: format = {} is not encoded on the GPU (mxfp8_e4m3, mxfp8_e5m2, mxfp4, nvfp4)",
        name));
  }
  if (from != DType::float32 && from != DType::bfloat16) {
    throw RangeError(fmt::format(
        "cuda::encode_blocks: from = {} is not a source type here (float32, bfloat16)", dtype_name(from)));
  }
  if (format.has_tensor_scale() && tensor_scale == nullptr)
    throw RangeError(
        fmt::format("cuda::encode_blocks: {} needs tensor_scale (a device float), got null", name));
  if (!format.has_tensor_scale() && tensor_scale != nullptr)
    throw RangeError(
        fmt::format("cuda::encode_blocks: {} has no tensor scale: tensor_scale must be null", name));
  const std::size_t count = rows * cols;
  if (cols != 0 && count / cols != rows)
    throw RangeError(fmt::format("cuda::encode_blocks: rows = {} times cols = {} overflows", rows, cols));
  if (count > 0) {
    const char* null = src == nullptr        ? "src"
                       : elements == nullptr ? "elements"
                       : scales == nullptr   ? "scales"
                                             : nullptr;
    if (null) throw RangeError(fmt::format("cuda::encode_blocks: {} is null for {} elements", null, count));
  }
  const Rounding rounding = options.rounding.value_or(format.default_options().rounding);
  if (rounding == Rounding::stochastic && options.random == nullptr && count > 0) {
    throw RangeError(
        "cuda::encode_blocks: rounding = stochastic needs random (one device word per element), "
        "got null");
  }
  EncodeBlocksLaunch launch;
  launch.src = src;
  launch.src_bf16 = from == DType::bfloat16;
  launch.rows = rows;
  launch.cols = cols;
  launch.elements = elements;
  launch.scales = scales;
  launch.nvfp4 = format.has_tensor_scale();
  launch.element = format.element_format().float_spec();
  launch.tensor_scale = tensor_scale;
  launch.rounding = rounding;
  launch.policy = options.policy;
  launch.random = options.random;
  launch.amax = options.amax;
  launch.stream = options.stream;
  launch_encode_blocks(launch);
}

}  // namespace lowbit::kernels::cuda
