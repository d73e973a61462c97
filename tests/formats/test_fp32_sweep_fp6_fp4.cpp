// fp32 -> float6_e2m3fn, float6_e3m2fn and float4_e2m1fn through the scalar engine (pack_float with
// the constant spec), nearest-even, both policies, against the exact table oracle, and under
// Policy::saturate against CUDA's host __nv_cvt_float_to_fp6 / __nv_cvt_float_to_fp4 (cudaRoundNearest),
// which always saturate and turn NaN into +largest finite, as Policy::saturate does: bit for bit on every
// input, NaNs included.
#include <catch2/catch.hpp>

#include "lowbit/formats/float.hpp"
#include "oracle_cuda.hpp"
#include "oracle_table.hpp"
#include "test_fp32_sweep.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

template <FloatSpec S>
void sweep_mx_element(const std::string& name, CudaFormat cuda_format,
                      const std::vector<std::uint32_t>& chunks) {
  const TableOracle& oracle = table_oracle(name);
  if (!kHaveCudaHeaders) {
    WARN("SKIPPED: CUDA headers (cuda_fp6.h, cuda_fp4.h) not found at build time; "
         << name << " is compared with the table oracle only");
  }
  const MismatchLog log = run_sweep(chunks, [&](std::uint32_t first, std::uint32_t count, MismatchLog& log) {
    thread_local SweepChunk chunk;
    thread_local std::vector<std::uint8_t> cuda;
    sweep_against_table<S>(oracle, first, count, chunk, log);
    if (!kHaveCudaHeaders) return;
    cuda.resize(chunk.inputs.size());
    cuda_float_to_fp6_fp4(chunk.inputs.data(), cuda.data(), chunk.inputs.size(), cuda_format);
    for (std::size_t i = 0; i < chunk.inputs.size(); ++i) {
      log.expect("CUDA __nv_cvt_float_to_fp6/fp4, saturate", std::bit_cast<std::uint32_t>(chunk.inputs[i]),
                 cuda[i], chunk.saturate[i]);
    }
    log.add_checked(chunk.inputs.size());
  });
  require_no_mismatch(name + " against the table oracle (both policies) and CUDA (saturate)", log);
}

std::vector<std::uint32_t> sample_for(const std::string& name) {
  return sample_sweep_chunks(table_oracle(name).edge_values());
}

}  // namespace

TEST_CASE("fp32 rounds into float6 and float4 like the exact value table and CUDA on a sample of the inputs",
          "[formats]") {
  sweep_mx_element<spec::float6_e2m3fn>("float6_e2m3fn", CudaFormat::e2m3, sample_for("float6_e2m3fn"));
  sweep_mx_element<spec::float6_e3m2fn>("float6_e3m2fn", CudaFormat::e3m2, sample_for("float6_e3m2fn"));
  sweep_mx_element<spec::float4_e2m1fn>("float4_e2m1fn", CudaFormat::e2m1, sample_for("float4_e2m1fn"));
}

TEST_CASE("every one of the 2^32 fp32 inputs rounds into float6_e2m3fn like the exact value table and CUDA",
          "[formats][slow]") {
  sweep_mx_element<spec::float6_e2m3fn>("float6_e2m3fn", CudaFormat::e2m3, all_sweep_chunks());
}

TEST_CASE("every one of the 2^32 fp32 inputs rounds into float6_e3m2fn like the exact value table and CUDA",
          "[formats][slow]") {
  sweep_mx_element<spec::float6_e3m2fn>("float6_e3m2fn", CudaFormat::e3m2, all_sweep_chunks());
}

TEST_CASE("every one of the 2^32 fp32 inputs rounds into float4_e2m1fn like the exact value table and CUDA",
          "[formats][slow]") {
  sweep_mx_element<spec::float4_e2m1fn>("float4_e2m1fn", CudaFormat::e2m1, all_sweep_chunks());
}
