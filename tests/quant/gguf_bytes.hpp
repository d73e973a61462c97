// Builds GGUF files byte by byte for the reader tests, independently of lowbit's writer, so each header
// field can be made wrong on its own.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit_test {

class GgufBytes {
 public:
  template <typename T>
  GgufBytes& put(T v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
    return *this;
  }
  GgufBytes& str(std::string_view s) {
    put<std::uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  GgufBytes& header(std::uint64_t n_tensors, std::uint64_t n_kv, std::uint32_t version = 3) {
    bytes.insert(bytes.end(), {'G', 'G', 'U', 'F'});
    put<std::uint32_t>(version);
    put<std::uint64_t>(n_tensors);
    return put<std::uint64_t>(n_kv);
  }
  GgufBytes& kv_u32(std::string_view key, std::uint32_t v) {
    str(key);
    put<std::uint32_t>(4);
    return put<std::uint32_t>(v);
  }
  GgufBytes& kv_str(std::string_view key, std::string_view v) {
    str(key);
    put<std::uint32_t>(8);
    return str(v);
  }
  // One tensor info: ne innermost first.
  GgufBytes& tensor(std::string_view name, std::vector<std::uint64_t> ne, std::uint32_t type,
                    std::uint64_t offset) {
    str(name);
    put<std::uint32_t>(static_cast<std::uint32_t>(ne.size()));
    for (auto d : ne) put<std::uint64_t>(d);
    put<std::uint32_t>(type);
    return put<std::uint64_t>(offset);
  }
  GgufBytes& pad(std::size_t alignment = 32) {
    while (bytes.size() % alignment != 0) bytes.push_back(0);
    return *this;
  }
  GgufBytes& zeros(std::size_t n) {
    bytes.insert(bytes.end(), n, 0);
    return *this;
  }

  std::vector<std::uint8_t> bytes;
};

}  // namespace lowbit_test
