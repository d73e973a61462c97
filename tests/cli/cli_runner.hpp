// Runs the `lowbit` binary as a user would and captures what it prints.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace lowbit::test {

// Where Debian's dataset-fashion-mnist installs the IDX files (the CLI's default --data; the CLI tests run
// the binary only, so they do not include train/'s kFashionMnistDefaultDir).
inline const std::string kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs `lowbit` with `args` (each passed as one argument), stdin from `input` when given.
CliResult run_cli(const std::vector<std::string>& args, const std::string* input = nullptr);

// A fresh empty directory for files of one test, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
std::vector<std::string> list_dir(const std::string& path);

// What every command does with bad input (DESIGN.md section 5): exit code 2 and an `error: ...` message on
// stderr that names the bad input (`needle`).
inline void require_bad_input(const CliResult& r, const std::string& needle) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("error:") && Catch::Contains(needle));
}

}  // namespace lowbit::test
