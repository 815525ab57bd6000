#include "core/thread_pool.h"

#include <sched.h>

#include <chrono>

namespace trellis {

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
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(int thread_index) {
  const auto& fn = *job_;
  for (;;) {
    const int64_t chunk = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (chunk >= n_chunks_) break;
    fn(chunk, thread_index);
  }
}

void ThreadPool::worker_loop(int thread_index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin for a short while, then sleep on the condition variable.
    auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(2000);
    int polls = 0;
    while (generation_.load(std::memory_order_acquire) == seen) {
      if (++polls % 256 == 0 && std::chrono::steady_clock::now() > spin_until) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        break;
      }
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    work(thread_index);
    busy_workers_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallel_for(int64_t n_chunks, const std::function<void(int64_t, int)>& fn) {
  if (n_chunks <= 0) return;
  if (workers_.empty() || n_chunks == 1) {
    for (int64_t c = 0; c < n_chunks; ++c) fn(c, 0);
    return;
  }
  job_ = &fn;
  n_chunks_ = n_chunks;
  next_chunk_.store(0, std::memory_order_relaxed);
  busy_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  work(0);
  while (busy_workers_.load(std::memory_order_acquire) != 0) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  job_ = nullptr;
}

void ThreadPool::run_on_all(const std::function<void(int)>& fn) {
  // Each thread takes exactly one chunk because the chunks are only handed out once a thread
  // has finished the previous one; to guarantee one per thread we key on thread_index instead.
  std::vector<std::atomic<bool>> done(n_threads_);
  for (auto& d : done) d.store(false);
  std::atomic<int> remaining{n_threads_};
  parallel_for(static_cast<int64_t>(n_threads_) * 64, [&](int64_t, int t) {
    if (!done[t].exchange(true)) {
      fn(t);
      remaining.fetch_sub(1);
    }
    // Keep every thread around until all have run once, so no thread takes two turns.
    while (remaining.load() != 0) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
  });
}

}  // namespace trellis
