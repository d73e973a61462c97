// The one exception hierarchy of lowbit's formats library. Every message names the input, the field and
// the bad value, so a caller can show it to a person unchanged.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace lowbit {

// Base of every error lowbit raises on bad input.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A format name that is not in the registry (the message suggests the nearest names).
class UnknownFormatError : public Error {
 public:
  using Error::Error;
};

// Text that is not a number of the accepted grammar; `position` is the offending character's index.
class ParseError : public Error {
 public:
  ParseError(const std::string& message, std::size_t position) : Error(message), position_(position) {}
  std::size_t position() const noexcept { return position_; }

 private:
  std::size_t position_;
};

// A bit pattern, size or option outside what the format or operation accepts.
class RangeError : public Error {
 public:
  using Error::Error;
};

// A file that cannot be read or written, or whose contents break its format (truncated, corrupt,
// inconsistent); the message names the file, the field and the bad value.
class FileError : public Error {
 public:
  using Error::Error;
};

// Tensor or matrix shapes that do not fit together (the message names both shapes).
class ShapeError : public Error {
 public:
  using Error::Error;
};

}  // namespace lowbit
