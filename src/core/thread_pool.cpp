#include "core/thread_pool.h"

#include <sched.h>

#include <chrono>

#include "core/error.h"

namespace trellis {

namespace {
inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}
inline uint32_t generation_of(uint64_t claim) { return static_cast<uint32_t>(claim >> 32); }
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
      const uint64_t limit = limit_.load(std::memory_order_acquire);
      if (generation_of(limit) != generation || chunk >= static_cast<int64_t>(limit & 0xffffffffu)) return;
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
  if (n_chunks > 0xffffffff) fail("parallel_for: ", n_chunks, " chunks is more than the pool can count");
  job_ = &fn;
  done_.store(0, std::memory_order_relaxed);
  error_ = nullptr;
  const uint32_t generation = generation_of(claim_.load(std::memory_order_relaxed)) + 1;
  limit_.store(static_cast<uint64_t>(generation) << 32 | static_cast<uint64_t>(n_chunks), std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    claim_.store(static_cast<uint64_t>(generation) << 32, std::memory_order_release);
  }
  wake_.notify_all();
  work(generation, 0);
  while (done_.load(std::memory_order_acquire) != n_chunks) cpu_relax();
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

}  // namespace trellis
