// The GPU tests' entry point: without a usable CUDA device every test exits with ctest's skip code (77)
// and says why, so CI (no GPU) reports them as skipped, not passed. Listing tests needs no GPU.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <string_view>

#include "lowbit/kernels/cuda.hpp"

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) listing = listing || std::string_view(argv[i]).starts_with("--list");
  std::string why;
  if (!listing && !lowbit::kernels::cuda::device_available(&why)) {
    std::printf("skipped: %s (the gpu-labelled tests need an NVIDIA GPU)\n", why.c_str());
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
