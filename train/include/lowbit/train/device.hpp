// Tensors on devices: copies between the CPU and a CUDA GPU, and the CUDA device's settings. Every op runs
// on the device of its inputs (all on one device; mixing is an error naming the op); `lowbit train --device
// cuda` moves the model there once and each batch per step.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "lowbit/train/tensor.hpp"

namespace lowbit::train {

// "cpu" | "cuda"; RangeError naming the text otherwise.
Device parse_device(std::string_view text);

// `t` on `device`: t itself when already there, else a contiguous copy (without autograd history).
Tensor to_device(const Tensor& t, Device device);
// Moves the data of `t` to `device` in place: the same tensor (its TensorImpl), now contiguous there, so
// modules and optimizers that hold it see the move. For parameters, before training.
void move_to_device(const Tensor& t, Device device);
// Waits for the device's queued work (CUDA kernels run asynchronously); nothing on the CPU.
void synchronize(Device device);

// Which GEMM runs the products of CUDA tensors: lowbit's own tensor-core kernels (kernels/cuda.hpp:
// bfloat16, float16 and float8 operands; float32 operands always go to cuBLAS, which lowbit's kernels do not
// take) or cuBLAS for every dtype but float8 (`lowbit train --gemm cublas`, the fallback and reference).
enum class CudaGemm : std::uint8_t { lowbit, cublas };
CudaGemm parse_cuda_gemm(std::string_view text);  // "lowbit" | "cublas"
void set_cuda_gemm(CudaGemm gemm);
CudaGemm cuda_gemm();

// Whether every element of every (defined) tensor is finite, for CUDA tensors (the loss scaler's check: one
// kernel per tensor and a single host round trip for all of them; amp/ checks CPU tensors itself).
bool all_finite_cuda(std::span<const Tensor> tensors);

// The per-tensor fp8 recipe's steps on CUDA tensors (amp/fp8.hpp): max |x| with NaN skipped (one host round
// trip); round_saturate(t * scale) into a float8 type (float32 or bfloat16 in, other dtypes widened first);
// and C = alpha * op(A) op(B) (+ bias32[n], float32) rounded once to `out`, on lowbit's fp8 GEMM
// (A, B contiguous, row-major, `transpose_*` as kernels' Transpose).
float abs_max_cuda(const Tensor& t);
Tensor convert_scaled_cuda(const Tensor& t, DType to, float scale);
Tensor scaled_gemm_cuda(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, DType out,
                        float alpha, const Tensor& bias32);

}  // namespace lowbit::train
