// Internal: JSON parsing for safetensors headers and index files. nlohmann::json keeps the last of
// duplicate keys silently; the format forbids them (a second entry could hide a tensor), so this parser
// reports them, and checks UTF-8 itself to say where the first bad byte is.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace lowbit::train::detail {

// Offset of the first byte that is not part of a well-formed UTF-8 sequence (overlongs, surrogates and
// code points above U+10FFFF are ill-formed), or nullopt when `text` is valid UTF-8.
std::optional<std::size_t> invalid_utf8_offset(std::string_view text);

// Parses `text` as JSON; throws FileError "<file>: <field> ..." on invalid UTF-8, invalid JSON or a key
// that appears twice in one object.
nlohmann::json parse_json_strict(std::string_view text, const std::string& file, std::string_view field);

// A JSON value for a message, shortened so a huge value cannot flood it.
std::string json_excerpt(const nlohmann::json& value);

}  // namespace lowbit::train::detail
