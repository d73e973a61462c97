#include "output_file.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lowbit/formats/error.hpp"

namespace lowbit::cli {

AtomicOutput::AtomicOutput(const std::string& path) {
  if (path != "-") file_.emplace(path);
}

void AtomicOutput::write(const void* data, std::size_t bytes) {
  if (file_) {
    file_->write(data, bytes);
    return;
  }
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(STDOUT_FILENO, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw FileError(fmt::format("cannot write to stdout: {}", std::strerror(errno)));
    p += n;
    bytes -= static_cast<std::size_t>(n);
  }
}

void AtomicOutput::commit() {
  if (file_) file_->commit();
}

std::size_t read_fully(int fd, void* data, std::size_t bytes, const std::string& name) {
  char* p = static_cast<char*>(data);
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::read(fd, p + done, bytes - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw FileError(fmt::format("cannot read '{}': {}", name, std::strerror(errno)));
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

}  // namespace lowbit::cli
