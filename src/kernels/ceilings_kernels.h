// Inner loops of the ceiling measurements, one set per instruction set (ceilings.cpp,
// ceilings_avx2.cpp, ceilings_avx512.cpp). Reached only through ceilings.cpp, which picks
// the set the CPU supports at run time.
#pragma once
#include <cstddef>
#include <cstdint>

namespace trellis::ceiling_kernels {

struct Set {
  const char* read_isa;
  const char* fp32_isa;
  const char* int8_isa;
  // Sums n bytes at p (64-byte aligned, n a multiple of 256); the result keeps the loads alive.
  uint64_t (*read_sum)(const uint8_t* p, size_t n);
  // Runs `iters` iterations of independent chains; returns a checksum so nothing is dropped.
  double (*fp32_chains)(int64_t iters);
  int64_t fp32_flops_per_iter;
  double (*int8_chains)(int64_t iters);
  int64_t int8_ops_per_iter;
};

const Set& scalar_set();
const Set& avx2_set();
const Set& avx512_set();

}  // namespace trellis::ceiling_kernels
