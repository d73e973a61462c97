// Names of the companion tensors a quantized weight is stored with (`.weight_scale`, `.weight_packed`, ...).
#pragma once

#include <string>
#include <string_view>

namespace lowbit::quant {

// name + suffix (GCC 12 warns falsely about std::string's operator+ here).
inline std::string suffixed(const std::string& name, std::string_view suffix) {
  std::string s;
  s.reserve(name.size() + suffix.size());
  s.append(name);
  s.append(suffix);
  return s;
}

}  // namespace lowbit::quant
