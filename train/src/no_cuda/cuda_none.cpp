// A build without nvcc: there is no CUDA backend, so no tensor can be on the GPU and no op reaches CudaOps.
#include "../cuda_hooks.hpp"
#include "lowbit/formats/error.hpp"

namespace lowbit::train::detail {

std::unique_ptr<StorageBackend> make_cuda_backend(std::string* why) {
  if (why) *why = "this lowbit was built without CUDA (nvcc was not found at configure time)";
  return nullptr;
}

CudaOps& cuda_ops() {
  throw RangeError("cuda: this lowbit was built without CUDA");
}

}  // namespace lowbit::train::detail
