#include "core/thread_pool.h"

#include <sched.h>

#include <chrono>

namespace trellis {

namespace {
inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}
inline uint32_t generation_of(uint64_t claim) { return static_cast<uint32_t>(claim >> 32); }
// Chunk index of a finished job's claim word: above any chunk count, so nothing is claimed.
constexpr uint64_t kClosed = 0xffffffffu;
}  // namespace

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(uint32_t generation, int thread_index) {
  for (;;) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    int64_t chunk;
    for (;;) {
      if (generation_of(c) != generation) return;
      chunk = static_cast<int64_t>(c & 0xffffffffu);
      // Acquire: a worker that sees the next job's count also sees this job closed (below).
      if (chunk >= n_chunks_.load(std::memory_order_acquire)) return;
      if (claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) break;
    }
    // The job cannot end (and job_ cannot change) while this claimed chunk is unfinished.
    try {
      (*job_)(chunk, thread_index);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::wait_for_job(uint32_t seen) {
  const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(2000);
  for (int polls = 1;; ++polls) {
    if (stop_.load(std::memory_order_relaxed) || generation_of(claim_.load(std::memory_order_acquire)) != seen) return;
    if (polls % 256 == 0 && std::chrono::steady_clock::now() > spin_until) break;
    cpu_relax();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait(lock, [&] {
    return stop_.load() || generation_of(claim_.load(std::memory_order_acquire)) != seen;
  });
}

void ThreadPool::worker_loop(int thread_index) {
  uint32_t seen = 0;
  for (;;) {
    wait_for_job(seen);
    if (stop_.load()) return;
    seen = generation_of(claim_.load(std::memory_order_acquire));
    work(seen, thread_index);
  }
}

void ThreadPool::parallel_for(int64_t n_chunks, const std::function<void(int64_t, int)>& fn) {
  if (n_chunks <= 0) return;
  if (workers_.empty() || n_chunks == 1) {
    for (int64_t c = 0; c < n_chunks; ++c) fn(c, 0);
    return;
  }
  job_ = &fn;
  n_chunks_.store(n_chunks, std::memory_order_release);
  done_.store(0, std::memory_order_relaxed);
  error_ = nullptr;
  const uint32_t generation = generation_of(claim_.load(std::memory_order_relaxed)) + 1;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    claim_.store(static_cast<uint64_t>(generation) << 32, std::memory_order_release);
  }
  wake_.notify_all();
  work(generation, 0);
  while (done_.load(std::memory_order_acquire) != n_chunks) cpu_relax();
  // Close the job before the next one sets n_chunks_: a worker descheduled after reading this
  // job's claim word (chunk index = n_chunks) would otherwise compare it with the next job's
  // larger n_chunks_ and claim a chunk under this generation — running that chunk twice and
  // pushing done_ past the next n_chunks, where the wait above never ends.
  claim_.store((static_cast<uint64_t>(generation) << 32) | kClosed, std::memory_order_release);
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

}  // namespace trellis
