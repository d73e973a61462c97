// cuda::convert against formats' own bulk conversion (itself tested against independent references on
// every fp32 input, tests/formats): every one of the 2^32 fp32 inputs into e4m3fn and e5m2 under both
// policies, every bf16 code, and the scale and amax of fp8 quantization.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "device_operands.hpp"
#include "lowbit/formats/bulk.hpp"
#include "lowbit/formats/error.hpp"
#include "lowbit/kernels/cuda.hpp"

namespace lowbit::kernels::test {
namespace {

// formats' conversion of `count` elements on several threads (the reference for 2^32 inputs).
void reference_convert(DType from, const void* src, DType to, void* dst, std::size_t count, Policy policy) {
  const unsigned threads = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  const std::size_t in_bytes = dtype_storage_bytes(from, 1), out_bytes = dtype_storage_bytes(to, 1);
  for (unsigned t = 0; t < threads; ++t) {
    const std::size_t begin = count * t / threads, end = count * (t + 1) / threads;
    pool.emplace_back([=] {
      BulkOptions options;
      options.policy = policy;
      convert_bulk(dtype_format(from), static_cast<const unsigned char*>(src) + begin * in_bytes,
                   dtype_format(to), static_cast<unsigned char*>(dst) + begin * out_bytes, end - begin,
                   options);
    });
  }
  for (auto& t : pool) t.join();
}

TEST_CASE("cuda convert matches formats on all 2^32 fp32 inputs into e4m3fn and e5m2, both policies",
          "[kernels][cuda][slow]") {
  constexpr std::size_t kChunk = std::size_t{1} << 28;
  std::vector<std::uint32_t> inputs(kChunk);
  std::vector<std::uint8_t> want(kChunk), got(kChunk);
  cuda::DeviceBuffer d_in(kChunk * 4), d_out(kChunk);
  for (std::uint64_t first = 0; first < (std::uint64_t{1} << 32); first += kChunk) {
    for (std::size_t i = 0; i < kChunk; ++i) inputs[i] = static_cast<std::uint32_t>(first + i);
    d_in.upload(inputs.data(), kChunk * 4);
    for (const DType to : {DType::float8_e4m3fn, DType::float8_e5m2}) {
      for (const Policy policy : {Policy::ieee, Policy::saturate}) {
        cuda::ConvertOptions options;
        options.policy = policy;
        cuda::convert(d_in.get(), DType::float32, d_out.get(), to, kChunk, options);
        d_out.download(got.data(), kChunk);
        reference_convert(DType::float32, inputs.data(), to, want.data(), kChunk, policy);
        const auto mismatch = std::mismatch(want.begin(), want.end(), got.begin());
        INFO(dtype_name(to) << ", policy " << to_string(policy));
        if (mismatch.first != want.end()) {
          const std::size_t i = static_cast<std::size_t>(mismatch.first - want.begin());
          INFO("fp32 0x" << std::hex << inputs[i] << ": formats 0x" << int{want[i]} << ", GPU 0x"
                         << int{got[i]});
          CHECK(false);
        }
      }
    }
  }
}

TEST_CASE("cuda convert matches formats on every bf16 code into fp8 and fp16", "[kernels][cuda]") {
  std::vector<std::uint16_t> codes(1 << 16);
  for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<std::uint16_t>(i);
  cuda::DeviceBuffer d_in(codes.size() * 2), d_out(codes.size() * 2);
  d_in.upload(codes.data(), codes.size() * 2);
  for (const DType to : {DType::float8_e4m3fn, DType::float8_e5m2, DType::float16}) {
    for (const Policy policy : {Policy::ieee, Policy::saturate}) {
      const std::size_t bytes = dtype_storage_bytes(to, codes.size());
      std::vector<unsigned char> want(bytes), got(bytes);
      cuda::ConvertOptions options;
      options.policy = policy;
      cuda::convert(d_in.get(), DType::bfloat16, d_out.get(), to, codes.size(), options);
      d_out.download(got.data(), bytes);
      reference_convert(DType::bfloat16, codes.data(), to, want.data(), codes.size(), policy);
      INFO(dtype_name(to) << ", policy " << to_string(policy));
      CHECK(want == got);
    }
  }
}

TEST_CASE("cuda convert applies the per-tensor scale in fp32 and reduces the input's amax",
          "[kernels][cuda]") {
  std::mt19937_64 rng(fresh_seed());
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const std::size_t count = 1'000'003;
  std::vector<float> x(count);
  for (auto& v : x) v = normal(rng);
  const float scale = 37.5f;
  std::vector<float> scaled(count);
  float amax = 0.0f;
  for (std::size_t i = 0; i < count; ++i) {
    scaled[i] = x[i] * scale;
    amax = std::max(amax, std::fabs(x[i]));
  }
  std::vector<std::uint8_t> want(count), got(count);
  reference_convert(DType::float32, scaled.data(), DType::float8_e4m3fn, want.data(), count,
                    Policy::saturate);
  cuda::DeviceBuffer d_x = to_device(x), d_scale = to_device({scale}), d_amax = to_device({0.0f}),
                     d_out(count);
  cuda::ConvertOptions options;
  options.policy = Policy::saturate;
  options.scale = d_scale.as<float>();
  options.amax = d_amax.as<float>();
  cuda::convert(d_x.get(), DType::float32, d_out.get(), DType::float8_e4m3fn, count, options);
  d_out.download(got.data(), count);
  float got_amax = 0.0f;
  d_amax.download(&got_amax, 4);
  CHECK(want == got);
  CHECK(got_amax == amax);
}

TEST_CASE("cuda convert rejects unsupported types naming them", "[kernels][cuda]") {
  cuda::DeviceBuffer buf(64);
  REQUIRE_THROWS_WITH(cuda::convert(buf.get(), DType::float16, buf.get(), DType::float8_e4m3fn, 4),
                      Catch::Contains("from = float16"));
  REQUIRE_THROWS_WITH(cuda::convert(buf.get(), DType::float32, buf.get(), DType::int8, 4),
                      Catch::Contains("to = int8"));
  REQUIRE_THROWS_AS(cuda::convert(nullptr, DType::float32, buf.get(), DType::float8_e5m2, 4), RangeError);
}

}  // namespace
}  // namespace lowbit::kernels::test
