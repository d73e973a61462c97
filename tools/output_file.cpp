#include "output_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "lowbit/formats/error.hpp"

namespace lowbit::cli {

AtomicOutput::AtomicOutput(const std::string& path) : path_(path) {
  if (path == "-") {
    fd_ = STDOUT_FILENO;
    return;
  }
  temp_path_ = path + ".tmp.XXXXXX";
  std::vector<char> buffer(temp_path_.begin(), temp_path_.end());
  buffer.push_back('\0');
  fd_ = mkstemp(buffer.data());
  if (fd_ < 0) throw Error(fmt::format("cannot create output '{}': {}", path, std::strerror(errno)));
  temp_path_ = buffer.data();
  // mkstemp creates the file 0600; give it the mode a plain create would (0666 less the umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd_, 0666 & ~mask);
}

AtomicOutput::~AtomicOutput() {
  if (path_ == "-" || committed_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(temp_path_.c_str());
}

void AtomicOutput::write(const void* data, std::size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(fmt::format("cannot write '{}': {}", path_, std::strerror(errno)));
    p += n;
    bytes -= static_cast<std::size_t>(n);
  }
}

void AtomicOutput::commit() {
  if (path_ == "-") return;
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw Error(fmt::format("cannot write '{}': {}", path_, std::strerror(errno)));
  }
  fd_ = -1;
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw Error(fmt::format("cannot rename the output into '{}': {}", path_, std::strerror(errno)));
  }
  committed_ = true;
}

std::size_t read_fully(int fd, void* data, std::size_t bytes, const std::string& name) {
  char* p = static_cast<char*>(data);
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::read(fd, p + done, bytes - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(fmt::format("cannot read '{}': {}", name, std::strerror(errno)));
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

}  // namespace lowbit::cli
