// The FP32 FMA ceiling of this machine, measured: every thread of the pool runs independent
// fused multiply-add chains in the widest vector unit available (AVX-512, AVX2+FMA, or SSE)
// for a short while. MFU = achieved model FLOP/s ÷ this.
#pragma once

namespace trellis {

class ThreadPool;

// FLOP/s (one FMA = 2 FLOPs) summed over the pool's threads; takes about `seconds`.
double measure_fp32_peak(ThreadPool& pool, double seconds = 0.2);

}  // namespace trellis
