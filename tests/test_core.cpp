#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>
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

// A worker descheduled between reading a claim of one job and claiming it must not claim a
// chunk of the next, larger job under the old generation: that chunk ran twice and was
// counted twice, and the caller then waited forever for a done count it had passed. Jobs of
// 7 and 2 chunks alternate on more threads than cores; the jobs run on a helper thread so a
// hang shows as a failure instead of stopping the test binary.
TEST(ThreadPool, NoChunkOfTheNextJobUnderTheOldGeneration) {
  struct Shared {
    ThreadPool pool{4};
    std::atomic<int64_t> jobs{0}, bad{0};
    std::atomic<bool> finished{false};
  };
  auto* sh = new Shared;  // leaked if the pool hangs: the helper thread still uses it
  std::thread([sh] {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    for (int64_t it = 0; std::chrono::steady_clock::now() < end; ++it) {
      const int64_t n = it % 2 ? 2 : 7;
      std::atomic<int64_t> runs{0};
      sh->pool.parallel_for(n, [&](int64_t, int) { runs.fetch_add(1); });
      if (runs.load() != n) sh->bad.fetch_add(1);
      sh->jobs.store(it + 1);
    }
    sh->finished = true;
  }).detach();
  int64_t last = -1;
  for (int idle = 0; !sh->finished && idle < 20;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const int64_t j = sh->jobs.load();
    idle = j == last ? idle + 1 : 0;
    last = j;
  }
  ASSERT_TRUE(sh->finished.load()) << "parallel_for hung after " << sh->jobs.load() << " jobs";
  EXPECT_EQ(sh->bad.load(), 0) << "jobs whose chunk count was wrong, of " << sh->jobs.load();
  delete sh;
}
