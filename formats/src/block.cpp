// MX and NVFP4 block formats: see block.hpp (in progress).
