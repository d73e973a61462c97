// Which CPU kernels gemm() may choose. The default takes the best the CPU has (AMX, then AVX-512 BF16/VNNI,
// then the portable Highway/fp32 paths); tests and benchmarks lower the limit to exercise every path on one
// machine. Process-wide; not meant to be changed while a gemm runs.
#pragma once

namespace lowbit::kernels {

enum class CpuPath {
  best,      // everything the CPU supports
  avx512,    // no AMX: AVX512_BF16 / AVX512_VNNI kernels where available
  portable,  // only the Highway fp32 kernel (inputs widened to fp32) and plain integer loops
};

void set_cpu_path_limit(CpuPath limit);
CpuPath cpu_path_limit();

}  // namespace lowbit::kernels
