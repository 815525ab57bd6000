// The machine's own limits, measured in place, so a benchmark can say how close it comes:
// streaming read bandwidth, FP32 FMA peak and int8 dot-product peak, each on every thread
// of a pool. A tokens/s figure without its ceiling says little.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace trellis {

class ThreadPool;

struct Ceilings {
  int threads = 0;
  double read_gbps = 0.0;      // streaming read bandwidth, 1e9 bytes/s
  double fp32_gflops = 0.0;    // FP32 multiply-adds (2 FLOPs each), 1e9/s
  double int8_gops = 0.0;      // int8 multiply-adds (2 ops each), 1e9/s
  size_t read_buffer_bytes = 0;
  std::string read_isa, fp32_isa, int8_isa;  // the instructions used for each
};

struct CeilingOptions {
  size_t read_buffer_bytes = 0;  // 0: 8x the last-level cache, within [256 MiB, 1 GiB]
  int read_passes = 5;           // the best pass counts
  double compute_pass_seconds = 0.1;
  int compute_passes = 5;
};

// Measures all three on every thread of `pool` (a second or so).
Ceilings measure_ceilings(ThreadPool& pool, const CeilingOptions& opt = {});

// The threads sum a `bytes` buffer in 2 MiB chunks with the widest loads available, each
// thread its own part of every sweep (never the lines another thread is reading);
// returns the best of `passes` in GB/s.
double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes);
// The buffer measure_ceilings reads: 8x the last-level cache, within [256 MiB, 1 GiB] and
// at most a quarter of the available memory.
size_t default_read_buffer_bytes();
// Independent FMA (or int8 dot) chains held in registers on every thread; best of passes.
double measure_fp32_peak(ThreadPool& pool, double pass_seconds, int passes);
double measure_int8_peak(ThreadPool& pool, double pass_seconds, int passes);

// The instruction set the ceilings use: "avx512", "avx2" or "scalar" — active_isa(), the
// level the matmul kernels run at (kernels/cpu_features.h).
const char* ceiling_isa();

// Facts about the machine for reports.
struct CpuInfo {
  std::string model;                    // /proc/cpuinfo "model name"
  std::vector<std::string> simd_flags;  // the SIMD features that matter here, present ones only
  size_t llc_bytes = 0;                 // last-level cache (0 if unknown)
};
CpuInfo cpu_info();
std::string join_flags(const std::vector<std::string>& flags);  // "avx2 fma f16c ..."

// MemAvailable from /proc/meminfo in bytes (0 if unreadable).
size_t mem_available_bytes();

}  // namespace trellis
