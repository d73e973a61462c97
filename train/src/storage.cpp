#include "lowbit/train/storage.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include "lowbit/formats/error.hpp"

namespace lowbit::train {

std::string_view device_name(Device device) {
  return device == Device::cpu ? "cpu" : "cuda";
}

Storage::Storage(std::size_t bytes) : bytes_(bytes), category_(MemoryCategoryScope::current()) {
  record_allocation(category_, static_cast<std::int64_t>(bytes_));
}

Storage::~Storage() {
  record_release(category_, static_cast<std::int64_t>(bytes_));
}

namespace {

class CpuStorage final : public Storage {
 public:
  explicit CpuStorage(std::size_t bytes) : Storage(bytes) {
    // aligned_alloc needs a size that is a multiple of the alignment; 64 bytes suits every SIMD load.
    const std::size_t rounded = (bytes + 63) / 64 * 64;
    data_ = rounded == 0 ? nullptr : std::aligned_alloc(64, rounded);
    if (rounded != 0 && data_ == nullptr) throw std::bad_alloc();
  }
  ~CpuStorage() override { std::free(data_); }
  Device device() const override { return Device::cpu; }
  void* data() override { return data_; }

 private:
  void* data_ = nullptr;
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
};

struct Registry {
  std::mutex mutex;
  std::array<std::unique_ptr<StorageBackend>, 2> backends{std::make_unique<CpuBackend>(), nullptr};
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

StorageBackend& backend(Device device) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto& b = r.backends.at(static_cast<std::size_t>(device));
  if (!b) {
    throw RangeError(
        fmt::format("device '{}' is not available: no backend registered (built without CUDA, or no GPU)",
                    device_name(device)));
  }
  return *b;
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
