// The CPU's own fp32 -> fp16 conversion (F16C VCVTPS2PH), an independent oracle for float16 under
// Policy::ieee. Only valid where f16c_available() says the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit::test {

bool f16c_available();

// Rounds each of `count` floats to fp16 with round-to-nearest-even given in the instruction (so the
// MXCSR rounding mode does not matter). NaNs keep their payload (quieted, truncated), unlike lowbit.
void f16c_float_to_half(const float* in, std::uint16_t* out, std::size_t count);

}  // namespace lowbit::test
