// Bulk conversion fp32 <-> {bfloat16, float16, float8_e4m3fn, float8_e5m2} on a 256 MiB fp32 array (and
// the matching narrow arrays), beside memcpy moving the same bytes, single-threaded and on 2 threads.
//
// Bandwidth is counted as bytes read + bytes written per second (counter "GB/s", 1e9 bytes). A conversion
// of n elements reads n * in_bytes and writes n * out_bytes. Its memcpy peer ("memcpy/<pair>") copies
// n * (in_bytes + out_bytes) / 2 bytes, so it reads and writes the same total as the conversion, and its
// GB/s is counted the same way. "bound/<pair>" is the conversion's access pattern without the arithmetic
// (see bound_kernel). With 2 threads each thread converts (or copies) one half; the library call itself is
// single-threaded. bench/run_convert.py runs this program and ml_dtypes side by side and prints the ratios.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/format.hpp"

namespace {

constexpr std::size_t kCount = std::size_t{64} << 20;  // elements: 256 MiB of fp32

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::uint8_t[], FreeDeleter>;

// Page-aligned and written once, so page faults stay out of the timed loops.
Buffer make_buffer(std::size_t bytes) {
  Buffer b(static_cast<std::uint8_t*>(std::aligned_alloc(4096, bytes)));
  std::memset(b.get(), 0, bytes);
  return b;
}

const char* const kNarrow[] = {"bfloat16", "float16", "float8_e4m3fn", "float8_e5m2"};

struct Data {
  Buffer f32_in = make_buffer(kCount * 4);
  Buffer out = make_buffer(kCount * 4);  // destination of every conversion and copy
  std::vector<Buffer> narrow_in;         // the input array converted to each narrow format (nearest-even)

  Data() {
    // Activations-like values: normal with standard deviation 1 (a few percent beyond e4m3fn's and
    // e5m2's subnormal thresholds, none past their largest finite values).
    std::mt19937 rng(2024);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    auto* f = reinterpret_cast<float*>(f32_in.get());
    for (std::size_t i = 0; i < kCount; ++i) f[i] = normal(rng);
    const lowbit::Format f32 = lowbit::find_format("float32");
    for (const char* name : kNarrow) {
      const lowbit::Format to = lowbit::find_format(name);
      narrow_in.push_back(make_buffer(kCount * lowbit::element_bytes(to)));
      lowbit::convert_bulk(f32, f32_in.get(), to, narrow_in.back().get(), kCount);
    }
  }
};

Data& data() {
  static Data d;
  return d;
}

// This thread's share [begin, end) of n elements.
std::pair<std::size_t, std::size_t> share(const benchmark::State& state, std::size_t n) {
  const std::size_t threads = static_cast<std::size_t>(state.threads());
  const std::size_t index = static_cast<std::size_t>(state.thread_index());
  return {n * index / threads, n * (index + 1) / threads};
}

void set_bandwidth(benchmark::State& state, double bytes_per_iteration_all_threads) {
  // Counters are summed over threads and divided by the (real) time: count this thread's part.
  state.counters["GB/s"] = benchmark::Counter(
      bytes_per_iteration_all_threads / state.threads() * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}

void convert(benchmark::State& state, const std::string& from_name, const std::string& to_name) {
  Data& d = data();
  const lowbit::Format from = lowbit::find_format(from_name), to = lowbit::find_format(to_name);
  const std::size_t in_bytes = lowbit::element_bytes(from), out_bytes = lowbit::element_bytes(to);
  const std::uint8_t* src = d.f32_in.get();
  for (std::size_t k = 0; k < 4; ++k)
    if (from_name == kNarrow[k]) src = d.narrow_in[k].get();
  const auto [begin, end] = share(state, kCount);
  for (auto _ : state) {
    lowbit::convert_bulk(from, src + begin * in_bytes, to, d.out.get() + begin * out_bytes, end - begin);
    benchmark::ClobberMemory();
  }
  set_bandwidth(state, static_cast<double>(kCount * (in_bytes + out_bytes)));
  state.SetLabel(lowbit::bulk_target_name());
}

// The memory bound of a conversion's access pattern: the same loads and the same stores (streaming past
// 32 MiB of output, and narrowings reading 8 source pages side by side, like lowbit) with no arithmetic, by
// truncating or zero-extending 32-bit words: the ceiling for lowbit's loops on this machine.
// (GCC 12's own AVX-512 intrinsic headers trip -Wmaybe-uninitialized; Highway silences it the same way.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f,avx512bw"))) inline void store_vector(bool stream, std::uint8_t* p,
                                                                     __m512i v) {
  if (stream) {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(p), v);  // p is 64-byte aligned in this benchmark
  } else {
    _mm512_storeu_si512(p, v);
  }
}

