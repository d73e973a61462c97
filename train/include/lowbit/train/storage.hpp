// Storage: the bytes behind tensors, on a device. CPU storage lives here; a CUDA backend implements the same
// interface (device memory, copies to and from the host) and registers itself with register_backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lowbit/train/memory.hpp"

namespace lowbit::train {

enum class Device : std::uint8_t { cpu, cuda };
std::string_view device_name(Device device);

class Storage {
 public:
  virtual ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  virtual Device device() const = 0;
  // The first byte: a host pointer for the CPU, a device pointer for CUDA.
  virtual void* data() = 0;
  std::size_t bytes() const { return bytes_; }
  MemoryCategory category() const { return category_; }
  // Moves the accounted bytes to another category (a backward temporary that becomes a parameter's .grad).
  void recharge(MemoryCategory category);

 protected:
  // Charges `bytes` to the calling thread's current memory category until destruction.
  explicit Storage(std::size_t bytes);

 private:
  std::size_t bytes_;
  MemoryCategory category_;
};

// What a device offers: allocation and copies (host <-> device and within the device).
class StorageBackend {
 public:
  virtual ~StorageBackend() = default;
  virtual std::shared_ptr<Storage> allocate(std::size_t bytes) = 0;
  virtual void copy_from_host(Storage& dst, std::size_t dst_offset, const void* src, std::size_t bytes) = 0;
  virtual void copy_to_host(void* dst, Storage& src, std::size_t src_offset, std::size_t bytes) = 0;
  // Every byte of `dst` set to zero.
  virtual void zero(Storage& dst) = 0;
};

// The backend of a device; throws RangeError naming the device and why when there is none (CUDA: a build
// without CUDA, or no usable GPU). The CUDA backend (train/src/cuda) is made on first use.
StorageBackend& backend(Device device);
// Whether `device` has a backend; when not, `why` (if given) says why.
bool device_available(Device device, std::string* why = nullptr);
void register_backend(Device device, std::unique_ptr<StorageBackend> backend);

// Uninitialised storage of `bytes` on `device` (CPU: 64-byte aligned).
std::shared_ptr<Storage> allocate_storage(Device device, std::size_t bytes);

}  // namespace lowbit::train
