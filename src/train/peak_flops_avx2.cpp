#include "train/peak_flops_kernel.h"
namespace trellis::peak_detail {
float fma_loop_avx2(int64_t iters, float seed) { return fma_loop<32>(iters, seed); }
}  // namespace trellis::peak_detail
