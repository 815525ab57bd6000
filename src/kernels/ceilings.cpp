#include "kernels/ceilings.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/ceilings_kernels.h"
#include "kernels/cpu_features.h"

namespace trellis {

namespace ceiling_kernels {
namespace {

uint64_t read_sum_scalar(const uint8_t* p, size_t n) {
  const auto* w = reinterpret_cast<const uint64_t*>(p);
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (size_t i = 0; i < n / 8; i += 4) {
    a0 += w[i];
    a1 += w[i + 1];
    a2 += w[i + 2];
    a3 += w[i + 3];
  }
  return a0 + a1 + a2 + a3;
}

// Plain multiply-adds in eight chains; the baseline build may or may not fuse them.
double fp32_chains_scalar(int64_t iters) {
  float acc[8];
  for (int j = 0; j < 8; ++j) acc[j] = 0.001f * static_cast<float>(j);
  for (int64_t i = 0; i < iters; ++i) {
    for (float& a : acc) a = a * 0.999f + 1e-4f;
  }
  double s = 0.0;
  for (float a : acc) s += a;
  return s;
}

double int8_chains_scalar(int64_t iters) {
  int32_t acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  volatile int8_t xv = 3, yv = -2;  // volatile: the product is not folded into a constant
  const int32_t x = xv, y = yv;
  for (int64_t i = 0; i < iters; ++i) {
    for (int32_t& a : acc) a += x * y;
    __asm__ volatile("" : "+m"(acc));  // keeps the loop from being summed in closed form
  }
  double s = 0.0;
  for (int32_t a : acc) s += a;
  return s;
}

}  // namespace

const Set& scalar_set() {
  static const Set s{"scalar", "scalar", "scalar", read_sum_scalar, fp32_chains_scalar, 8 * 2, int8_chains_scalar, 8 * 2};
  return s;
}

}  // namespace ceiling_kernels

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The level the matmul kernels run at (TRELLIS_ISA may lower it), so the ceiling is the one
// those kernels could reach.
const ceiling_kernels::Set& kernel_set() {
  switch (active_isa()) {
    case Isa::Avx512: return ceiling_kernels::avx512_set();
    case Isa::Avx2: return ceiling_kernels::avx2_set();
    case Isa::Scalar: break;
  }
  return ceiling_kernels::scalar_set();
}

// A page-aligned anonymous mapping, unmapped on destruction.
struct Buffer {
  uint8_t* data = nullptr;
  size_t size = 0;
  explicit Buffer(size_t n) : size(n) {
    void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("cannot allocate a ", n >> 20, " MiB buffer for the bandwidth measurement");
    data = static_cast<uint8_t*>(p);
    madvise(p, n, MADV_HUGEPAGE);  // fewer TLB misses, so the loads see DRAM, not page walks
  }
  ~Buffer() { munmap(data, size); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

// Work is handed out in many chunks through the pool, as the kernels' work is: a thread that
// is descheduled (a shared machine) leaves its share to the others instead of stalling the
// pass, and the rate is what the pool can actually get out of the cores.
constexpr int kChunksPerThread = 8;
constexpr size_t kReadChunk = size_t(2) << 20;

double timed_parallel(ThreadPool& pool, int64_t n_chunks, const std::function<void(int64_t)>& fn) {
  const auto t0 = Clock::now();
  pool.parallel_for(n_chunks, [&](int64_t c, int) { fn(c); });
  return seconds_since(t0);
}

// Iterations of kernel that take about `seconds` on one thread. Calibrated on the calling
// thread alone: timing through the pool would count worker wake-up latency, which on a
// loaded machine can exceed a short run and leave every pass too short to mean anything.
int64_t calibrate_iters(double (*kernel)(int64_t), double seconds, std::atomic<double>& sink) {
  int64_t iters = 1 << 12;
  for (;;) {
    const auto t0 = Clock::now();
    sink.store(kernel(iters), std::memory_order_relaxed);
    const double t = seconds_since(t0);
    if (t >= 0.01 || iters >= (int64_t(1) << 40)) {
      return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(iters) * seconds / std::max(t, 1e-9)));
    }
    iters *= 4;
  }
}

// Runs about pool.size() x iters iterations of kernel in chunks over the pool; returns the
// best rate (ops/s) over `passes` passes of about `pass_seconds`.
double best_compute_rate(ThreadPool& pool, double (*kernel)(int64_t), int64_t ops_per_iter, double pass_seconds,
                         int passes) {
  std::atomic<double> sink{0.0};
  const int64_t per_chunk = std::max<int64_t>(1, calibrate_iters(kernel, pass_seconds, sink) / kChunksPerThread);
  const int64_t n_chunks = static_cast<int64_t>(pool.size()) * kChunksPerThread;
  double best = 1e30;
  for (int p = 0; p < std::max(1, passes); ++p) {
    best = std::min(best, timed_parallel(pool, n_chunks, [&](int64_t) {
      sink.store(kernel(per_chunk), std::memory_order_relaxed);
    }));
  }
  return static_cast<double>(per_chunk * n_chunks) * static_cast<double>(ops_per_iter) / best;
}

size_t default_read_bytes(size_t llc) {
  const size_t mib = size_t(1) << 20;
  size_t bytes = std::clamp<size_t>(8 * (llc ? llc : 32 * mib), 256 * mib, 1024 * mib);
  // Never ask for more than a quarter of what is free: the measurement must not swap.
  if (const size_t avail = mem_available_bytes(); avail > 0) bytes = std::min(bytes, avail / 4);
  return std::max<size_t>(bytes, 16 * mib);
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// "32768K" / "32M" as written in /sys/.../cache/indexN/size.
size_t parse_cache_size(const std::string& s) {
  if (s.empty()) return 0;
  size_t v = std::strtoull(s.c_str(), nullptr, 10);
  if (s.back() == 'K') v <<= 10;
  if (s.back() == 'M') v <<= 20;
  return v;
}

// sysfs first: under some hypervisors glibc's CPUID-based _SC_LEVEL3_CACHE_SIZE is off by 10x.
size_t last_level_cache_bytes() {
  size_t best = 0;
  for (int i = 0; i < 8; ++i) {
    best = std::max(best, parse_cache_size(read_first_line("/sys/devices/system/cpu/cpu0/cache/index" +
                                                           std::to_string(i) + "/size")));
  }
  if (best == 0) {
    if (long v = sysconf(_SC_LEVEL3_CACHE_SIZE); v > 0) best = static_cast<size_t>(v);
  }
  return best;
}

}  // namespace

const char* ceiling_isa() { return kernel_set().fp32_isa; }

size_t default_read_buffer_bytes() { return default_read_bytes(last_level_cache_bytes()); }

double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes) {
  bytes = bytes / kReadChunk * kReadChunk;
  if (bytes == 0) fail("bandwidth buffer too small");
  Buffer buf(bytes);
  const auto blocks = static_cast<int64_t>(bytes / kReadChunk);
  timed_parallel(pool, blocks, [&](int64_t c) {  // fault every page in before timing
    std::memset(buf.data + static_cast<size_t>(c) * kReadChunk, static_cast<int>(c), kReadChunk);
  });
  const auto sum = kernel_set().read_sum;
  // Each pass sweeps at least 1 GiB so that waking the workers is small next to it. Every
  // sweep is its own dispatch, so at any moment the threads read disjoint parts of the
  // buffer, as a decode step's threads do. (One dispatch over all sweeps gave each thread
  // whole sweeps, all starting at the buffer's first byte: two threads then read the same
  // lines at nearly the same time, one thread's misses fed the other, and the "bandwidth"
  // came out ~1.7x what disjoint reads get on the 2-vCPU development machine.)
  const int64_t sweeps = std::max<int64_t>(1, static_cast<int64_t>((size_t(1) << 30) / bytes));
  std::atomic<uint64_t> sink{0};
  double best = 1e30;
  for (int p = 0; p < std::max(1, passes); ++p) {
    const auto t0 = Clock::now();
    for (int64_t s = 0; s < sweeps; ++s) {
      pool.parallel_for(blocks, [&](int64_t c, int) {
        sink.fetch_add(sum(buf.data + static_cast<size_t>(c) * kReadChunk, kReadChunk), std::memory_order_relaxed);
      });
    }
    best = std::min(best, seconds_since(t0));
  }
  return static_cast<double>(bytes) * static_cast<double>(sweeps) / best / 1e9;
}

