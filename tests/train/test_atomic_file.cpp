// AtomicFile: the target appears only on commit, complete, with the mode a plain create gives; otherwise
// nothing is left behind and an existing target is untouched.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>

#include "lowbit/formats/error.hpp"
#include "lowbit/train/atomic_file.hpp"
#include "test_safetensors_support.hpp"

using lowbit::train::AtomicFile;
using namespace lowbit_test;

TEST_CASE("an atomic file appears at its target only when committed", "[train]") {
  TempDir dir;
  const auto target = dir / "out.bin";
  {
    AtomicFile file(target);
    file.write("hello ", 6);
    file.write("world", 5);
    CHECK(file.bytes_written() == 11);
    CHECK_FALSE(std::filesystem::exists(target));
    CHECK(std::filesystem::exists(file.temp_path()));
    CHECK(file.temp_path().parent_path() == target.parent_path());
    file.commit();
  }
  const Bytes expected{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  CHECK(read_bytes(target) == expected);
  CHECK(dir.entries() == std::vector<std::string>{"out.bin"});
}

TEST_CASE("a committed atomic file has mode 0666 less the umask, as a plain create gives", "[train]") {
  TempDir dir;
  const mode_t mask = ::umask(0);
  ::umask(mask);
  {
    AtomicFile file(dir / "a");
    file.commit();
  }
  struct stat st {};
  REQUIRE(::stat((dir / "a").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == (0666 & ~mask));
}

TEST_CASE("an atomic file destroyed before commit leaves no file and keeps the old target", "[train]") {
  TempDir dir;
  const auto target = dir / "keep.bin";
  write_bytes(target, {1, 2, 3});
  {
    AtomicFile file(target);
    file.write("partial", 7);
  }
  CHECK(read_bytes(target) == Bytes{1, 2, 3});
  CHECK(dir.entries() == std::vector<std::string>{"keep.bin"});
}

TEST_CASE("an atomic file replaces an existing target on commit and streams large writes whole", "[train]") {
  TempDir dir;
  const auto target = dir / "big.bin";
  write_bytes(target, {9});
  Bytes big(3 * (1 << 20) + 17);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7 + 3);
  {
    AtomicFile file(target);
    file.write(big.data(), 5);                         // buffered
    file.write(big.data() + 5, big.size() - 5 - 100);  // larger than the buffer
    file.write(big.data() + big.size() - 100, 100);    // buffered again
    file.commit();
    CHECK(file.committed());
  }
  CHECK(read_bytes(target) == big);
}

TEST_CASE("an atomic file in a missing folder is a FileError naming the path", "[train]") {
  TempDir dir;
  const auto target = dir / "no-such-folder" / "x.bin";
  try {
    AtomicFile file(target);
    FAIL("expected a FileError");
  } catch (const lowbit::FileError& e) {
    CHECK_THAT(e.what(), Catch::Contains(target.string()));
    CHECK_THAT(e.what(), Catch::Contains("No such file or directory"));
  }
}

TEST_CASE("a signal that ends the writer removes its temporary, and a committed file survives the signal",
          "[train]") {
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
    TempDir dir;
    write_bytes(dir / "keep.bin", {1, 2, 3});
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // the writer: one file committed, two still being written when the signal comes
      lowbit::train::remove_temporaries_on_signals();
      AtomicFile done(dir / "done.bin");
      done.write("complete", 8);
      done.commit();
      AtomicFile first(dir / "keep.bin"), second(dir / "new.bin");
      first.write("partial", 7);
      second.write("partial", 7);
      std::raise(signal);
      ::_exit(0);  // not reached: the handler ends the process by the same signal
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    INFO("signal " << signal);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == signal);
    CHECK(dir.entries() == std::vector<std::string>{"done.bin", "keep.bin"});
    CHECK(read_bytes(dir / "keep.bin") == Bytes{1, 2, 3});
  }
}
