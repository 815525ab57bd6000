// A fixed pool of worker threads, passed explicitly to whoever needs it (never a global).
// parallel_for hands out chunk indices from an atomic counter; the calling thread works too.
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
  // Blocks until all chunks are done. Not re-entrant.
  void parallel_for(int64_t n_chunks, const std::function<void(int64_t, int)>& fn);

  // Runs fn(thread_index) exactly once on each thread of the pool.
  void run_on_all(const std::function<void(int)>& fn);

 private:
  void worker_loop(int thread_index);
  void work(int thread_index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int)>* job_ = nullptr;
  int64_t n_chunks_ = 0;
  std::atomic<int64_t> next_chunk_{0};
  std::atomic<int> busy_workers_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

// Number of hardware threads the process may use (respects the CPU affinity mask).
int available_cores();

}  // namespace trellis
