// The launcher of the GPU block encoders (encode_blocks.cu), called by cuda::encode_blocks
// (encode_blocks_cuda.cpp) after it has checked the arguments.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/float_spec.hpp"
#include "lowbit/formats/rounding.hpp"

namespace lowbit::kernels::cuda {

struct EncodeBlocksLaunch {
  const void* src = nullptr;
  bool src_bf16 = false;
  std::size_t rows = 0, cols = 0;
  std::uint8_t* elements = nullptr;
  std::uint8_t* scales = nullptr;
  bool nvfp4 = false;             // else MX (E8M0 scales, blocks of 32)
  FloatSpec element{};            // the element type: e4m3fn, e5m2 or e2m1 (8 or 4 bits)
  float* tensor_scale = nullptr;  // NVFP4 only: written from the input's finite amax
  Rounding rounding = Rounding::nearest_even;
  Policy policy = Policy::saturate;
  const std::uint32_t* random = nullptr;
  float* amax = nullptr;
  void* stream = nullptr;
};

void launch_encode_blocks(const EncodeBlocksLaunch& args);

}  // namespace lowbit::kernels::cuda
