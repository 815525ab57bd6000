// The priority queue behind BPE and SPM merging. Keys are (priority << 32) | position and pop
// in ascending order. A binary heap over every pair of a long word is cache-hostile (a 100 KB
// run costs ~30x a 10 KB run), so while pushes only ever have a larger priority than the one
// being popped -- true of trained merge lists, where a merge's result only takes part in later
// merges -- entries live in one sorted bucket per priority, read in sequence. The first push
// that breaks this moves everything into a heap, so the pop order is exact either way.
#pragma once
#include <cstdint>
#include <functional>
#include <queue>
#include <unordered_map>
#include <vector>

namespace trellis {

class MergeQueue {
 public:
  // Short words go straight to the heap: buckets only pay off on long ones.
  explicit MergeQueue(size_t n_symbols);
  void push(uint64_t key);
  bool pop(uint64_t* key);

 private:
  void switch_to_heap();
  bool next_bucket();

  using Heap = std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<uint64_t>>;
  bool buckets_mode_;
  Heap heap_;
  // Bucket mode
  std::unordered_map<uint32_t, std::vector<uint32_t>> buckets_;
  std::priority_queue<uint32_t, std::vector<uint32_t>, std::greater<uint32_t>> priorities_;
  bool popping_ = false;
  uint32_t current_ = 0;
  std::vector<uint32_t> run_;  // the bucket being popped, sorted
  size_t cursor_ = 0;
};

}  // namespace trellis
