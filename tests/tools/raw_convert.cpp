// A small driver for cross-checks run from Python (tests/formats/crosscheck_ml_dtypes.py): converts raw
// little-endian arrays with lowbit's scalar engine through the runtime registry (find_format, then
// Format::unpack / Format::pack), one element at a time.
//
//   lowbit_raw_convert decode FORMAT IN OUT
//       IN: codes of FORMAT, one per element (1 byte up to 8 bits, 2 up to 16, 4 up to 32);
//       OUT: their values as float32 bit patterns (exact for every format up to 16 bits).
//   lowbit_raw_convert encode FORMAT ROUNDING POLICY IN OUT
//       IN: float32 bit patterns; OUT: codes of FORMAT rounded once with ROUNDING (nearest-even,
//       toward-zero, ...) and POLICY (ieee, saturate), sized as above.
//
// Exits 2 on bad arguments or input, naming the problem.
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/formats/format.hpp"
#include "lowbit/formats/rounding.hpp"

namespace {

std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::size_t element_size(const lowbit::Format& format) {
  if (format.bits() <= 8) return 1;
  if (format.bits() <= 16) return 2;
  if (format.bits() <= 32) return 4;
  throw std::runtime_error("formats wider than 32 bits are not supported: " + format.name());
}

std::uint64_t load(const unsigned char* p, std::size_t size) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < size; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

void store(unsigned char* p, std::size_t size, std::uint64_t v) {
  for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

void decode(const std::string& name, const std::string& in_path, const std::string& out_path) {
  const lowbit::Format format = lowbit::find_format(name);
  const lowbit::Format float32 = lowbit::find_format("float32");
  const std::size_t size = element_size(format);
  const std::vector<unsigned char> in = read_file(in_path);
  if (in.size() % size != 0)
    throw std::runtime_error(in_path + ": size is not a multiple of the element size");
  std::vector<unsigned char> out(in.size() / size * 4);
  for (std::size_t i = 0; i < in.size() / size; ++i) {
    lowbit::Flags flags;
    store(&out[4 * i], 4, float32.pack(format.unpack(load(&in[size * i], size)), {}, flags));
  }
  write_file(out_path, out);
}

void encode(const std::string& name, const std::string& rounding, const std::string& policy,
            const std::string& in_path, const std::string& out_path) {
  const lowbit::Format format = lowbit::find_format(name);
  const lowbit::Format float32 = lowbit::find_format("float32");
  const lowbit::RoundOptions options{lowbit::parse_rounding(rounding), lowbit::parse_policy(policy)};
  const std::size_t size = element_size(format);
  const std::vector<unsigned char> in = read_file(in_path);
  if (in.size() % 4 != 0) throw std::runtime_error(in_path + ": size is not a multiple of 4");
  std::vector<unsigned char> out(in.size() / 4 * size);
  for (std::size_t i = 0; i < in.size() / 4; ++i) {
    lowbit::Flags flags;
    store(&out[size * i], size, format.pack(float32.unpack(load(&in[4 * i], 4)), options, flags));
  }
  write_file(out_path, out);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 4 && args[0] == "decode") {
      decode(args[1], args[2], args[3]);
    } else if (args.size() == 6 && args[0] == "encode") {
      encode(args[1], args[2], args[3], args[4], args[5]);
    } else {
      std::fprintf(stderr,
                   "usage: lowbit_raw_convert decode FORMAT IN OUT\n"
                   "       lowbit_raw_convert encode FORMAT ROUNDING POLICY IN OUT\n");
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
