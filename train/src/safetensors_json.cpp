#include "safetensors_json.hpp"

#include <fmt/format.h>

#include <set>
#include <vector>

#include "lowbit/formats/error.hpp"

namespace lowbit::train::detail {

std::optional<std::size_t> invalid_utf8_offset(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int length;
    std::uint32_t min, cp;
    if ((c & 0xE0) == 0xC0) {
      length = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return i;
    }
    if (n - i < static_cast<std::size_t>(length)) return i;
    for (int k = 1; k < length; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += static_cast<std::size_t>(length);
  }
  return std::nullopt;
}

std::string json_excerpt(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

nlohmann::json parse_json_strict(std::string_view text, const std::string& file, std::string_view field) {
  if (const auto bad = invalid_utf8_offset(text)) {
    throw FileError(fmt::format("{}: {} is not valid UTF-8 (byte 0x{:02x} at offset {})", file, field,
                                static_cast<unsigned char>(text[*bad]), *bad));
  }
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::optional<std::string> duplicate;
  const nlohmann::json::parser_callback_t check = [&](int, nlohmann::json::parse_event_t event,
                                                      nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) {
      keys.emplace_back();
    } else if (event == E::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (event == E::key && !keys.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(key).second && !duplicate) duplicate = key;
    }
    return true;
  };
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text.begin(), text.end(), check);
  } catch (const nlohmann::json::parse_error& e) {
    throw FileError(fmt::format("{}: {} is not valid JSON ({})", file, field, e.what()));
  }
  if (duplicate) {
    throw FileError(fmt::format("{}: {} has the key \"{}\" twice in one object", file, field, *duplicate));
  }
  return value;
}

}  // namespace lowbit::train::detail
