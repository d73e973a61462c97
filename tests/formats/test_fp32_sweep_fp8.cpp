// fp32 -> float8_e4m3fn and float8_e5m2 through the scalar engine (pack_float with the constant spec, as
// Float<S>::from runs it), nearest-even, both policies, against the exact table oracle and against CUDA's
// host __nv_cvt_float_to_fp8: __NV_SATFINITE for Policy::saturate, __NV_NOSAT for Policy::ieee.
#include <catch2/catch.hpp>

#include "lowbit/formats/float.hpp"
#include "oracle_cuda.hpp"
#include "oracle_table.hpp"
#include "test_fp32_sweep.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

// __NV_NOSAT and ml_dtypes (Policy::ieee) agree on every non-NaN input, overflow included (e4m3: NaN
// with the sign kept; e5m2: inf). NaN inputs give 0x7f in both CUDA modes, whatever their sign, where
// lowbit keeps the sign (0x7f/0xff for e4m3fn, 0x7e/0xfe for e5m2): NaN results compare by class only.
template <FloatSpec S>
void sweep_fp8(const std::string& name, CudaFormat cuda_format, const std::vector<std::uint32_t>& chunks) {
  const TableOracle& oracle = table_oracle(name);
  if (!kHaveCudaHeaders) {
    WARN("SKIPPED: CUDA headers (cuda_fp8.h) not found at build time; "
         << name
         << " is compared with the table oracle "
            "only, not with __nv_cvt_float_to_fp8");
  }
  const MismatchLog log = run_sweep(chunks, [&](std::uint32_t first, std::uint32_t count, MismatchLog& log) {
    thread_local SweepChunk chunk;
    thread_local std::vector<std::uint8_t> cuda;
    sweep_against_table<S>(oracle, first, count, chunk, log);
    if (!kHaveCudaHeaders) return;
    cuda.resize(chunk.inputs.size());
    cuda_float_to_fp8(chunk.inputs.data(), cuda.data(), chunk.inputs.size(), cuda_format, false);
    compare_with_reference("CUDA __nv_cvt_float_to_fp8 __NV_NOSAT, ieee", oracle, chunk.inputs, chunk.ieee,
                           cuda.data(), false, log);
    cuda_float_to_fp8(chunk.inputs.data(), cuda.data(), chunk.inputs.size(), cuda_format, true);
    compare_with_reference("CUDA __nv_cvt_float_to_fp8 __NV_SATFINITE, saturate", oracle, chunk.inputs,
                           chunk.saturate, cuda.data(), false, log);
  });
  require_no_mismatch(name + " against the table oracle and __nv_cvt_float_to_fp8 (both policies)", log);
}

}  // namespace

TEST_CASE("fp32 rounds into float8_e4m3fn like the exact value table and CUDA on a sample of the inputs",
          "[formats]") {
  sweep_fp8<spec::float8_e4m3fn>("float8_e4m3fn", CudaFormat::e4m3,
                                 sample_sweep_chunks(table_oracle("float8_e4m3fn").edge_values()));
}

TEST_CASE("fp32 rounds into float8_e5m2 like the exact value table and CUDA on a sample of the inputs",
          "[formats]") {
  sweep_fp8<spec::float8_e5m2>("float8_e5m2", CudaFormat::e5m2,
                               sample_sweep_chunks(table_oracle("float8_e5m2").edge_values()));
}

TEST_CASE("every one of the 2^32 fp32 inputs rounds into float8_e4m3fn like the exact value table and CUDA",
          "[formats][slow]") {
  sweep_fp8<spec::float8_e4m3fn>("float8_e4m3fn", CudaFormat::e4m3, all_sweep_chunks());
}

TEST_CASE("every one of the 2^32 fp32 inputs rounds into float8_e5m2 like the exact value table and CUDA",
          "[formats][slow]") {
  sweep_fp8<spec::float8_e5m2>("float8_e5m2", CudaFormat::e5m2, all_sweep_chunks());
}
