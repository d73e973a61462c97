#include "lowbit/train/atomic_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "lowbit/formats/error.hpp"

namespace lowbit::train {
namespace {

// Writes smaller than this are gathered, so streaming many small pieces costs few system calls.
constexpr std::size_t kBufferBytes = std::size_t{1} << 20;

[[noreturn]] void fail(const char* what, const std::filesystem::path& path, int error) {
  throw FileError(fmt::format("cannot {} '{}': {}", what, path.string(), std::strerror(error)));
}

// The process umask, read once: umask() can only be read by setting it, and doing that on every file
// would race with other threads creating files.
mode_t process_umask() {
  static const mode_t mask = [] {
    const mode_t m = ::umask(0);
    ::umask(m);
    return m;
  }();
  return mask;
}

void write_all(int fd, const unsigned char* p, std::size_t bytes, const std::filesystem::path& target) {
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write", target, n < 0 ? errno : EIO);
    p += n;
    bytes -= static_cast<std::size_t>(n);
  }
}

// The live temporaries, for the signal handler: fixed slots it can read without locks or allocation
// (only unlink is called there, which is async-signal-safe). A slot is claimed by its `state` (free ->
// writing -> live), so a handler never reads a half-copied path. More writers at once than slots only
// lose the signal-time cleanup for the extra ones; their destructors still clean up.
struct TempSlot {
  std::atomic<int> state{0};  // 0 free, 1 being written, 2 live
  std::array<char, PATH_MAX> path{};
};
std::array<TempSlot, 16> g_temporaries;

int register_temporary(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  for (int i = 0; i < static_cast<int>(g_temporaries.size()); ++i) {
    int expected = 0;
    TempSlot& slot = g_temporaries[static_cast<std::size_t>(i)];
    if (!slot.state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(slot.path.data(), path.c_str(), path.size() + 1);
    slot.state.store(2);
    return i;
  }
  return -1;
}

void unregister_temporary(int slot) {
  if (slot >= 0) g_temporaries[static_cast<std::size_t>(slot)].state.store(0);
}

extern "C" void remove_temporaries_and_reraise(int signal) {
  for (TempSlot& slot : g_temporaries) {
    if (slot.state.load() == 2) ::unlink(slot.path.data());
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

}  // namespace

void remove_temporaries_on_signals() {
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    if (::sigaction(signal, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;  // e.g. nohup
    struct sigaction action {};
    action.sa_handler = remove_temporaries_and_reraise;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    ::sigaction(signal, &action, nullptr);
  }
}

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  std::string pattern = target_.string() + ".tmp.XXXXXX";
  fd_ = ::mkstemp(pattern.data());
  if (fd_ < 0) fail("create output", target_, errno);
  temp_ = pattern;
  slot_ = register_temporary(pattern);
  buffer_.reserve(kBufferBytes);
}

AtomicFile::~AtomicFile() {
  unregister_temporary(slot_);
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(temp_.c_str());
}

void AtomicFile::flush() {
  write_all(fd_, buffer_.data(), buffer_.size(), target_);
  buffer_.clear();
}

void AtomicFile::write(const void* data, std::size_t bytes) {
  if (fd_ < 0)
    throw FileError(fmt::format("cannot write '{}': the file is already committed", target_.string()));
  const auto* p = static_cast<const unsigned char*>(data);
  written_ += bytes;
  if (buffer_.size() + bytes <= kBufferBytes) {
    buffer_.insert(buffer_.end(), p, p + bytes);
    return;
  }
  flush();
  if (bytes >= kBufferBytes) {
    write_all(fd_, p, bytes, target_);
  } else {
    buffer_.insert(buffer_.end(), p, p + bytes);
  }
}

void AtomicFile::commit() {
  if (committed_) return;
  if (fd_ < 0) throw FileError(fmt::format("cannot commit '{}': an earlier commit failed", target_.string()));
  flush();
  // mkstemp creates the file 0600; give it the mode a plain create would.
  if (::fchmod(fd_, 0666 & ~process_umask()) != 0) fail("set the mode of", target_, errno);
  // The data must be on disk before the rename makes it visible, or a crash could leave an empty target.
  if (::fsync(fd_) != 0) fail("write", target_, errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("write", target_, errno);
  // From the rename on, the temporary's name is the complete target's: a signal must not remove it.
  unregister_temporary(slot_);
  slot_ = -1;
  if (std::rename(temp_.c_str(), target_.c_str()) != 0) fail("rename the output into", target_, errno);
  committed_ = true;
  // Persist the rename itself; a failure here cannot undo the (complete) file, so it is not an error.
  std::filesystem::path dir = target_.parent_path();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace lowbit::train