double measure_fp32_peak(ThreadPool& pool, double pass_seconds, int passes) {
  const auto& k = kernel_set();
  return best_compute_rate(pool, k.fp32_chains, k.fp32_flops_per_iter, pass_seconds, passes) / 1e9;
}

double measure_int8_peak(ThreadPool& pool, double pass_seconds, int passes) {
  const auto& k = kernel_set();
  return best_compute_rate(pool, k.int8_chains, k.int8_ops_per_iter, pass_seconds, passes) / 1e9;
}

Ceilings measure_ceilings(ThreadPool& pool, const CeilingOptions& opt) {
  const auto& k = kernel_set();
  Ceilings c;
  c.threads = pool.size();
  c.read_buffer_bytes = opt.read_buffer_bytes ? opt.read_buffer_bytes : default_read_buffer_bytes();
  c.read_gbps = measure_read_bandwidth(pool, c.read_buffer_bytes, opt.read_passes);
  c.fp32_gflops = measure_fp32_peak(pool, opt.compute_pass_seconds, opt.compute_passes);
  c.int8_gops = measure_int8_peak(pool, opt.compute_pass_seconds, opt.compute_passes);
  c.read_isa = k.read_isa;
  c.fp32_isa = k.fp32_isa;
  c.int8_isa = k.int8_isa;
  return c;
}

CpuInfo cpu_info() {
  CpuInfo info;
  std::ifstream in("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    key.erase(key.find_last_not_of(" \t") + 1);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name" && info.model.empty()) info.model = value;
    if (key == "flags" && flags.empty()) flags = " " + value + " ";
  }
  if (info.model.empty()) info.model = "unknown";
  // The features the kernels and the ceilings depend on, in /proc/cpuinfo spelling.
  for (const char* f : {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq",
                        "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8", "amx_bf16"}) {
    if (flags.find(std::string(" ") + f + " ") != std::string::npos) info.simd_flags.emplace_back(f);
  }
  info.llc_bytes = last_level_cache_bytes();
  return info;
}

std::string join_flags(const std::vector<std::string>& flags) {
  std::string s;
  for (const auto& f : flags) s += (s.empty() ? "" : " ") + f;
  return s;
}

size_t mem_available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  size_t kib = 0;
  std::string unit;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

}  // namespace trellis
