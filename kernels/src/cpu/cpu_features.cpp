// Run-time CPU feature checks for the kernels written with raw AVX-512 intrinsics (Highway 1.0.3 has no
// bf16 or int8 dot products). GCC's __builtin_cpu_supports reads cpuid once at start-up.
#include "cpu/problem.hpp"

namespace lowbit::kernels::cpu {

bool cpu_has_avx512_bf16() {
  static const bool yes = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return yes;
}

bool cpu_has_avx512_vnni() {
  static const bool yes = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
  return yes;
}

}  // namespace lowbit::kernels::cpu
