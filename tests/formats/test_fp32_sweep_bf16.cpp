// fp32 -> bfloat16 through the scalar engine (pack_float with the constant spec, as Float<S>::from runs
// it), nearest-even, both policies, against the exact table oracle and against CUDA's host
// __float2bfloat16_rn (Policy::ieee).
#include <catch2/catch.hpp>

#include "lowbit/formats/float.hpp"
#include "oracle_cuda.hpp"
#include "oracle_table.hpp"
#include "test_fp32_sweep.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

void sweep_bfloat16(const std::vector<std::uint32_t>& chunks) {
  const TableOracle& oracle = table_oracle("bfloat16");
  if (!kHaveCudaHeaders) {
    WARN(
        "SKIPPED: CUDA headers (cuda_bf16.h) not found at build time; bfloat16 is compared with the table "
        "oracle only, not with __float2bfloat16_rn");
  }
  const MismatchLog log = run_sweep(chunks, [&](std::uint32_t first, std::uint32_t count, MismatchLog& log) {
    thread_local SweepChunk chunk;
    thread_local std::vector<std::uint16_t> cuda;
    sweep_against_table<spec::bfloat16>(oracle, first, count, chunk, log);
    if (!kHaveCudaHeaders) return;
    cuda.resize(chunk.inputs.size());
    cuda_float_to_bf16(chunk.inputs.data(), cuda.data(), chunk.inputs.size());
    // __float2bfloat16_rn turns every NaN into 0x7fff (sign dropped); lowbit gives 0x7fc0 / 0xffc0: NaN
    // results compare by class only, everything else bit for bit.
    compare_with_reference("CUDA __float2bfloat16_rn, ieee", oracle, chunk.inputs, chunk.ieee, cuda.data(),
                           false, log);
  });
  require_no_mismatch("bfloat16 against the table oracle (both policies) and __float2bfloat16_rn (ieee)",
                      log);
}

}  // namespace

TEST_CASE("fp32 rounds into bfloat16 like the exact value table and CUDA on a sample of the inputs",
          "[formats]") {
  sweep_bfloat16(sample_sweep_chunks(table_oracle("bfloat16").edge_values()));
}

TEST_CASE("every one of the 2^32 fp32 inputs rounds into bfloat16 like the exact value table and CUDA",
          "[formats][slow]") {
  sweep_bfloat16(all_sweep_chunks());
}
