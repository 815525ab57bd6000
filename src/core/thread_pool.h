// A fixed pool of worker threads, passed explicitly to whoever needs it (never a global).
// parallel_for hands out chunk indices from an atomic counter; the calling thread works too
// and only waits for the chunks, never for a worker to wake up: a worker that wakes late
// (descheduled on a busy machine) finds the job's chunks taken and goes back to waiting.
// Workers spin briefly between jobs (a decode step runs hundreds of small jobs per token)
// and then sleep, so an idle pool costs nothing.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
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
  void worker_loop(int thread_index);
  // Claims and runs chunks of job `generation` until none are left.
  void work(uint32_t generation, int thread_index);
  void wait_for_job(uint32_t seen);

  int n_threads_;
  std::vector<std::thread> workers_;
  // (generation << 32) | next chunk: a claim succeeds only for the job it was meant for.
  std::atomic<uint64_t> claim_{0};
  // (generation << 32) | chunk count of that job. Tagged like claim_ so that a worker still
  // holding a claim value of the previous job never compares it with the next job's count
  // (it would claim a chunk of the new job under the old generation: run twice, counted twice).
  std::atomic<uint64_t> limit_{0};
  std::atomic<int64_t> done_{0};
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