__attribute__((target("avx512f,avx512bw"))) void bound_kernel(const std::uint8_t* src, std::uint8_t* dst,
                                                              std::size_t n, std::size_t in_bytes,
                                                              std::size_t out_bytes) {
  const bool stream = n * out_bytes >= (std::size_t{32} << 20);
  const std::size_t step = 64 / std::min(in_bytes, out_bytes);  // elements per 64-byte vector of the narrower
  auto vector_at = [&](std::size_t i) __attribute__((target("avx512f,avx512bw"))) {
    if (in_bytes == 4 && out_bytes == 2) {
      const __m256i lo = _mm512_cvtepi32_epi16(_mm512_loadu_si512(src + i * 4));
      const __m256i hi = _mm512_cvtepi32_epi16(_mm512_loadu_si512(src + i * 4 + 64));
      store_vector(stream, dst + i * 2, _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
    } else if (in_bytes == 4) {
      __m128i q[4];
      for (int k = 0; k < 4; ++k) q[k] = _mm512_cvtepi32_epi8(_mm512_loadu_si512(src + i * 4 + 64 * k));
      const __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(q[0]), q[1], 1);
      const __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(q[2]), q[3], 1);
      store_vector(stream, dst + i, _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
    } else if (in_bytes == 2) {
      for (int k = 0; k < 2; ++k) {
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i * 2 + 32 * k));
        store_vector(stream, dst + i * 4 + 64 * k, _mm512_cvtepu16_epi32(h));
      }
    } else {
      for (int k = 0; k < 4; ++k) {
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16 * k));
        store_vector(stream, dst + i * 4 + 64 * k, _mm512_cvtepu8_epi32(b));
      }
    }
  };
  std::size_t i = 0;
  if (stream && in_bytes > out_bytes) {  // lowbit's order for narrowings: 8 source pages side by side
    const std::size_t page = 4096 / in_bytes, block = 8 * page;
    for (; i + block <= n; i += block) {
      for (std::size_t offset = 0; offset < page; offset += step) {
        for (std::size_t k = 0; k < 8; ++k) vector_at(i + k * page + offset);
      }
    }
  }
  for (; i + step <= n; i += step) vector_at(i);
  for (; i < n; ++i) {  // the few elements past the last whole vector
    std::uint32_t w = 0;
    std::memcpy(&w, src + i * in_bytes, std::min<std::size_t>(in_bytes, 4));
    std::memcpy(dst + i * out_bytes, &w, std::min<std::size_t>(out_bytes, 4));
  }
  _mm_sfence();
}
#pragma GCC diagnostic pop

void bound(benchmark::State& state, const std::string& from_name, const std::string& to_name) {
  Data& d = data();
  const std::size_t in_bytes = lowbit::element_bytes(lowbit::find_format(from_name));
  const std::size_t out_bytes = lowbit::element_bytes(lowbit::find_format(to_name));
  const std::uint8_t* src = d.f32_in.get();
  for (std::size_t k = 0; k < 4; ++k)
    if (from_name == kNarrow[k]) src = d.narrow_in[k].get();
  const auto [begin, end] = share(state, kCount);
  for (auto _ : state) {
    bound_kernel(src + begin * in_bytes, d.out.get() + begin * out_bytes, end - begin, in_bytes, out_bytes);
    benchmark::ClobberMemory();
  }
  set_bandwidth(state, static_cast<double>(kCount * (in_bytes + out_bytes)));
}

// memcpy of the bytes a conversion between these element sizes moves (half read, half written).
void copy(benchmark::State& state, std::size_t in_bytes, std::size_t out_bytes) {
  Data& d = data();
  const std::size_t bytes = kCount * (in_bytes + out_bytes) / 2;
  const auto [begin, end] = share(state, bytes);
  for (auto _ : state) {
    std::memcpy(d.out.get() + begin, d.f32_in.get() + begin, end - begin);
    benchmark::ClobberMemory();
  }
  set_bandwidth(state, static_cast<double>(2 * bytes));
}

void register_all() {
  const bool has_avx512bw = __builtin_cpu_supports("avx512bw");
  for (const char* narrow : kNarrow) {
    const std::size_t bytes = lowbit::element_bytes(lowbit::find_format(narrow));
    const std::string there = std::string("float32->") + narrow, back = std::string(narrow) + "->float32";
    for (int threads : {1, 2}) {
      benchmark::RegisterBenchmark(("lowbit/" + there).c_str(), convert, "float32", narrow)
          ->Threads(threads)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
      if (has_avx512bw) {
        benchmark::RegisterBenchmark(("bound/" + there).c_str(), bound, "float32", narrow)
            ->Threads(threads)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("bound/" + back).c_str(), bound, narrow, "float32")
            ->Threads(threads)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
      benchmark::RegisterBenchmark(("lowbit/" + back).c_str(), convert, narrow, "float32")
          ->Threads(threads)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
      // Both directions move the same bytes, so one memcpy serves the pair.
      benchmark::RegisterBenchmark(("memcpy/float32<->" + std::string(narrow)).c_str(), copy, 4, bytes)
          ->Threads(threads)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  data();  // build the inputs before any timing
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
