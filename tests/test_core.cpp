#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"

using namespace trellis;

TEST(DType, BlockLayouts) {
  EXPECT_EQ(row_bytes(DType::Q8_0, 64), 68u);
  EXPECT_EQ(row_bytes(DType::Q4_K, 512), 288u);
  EXPECT_EQ(row_bytes(DType::Q6_K, 256), 210u);
  EXPECT_THROW(row_bytes(DType::Q4_K, 896), Error);
  EXPECT_EQ(dtype_from_name("q4_k"), DType::Q4_K);
  EXPECT_THROW(dtype_from_name("Q9_9"), Error);
  EXPECT_EQ(dtype_info_or_null(4), nullptr);  // ids 4 and 5 were removed from GGUF
}

// fp16 round trip checked against the hardware-independent definition: every half value
// converts to float and back to itself; floats round to the nearest half.
TEST(Fp16, RoundTripAllHalves) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(fp32_to_fp16(f), h) << h;
  }
  EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // rounds to inf
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even
}

TEST(Bf16, RoundToNearestEven) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_fp32(0x3f80), 1.0f);
  EXPECT_EQ(fp32_to_bf16(fp32_from_bits(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(fp32_to_bf16(fp32_from_bits(0x3f818000u)), 0x3f82);
}

// A worker that never gets scheduled must not hold up the caller: the caller takes every
// chunk itself when the workers are slow to wake.
TEST(ThreadPool, ManySmallJobsBackToBack) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  for (int rep = 0; rep < 20000; ++rep) pool.parallel_for(3, [&](int64_t c, int) { sum.fetch_add(c); });
  EXPECT_EQ(sum.load(), 20000 * 3);
}

// Jobs alternating between few and many chunks, on more threads than cores (workers get
// descheduled between reading the claim word and claiming): a late worker of one job must
// never claim a chunk of the next one against the next one's chunk count (that ran a chunk
// twice and could leave the caller spinning forever on an overshot done-count).
TEST(ThreadPool, LateWorkerNeverClaimsIntoTheNextJob) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> hits(64);
  for (int rep = 0; rep < 300000; ++rep) {
    const int64_t n = rep % 2 == 0 ? 2 : 64;
    for (int64_t c = 0; c < n; ++c) hits[c].store(0, std::memory_order_relaxed);
    pool.parallel_for(n, [&](int64_t c, int) { hits[c].fetch_add(1); });
    for (int64_t c = 0; c < n; ++c) ASSERT_EQ(hits[c].load(), 1) << "rep " << rep << " chunk " << c;
  }
}

TEST(ThreadPool, EveryChunkOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int rep = 0; rep < 200; ++rep) {
      std::vector<std::atomic<int>> hits(37);
      pool.parallel_for(37, [&](int64_t c, int t) {
        ASSERT_LT(t, threads);
        hits[c].fetch_add(1);
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    }
    // Exceptions from any thread reach the caller.
    EXPECT_THROW(pool.parallel_for(16, [](int64_t c, int) { if (c == 11) throw Error("boom"); }), Error);
  }
}
