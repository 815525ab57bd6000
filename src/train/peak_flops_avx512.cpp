#include "train/peak_flops_kernel.h"
namespace trellis::peak_detail {
float fma_loop_avx512(int64_t iters, float seed) { return fma_loop<64>(iters, seed); }
}  // namespace trellis::peak_detail
