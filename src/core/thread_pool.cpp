#include "core/thread_pool.h"

#include <sched.h>

#include <chrono>
#include <stdexcept>

namespace trellis {

namespace {
inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}
inline uint32_t generation_of(uint64_t claim) { return static_cast<uint32_t>(claim >> 32); }
// Chunk index of a closed generation: above any chunk count parallel_for accepts.
constexpr uint64_t kNoChunk = 0xffffffffu;
}  // namespace

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(n_threads < 1 ? 1 : n_threads), shares_(std::make_unique<Share[]>(static_cast<size_t>(n_threads_))) {
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
  int64_t done_here = 0;
  for (int k = 0; k < n_threads_; ++k) {
    Share& share = shares_[static_cast<size_t>((thread_index + k) % n_threads_)];
    for (;;) {
      uint64_t c = share.claim.load(std::memory_order_acquire);
      if (generation_of(c) != generation) goto finished;  // the job is over
      const auto chunk = static_cast<int64_t>(c & 0xffffffffu);
      if (chunk >= share.end.load(std::memory_order_relaxed)) break;  // share exhausted: the next one
      if (!share.claim.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
      // The job cannot end (and job_ cannot change) while this claimed chunk is not counted.
      try {
        (*job_)(chunk, thread_index);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
      ++done_here;
    }
  }
finished:
  if (done_here > 0) done_.fetch_add(done_here, std::memory_order_acq_rel);
}

void ThreadPool::wait_for_job(uint32_t seen) {
  const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(2000);
  for (int polls = 1;; ++polls) {
    if (stop_.load(std::memory_order_relaxed) || generation_.load(std::memory_order_acquire) != seen) return;
    if (polls % 256 == 0 && std::chrono::steady_clock::now() > spin_until) break;
    cpu_relax();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait(lock, [&] { return stop_.load() || generation_.load(std::memory_order_acquire) != seen; });
}

void ThreadPool::worker_loop(int thread_index) {
  uint32_t seen = 0;
  for (;;) {
    wait_for_job(seen);
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    work(seen, thread_index);
  }
}

void ThreadPool::parallel_for(int64_t n_chunks, const std::function<void(int64_t, int)>& fn) {
  if (n_chunks <= 0) return;
  if (n_chunks >= static_cast<int64_t>(kNoChunk)) throw std::length_error("parallel_for: too many chunks");
  if (workers_.empty() || n_chunks == 1) {
    for (int64_t c = 0; c < n_chunks; ++c) fn(c, 0);
    return;
  }
  // Close every share under the new generation first: a worker that read a claim word of the
  // previous job but was descheduled before its compare-exchange must not claim a chunk of
  // this job under the old generation (it would run a chunk twice). A closed share has no
  // claimable chunk; the real claims are published below, before the generation that wakes
  // the workers.
  const uint32_t generation = ++last_generation_;
  for (int t = 0; t < n_threads_; ++t) {
    shares_[static_cast<size_t>(t)].claim.store((static_cast<uint64_t>(generation) << 32) | kNoChunk, std::memory_order_seq_cst);
  }
  job_ = &fn;
  done_.store(0, std::memory_order_seq_cst);
  error_ = nullptr;
  for (int t = 0; t < n_threads_; ++t) {
    Share& share = shares_[static_cast<size_t>(t)];
    share.end.store(n_chunks * (t + 1) / n_threads_, std::memory_order_relaxed);
    share.claim.store((static_cast<uint64_t>(generation) << 32) | static_cast<uint64_t>(n_chunks * t / n_threads_),
                      std::memory_order_release);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.store(generation, std::memory_order_seq_cst);
  }
  wake_.notify_all();
  work(generation, 0);
  while (done_.load(std::memory_order_acquire) < n_chunks) cpu_relax();
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

}  // namespace trellis
