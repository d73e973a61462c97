// Operands of the GPU GEMM tests: random values drawn on the host in any dtype, copied to the device, and
// the host copy kept for the CPU reference (kernels/reference.hpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/dtype.hpp"
#include "lowbit/kernels/cuda.hpp"

namespace lowbit::kernels::test {

// Inputs differ on every run (the seed is printed with any failure).
inline std::uint64_t fresh_seed() {
  return (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
}

struct HostDevice {
  DType type = DType::float32;
  std::vector<unsigned char> host;
  cuda::DeviceBuffer device;
  void* ptr() const { return device.get(); }
};

// rows x ld elements of `type`: small integers in [-range, range] when range > 0 (exact products and sums),
// else normal(0, sigma) values rounded into the type. The padding between rows holds values too (NaN for
// float types), so a kernel that reads past a row's end shows it.
inline HostDevice random_operand(DType type, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                                 std::mt19937_64& rng, int range, float sigma = 1.0f) {
  const std::size_t count = static_cast<std::size_t>(std::max<std::int64_t>(rows * ld, 1));
  std::vector<float> values(count);
  std::uniform_int_distribution<int> ints(-range, range);
  std::normal_distribution<float> normal(0.0f, sigma);
  for (std::size_t i = 0; i < count; ++i) {
    const bool padding = static_cast<std::int64_t>(i % static_cast<std::size_t>(ld)) >= cols;
    const bool is_float = type != DType::int8 && type != DType::int32;
    values[i] = padding && is_float ? std::numeric_limits<float>::quiet_NaN()
                                    : (range > 0 ? static_cast<float>(ints(rng)) : normal(rng));
  }
  HostDevice x;
  x.type = type;
  x.host.resize(dtype_storage_bytes(type, count));
  if (type == DType::int8) {
    for (std::size_t i = 0; i < count; ++i)
      x.host[i] = static_cast<unsigned char>(static_cast<std::int8_t>(values[i]));
  } else {
    convert_bulk(dtype_format(DType::float32), values.data(), dtype_format(type), x.host.data(), count);
  }
  x.device = cuda::DeviceBuffer(x.host.size());
  x.device.upload(x.host.data(), x.host.size());
  return x;
}

inline cuda::DeviceBuffer to_device(const std::vector<float>& v) {
  cuda::DeviceBuffer d(std::max<std::size_t>(v.size(), 1) * sizeof(float));
  if (!v.empty()) d.upload(v.data(), v.size() * sizeof(float));
  return d;
}

// C's bytes back from the device, decoded to double (float types) or int32 values.
inline std::vector<double> download_as_double(const cuda::DeviceBuffer& c, DType type, std::size_t count) {
  std::vector<unsigned char> bytes(dtype_storage_bytes(type, count));
  c.download(bytes.data(), bytes.size());
  std::vector<double> out(count);
  if (type == DType::int32) {
    for (std::size_t i = 0; i < count; ++i) {
      std::int32_t v;
      std::memcpy(&v, bytes.data() + 4 * i, 4);
      out[i] = v;
    }
  } else {
    convert_bulk(dtype_format(type), bytes.data(), dtype_format(DType::float64), out.data(), count);
  }
  return out;
}

}  // namespace lowbit::kernels::test
