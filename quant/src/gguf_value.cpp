// GGUF metadata values: construction, names of the value types, text for people.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "lowbit/formats/error.hpp"
#include "lowbit/quant/gguf.hpp"

namespace lowbit::quant {

std::string_view gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::uint8:
      return "u8";
    case GgufValueType::int8:
      return "i8";
    case GgufValueType::uint16:
      return "u16";
    case GgufValueType::int16:
      return "i16";
    case GgufValueType::uint32:
      return "u32";
    case GgufValueType::int32:
      return "i32";
    case GgufValueType::float32:
      return "f32";
    case GgufValueType::boolean:
      return "bool";
    case GgufValueType::string:
      return "str";
    case GgufValueType::array:
      return "arr";
    case GgufValueType::uint64:
      return "u64";
    case GgufValueType::int64:
      return "i64";
    case GgufValueType::float64:
      return "f64";
  }
  return "?";
}

GgufValue GgufValue::scalar(GgufValueType type, Scalar v) {
  if (type == GgufValueType::array) throw RangeError("a GGUF scalar cannot have the array type");
  GgufValue value;
  value.type = type;
  value.items.push_back(std::move(v));
  return value;
}

GgufValue GgufValue::array(GgufValueType element_type, std::vector<Scalar> items) {
  if (element_type == GgufValueType::array) throw RangeError("GGUF arrays cannot nest (ggml reads none)");
  GgufValue value;
  value.type = GgufValueType::array;
  value.element_type = element_type;
  value.items = std::move(items);
  return value;
}

namespace {

std::string scalar_text(const GgufValue::Scalar& s) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else {
          return fmt::format("{}", v);
        }
      },
      s);
}

}  // namespace

std::string GgufValue::to_string(std::size_t max_items) const {
  if (!is_array()) return items.empty() ? std::string() : scalar_text(items.front());
  std::string out = "[";
  for (std::size_t i = 0; i < items.size() && i < max_items; ++i) {
    if (i) out += ", ";
    out += scalar_text(items[i]);
  }
  if (items.size() > max_items) out += fmt::format(", ... ({} items)", items.size());
  return out + "]";
}

}  // namespace lowbit::quant
