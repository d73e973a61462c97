// An output file that appears only when complete. Bytes go to a temporary beside the target (same
// directory, so the final rename cannot cross file systems); commit() flushes, fsyncs and renames it over
// the target. Destroying an uncommitted AtomicFile removes the temporary, so a failed or interrupted
// writer never leaves a partial file and never touches an existing target. A signal that ends the process
// runs no destructor: programs call remove_temporaries_on_signals() once to have SIGINT, SIGTERM and SIGHUP
// remove the live temporaries too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace lowbit::train {

class AtomicFile {
 public:
  // Creates the temporary `<target>.tmp.XXXXXX`; throws FileError naming the target and the OS error.
  explicit AtomicFile(std::filesystem::path target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends bytes (buffered); throws FileError on a write error (disk full, ...).
  void write(const void* data, std::size_t bytes);
  // Flushes, fsyncs, gives the file the mode a plain create would (0666 & ~umask), renames it over the
  // target and fsyncs the directory. Throws FileError; the temporary is then removed by the destructor.
  void commit();

  const std::filesystem::path& path() const { return target_; }
  const std::filesystem::path& temp_path() const { return temp_; }
  // Bytes passed to write() so far.
  std::uint64_t bytes_written() const { return written_; }
  bool committed() const { return committed_; }

 private:
  void flush();

  std::filesystem::path target_, temp_;
  int fd_ = -1;
  int slot_ = -1;  // in the table the signal handler reads (atomic_file.cpp)
  bool committed_ = false;
  std::uint64_t written_ = 0;
  std::vector<unsigned char> buffer_;
};

// Installs handlers for SIGINT, SIGTERM and SIGHUP that unlink the temporaries of every live uncommitted
// AtomicFile and then end the process by the same signal (so the exit status still says which). Signals
// already ignored stay ignored. Call once, early, from the main thread.
void remove_temporaries_on_signals();

}  // namespace lowbit::train
