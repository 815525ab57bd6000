// A fixed pool of worker threads, passed explicitly to whoever needs it (never a global).
// parallel_for gives each thread a contiguous share of the chunk indices, each share with its
// own atomic claim counter on its own cache line: a thread claims its chunks without
// contending with the others, then takes what is left of the other shares. The calling thread
// works too and only waits for the chunks, never for a worker to wake up: a worker that wakes
// late (descheduled on a busy machine) finds the job's chunks taken and goes back to waiting.
// Workers spin briefly between jobs (a decode step runs hundreds of small jobs per token)
// and then sleep, so an idle pool costs nothing.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace trellis {

class ThreadPool {
 public:
  // n_threads counts the calling thread: 1 means no workers.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(chunk, thread_index) for every chunk in [0, n_chunks), spread over the pool.
  // Blocks until all chunks are done. Not re-entrant. An exception thrown by fn is rethrown
  // here (the first one; the remaining chunks still run).
  void parallel_for(int64_t n_chunks, const std::function<void(int64_t, int)>& fn);

 private:
  // One thread's share of a job: chunks [next, end) where the claim word holds
  // (generation << 32) | next, so a claim succeeds only for the job it was meant for.
  struct alignas(64) Share {
    std::atomic<uint64_t> claim{0};
    std::atomic<int64_t> end{0};
  };

  void worker_loop(int thread_index);
  // Claims and runs chunks of job `generation`, own share first, until none are left.
  void work(uint32_t generation, int thread_index);
  void wait_for_job(uint32_t seen);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::unique_ptr<Share[]> shares_;
  uint32_t last_generation_ = 0;  // the caller's count of jobs
  alignas(64) std::atomic<uint32_t> generation_{0};
  alignas(64) std::atomic<int64_t> done_{0};
  const std::function<void(int64_t, int)>* job_ = nullptr;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

// Number of hardware threads the process may use (respects the CPU affinity mask).
int available_cores();

}  // namespace trellis
