#include "lowbit/train/storage.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "cuda_hooks.hpp"
#include "lowbit/formats/error.hpp"

namespace lowbit::train {

std::string_view device_name(Device device) {
  return device == Device::cpu ? "cpu" : "cuda";
}

Storage::Storage(std::size_t bytes) : bytes_(bytes), category_(MemoryCategoryScope::current()) {
  record_allocation(category_, static_cast<std::int64_t>(bytes_));
}

void Storage::recharge(MemoryCategory category) {
  record_allocation(category, static_cast<std::int64_t>(bytes_));
  record_release(category_, static_cast<std::int64_t>(bytes_));
  category_ = category;
}

Storage::~Storage() {
  record_release(category_, static_cast<std::int64_t>(bytes_));
}

namespace {

// Large blocks are kept for reuse instead of returned to the system: a training step frees and allocates
// the same activation sizes every time, and a fresh mapping page-faults on every page (5% of a CNN step
// measured). Small blocks go straight to malloc, which reuses them itself. The cache holds at most
// kCacheLimit bytes; cached bytes are free memory and are not counted as live by the memory accounting.
class BlockCache {
 public:
  static constexpr std::size_t kMinBlock = std::size_t{64} << 10;
  static constexpr std::size_t kCacheLimit = std::size_t{512} << 20;

  static BlockCache& instance() {
    static BlockCache* cache = new BlockCache;  // never destroyed: storages may outlive static destructors
    return *cache;
  }

  void* take(std::size_t rounded) {
    if (rounded >= kMinBlock) {
      std::lock_guard lock(mutex_);
      auto it = free_.find(rounded);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= rounded;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, rounded);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }

  void give(void* p, std::size_t rounded) {
    if (rounded >= kMinBlock) {
      std::lock_guard lock(mutex_);
      if (cached_ + rounded <= kCacheLimit) {
        free_[rounded].push_back(p);
        cached_ += rounded;
        return;
      }
    }
    std::free(p);
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_ = 0;
};

class CpuStorage final : public Storage {
 public:
  // aligned_alloc needs a size that is a multiple of the alignment; 64 bytes suits every SIMD load.
  explicit CpuStorage(std::size_t bytes)
      : Storage(bytes),
        rounded_((bytes + 63) / 64 * 64),
        data_(rounded_ == 0 ? nullptr : BlockCache::instance().take(rounded_)) {}
  ~CpuStorage() override {
    if (data_ != nullptr) BlockCache::instance().give(data_, rounded_);
  }
  Device device() const override { return Device::cpu; }
  void* data() override { return data_; }

 private:
  std::size_t rounded_;
  void* data_;
};

class CpuBackend final : public StorageBackend {
 public:
  std::shared_ptr<Storage> allocate(std::size_t bytes) override {
    return std::make_shared<CpuStorage>(bytes);
  }
  void copy_from_host(Storage& dst, std::size_t dst_offset, const void* src, std::size_t bytes) override {
    std::memcpy(static_cast<char*>(dst.data()) + dst_offset, src, bytes);
  }
  void copy_to_host(void* dst, Storage& src, std::size_t src_offset, std::size_t bytes) override {
    std::memcpy(dst, static_cast<const char*>(src.data()) + src_offset, bytes);
  }
  void zero(Storage& dst) override { std::memset(dst.data(), 0, dst.bytes()); }
};

struct Registry {
  std::mutex mutex;
  std::array<std::unique_ptr<StorageBackend>, 2> backends{std::make_unique<CpuBackend>(), nullptr};
  bool cuda_tried = false;
  std::string cuda_missing;  // why there is no CUDA backend, once tried
};

// The CUDA backend is made on first use (probing the driver costs time; CPU-only runs never pay it).
StorageBackend* find_backend(Registry& r, Device device) {
  auto& b = r.backends.at(static_cast<std::size_t>(device));
  if (!b && device == Device::cuda && !r.cuda_tried) {
    r.cuda_tried = true;
    b = detail::make_cuda_backend(&r.cuda_missing);
  }
  return b.get();
}

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

StorageBackend& backend(Device device) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  StorageBackend* b = find_backend(r, device);
  if (!b) {
    throw RangeError(fmt::format("device '{}' is not available: {}", device_name(device),
                                 r.cuda_missing.empty() ? "no backend registered" : r.cuda_missing));
  }
  return *b;
}

bool device_available(Device device, std::string* why) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (find_backend(r, device) != nullptr) return true;
  if (why) *why = r.cuda_missing.empty() ? "no backend registered" : r.cuda_missing;
  return false;
}

void register_backend(Device device, std::unique_ptr<StorageBackend> b) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.backends.at(static_cast<std::size_t>(device)) = std::move(b);
}

std::shared_ptr<Storage> allocate_storage(Device device, std::size_t bytes) {
  return backend(device).allocate(bytes);
}

}  // namespace lowbit::train
