// The CUDA storage backend: device memory from a caching allocator (a training step frees and allocates the
// same sizes every time; cudaMalloc and cudaFree synchronise the device and cost tens of microseconds each),
// and copies to and from the host. Memory accounting is Storage's, so device bytes are charged by category
// as on the CPU; cached free blocks are not counted as live.
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <mutex>
#include <unordered_map>
#include <vector>

#include "../cuda_hooks.hpp"
#include "check.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cuda.hpp"

namespace lowbit::train::detail {

namespace {

class DeviceBlockCache {
 public:
  static DeviceBlockCache& instance() {
    static DeviceBlockCache* cache = new DeviceBlockCache;  // never destroyed: storages may outlive statics
    return *cache;
  }

  void* take(std::size_t rounded) {
    {
      std::lock_guard lock(mutex_);
      auto it = free_.find(rounded);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        return p;
      }
    }
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, rounded);
    if (status == cudaErrorMemoryAllocation) {
      // Give the cached blocks back and try once more before failing.
      cudaGetLastError();
      release_cached();
      status = cudaMalloc(&p, rounded);
    }
    check_cuda(status, fmt::format("cudaMalloc of {} bytes", rounded));
    return p;
  }

  // Kernels queued on the stream may still use the block: a later owner's work queues behind them (one
  // stream), and host writes (cudaMemcpy) wait for the stream, so reuse needs no synchronisation.
  void give(void* p, std::size_t rounded) {
    std::lock_guard lock(mutex_);
    free_[rounded].push_back(p);
  }

 private:
  void release_cached() {
    std::lock_guard lock(mutex_);
    cudaDeviceSynchronize();
    for (auto& [size, blocks] : free_) {
      for (void* p : blocks) cudaFree(p);
      blocks.clear();
    }
  }

  std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
};

class CudaStorage final : public Storage {
 public:
  // 256-byte granules: every dtype's vector loads are aligned, and near sizes share blocks.
  explicit CudaStorage(std::size_t bytes)
      : Storage(bytes),
        rounded_((bytes + 255) / 256 * 256),
        data_(rounded_ == 0 ? nullptr : DeviceBlockCache::instance().take(rounded_)) {}
  ~CudaStorage() override {
    if (data_ != nullptr) DeviceBlockCache::instance().give(data_, rounded_);
  }
  Device device() const override { return Device::cuda; }
  void* data() override { return data_; }

 private:
  std::size_t rounded_;
  void* data_;
};

class CudaBackend final : public StorageBackend {
 public:
  std::shared_ptr<Storage> allocate(std::size_t bytes) override {
    return std::make_shared<CudaStorage>(bytes);
  }
  void copy_from_host(Storage& dst, std::size_t dst_offset, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    check_cuda(cudaMemcpy(static_cast<char*>(dst.data()) + dst_offset, src, bytes, cudaMemcpyHostToDevice),
               "cudaMemcpy (host to device)");
  }
  void copy_to_host(void* dst, Storage& src, std::size_t src_offset, std::size_t bytes) override {
    if (bytes == 0) return;
    check_cuda(
        cudaMemcpy(dst, static_cast<const char*>(src.data()) + src_offset, bytes, cudaMemcpyDeviceToHost),
        "cudaMemcpy (device to host)");
  }
  void zero(Storage& dst) override {
    if (dst.bytes() == 0) return;
    check_cuda(cudaMemsetAsync(dst.data(), 0, dst.bytes(), nullptr), "cudaMemsetAsync");
  }
};

}  // namespace

std::unique_ptr<StorageBackend> make_cuda_backend(std::string* why) {
  std::string reason;
  if (!kernels::cuda::device_available(&reason)) {
    if (why) *why = reason;
    return nullptr;
  }
  return std::make_unique<CudaBackend>();
}

}  // namespace lowbit::train::detail
