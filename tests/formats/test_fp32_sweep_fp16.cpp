// fp32 -> float16 through the scalar engine (pack_float with the constant spec, as Float<S>::from runs
// it), nearest-even, both policies, against the exact table oracle and against the CPU's F16C conversion
// (Policy::ieee).
#include <catch2/catch.hpp>

#include "lowbit/formats/float.hpp"
#include "oracle_f16c.hpp"
#include "oracle_table.hpp"
#include "test_fp32_sweep.hpp"

using namespace lowbit;
using namespace lowbit::test;

namespace {

void sweep_float16(const std::vector<std::uint32_t>& chunks) {
  const TableOracle& oracle = table_oracle("float16");
  const bool have_f16c = f16c_available();
  if (!have_f16c) WARN("SKIPPED: this CPU has no F16C; float16 is compared with the table oracle only");
  const MismatchLog merged =
      run_sweep(chunks, [&](std::uint32_t first, std::uint32_t count, MismatchLog& log) {
        thread_local SweepChunk chunk;
        thread_local std::vector<std::uint16_t> hardware;
        sweep_against_table<spec::float16>(oracle, first, count, chunk, log);
        if (!have_f16c) return;
        hardware.resize(chunk.inputs.size());
        f16c_float_to_half(chunk.inputs.data(), hardware.data(), chunk.inputs.size());
        // F16C quiets a NaN and keeps its (truncated) payload; lowbit gives the canonical quiet NaN 0x7e00
        // with the sign kept: NaN results compare by class and sign, everything else bit for bit.
        compare_with_reference("F16C VCVTPS2PH, ieee", oracle, chunk.inputs, chunk.ieee, hardware.data(),
                               true, log);
      });
  require_no_mismatch("float16 against the table oracle (both policies) and F16C (ieee)", merged);
}

}  // namespace

TEST_CASE("fp32 rounds into float16 like the exact value table and F16C on a sample of the inputs",
          "[formats]") {
  sweep_float16(sample_sweep_chunks(table_oracle("float16").edge_values()));
}

TEST_CASE("every one of the 2^32 fp32 inputs rounds into float16 like the exact value table and F16C",
          "[formats][slow]") {
  sweep_float16(all_sweep_chunks());
}
