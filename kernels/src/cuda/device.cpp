// Device discovery, device memory and error checking for the CUDA kernels.
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <utility>

#include "cuda_check.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cuda.hpp"

namespace lowbit::kernels::cuda {

void check_cuda(cudaError_t status, const char* call) {
  if (status == cudaSuccess) return;
  throw Error(
      fmt::format("CUDA: {} failed: {} ({})", call, cudaGetErrorString(status), cudaGetErrorName(status)));
}

bool device_available(std::string* why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (why) *why = fmt::format("no usable CUDA driver or device ({})", cudaGetErrorString(status));
    cudaGetLastError();  // clear the sticky error
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device found";
    return false;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess || prop.major < 8) {
    if (why)
      *why = fmt::format("GPU {} has compute capability {}.{}; lowbit needs 8.0 or newer", prop.name,
                         prop.major, prop.minor);
    return false;
  }
  return true;
}

DeviceProperties device_properties() {
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp prop{};
  check_cuda(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  return {prop.name, prop.major, prop.minor, prop.multiProcessorCount, prop.totalGlobalMem};
}

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes > 0) check_cuda(cudaMalloc(&data_, bytes), "cudaMalloc");
}

DeviceBuffer::~DeviceBuffer() {
  if (data_) cudaFree(data_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) cudaFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

namespace {
void check_range(const char* what, std::size_t offset, std::size_t bytes, std::size_t size) {
  if (offset > size || bytes > size - offset) {
    throw RangeError(fmt::format("DeviceBuffer::{}: {} bytes at offset {} exceed the buffer's {} bytes", what,
                                 bytes, offset, size));
  }
}
}  // namespace

void DeviceBuffer::upload(const void* host, std::size_t bytes, std::size_t offset) {
  check_range("upload", offset, bytes, bytes_);
  check_cuda(cudaMemcpy(static_cast<char*>(data_) + offset, host, bytes, cudaMemcpyHostToDevice),
             "cudaMemcpy");
}

void DeviceBuffer::download(void* host, std::size_t bytes, std::size_t offset) const {
  check_range("download", offset, bytes, bytes_);
  check_cuda(cudaMemcpy(host, static_cast<const char*>(data_) + offset, bytes, cudaMemcpyDeviceToHost),
             "cudaMemcpy");
}

void DeviceBuffer::fill_bytes(unsigned char value) {
  check_cuda(cudaMemset(data_, value, bytes_), "cudaMemset");
}

void synchronize() {
  check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

}  // namespace lowbit::kernels::cuda
