#include "tokenizer/merge_queue.h"

#include <algorithm>

namespace trellis {

namespace {
constexpr size_t kBucketThreshold = 2048;
}

MergeQueue::MergeQueue(size_t n_symbols) : buckets_mode_(n_symbols >= kBucketThreshold) {
  if (!buckets_mode_) {
    std::vector<uint64_t> storage;
    storage.reserve(n_symbols);
    heap_ = Heap(std::greater<uint64_t>{}, std::move(storage));
  }
}

void MergeQueue::push(uint64_t key) {
  if (!buckets_mode_) {
    heap_.push(key);
    return;
  }
  const uint32_t priority = static_cast<uint32_t>(key >> 32);
  if (popping_ && priority <= current_) {
    switch_to_heap();
    heap_.push(key);
    return;
  }
  auto [it, created] = buckets_.try_emplace(priority);
  if (created) priorities_.push(priority);
  it->second.push_back(static_cast<uint32_t>(key));
}

bool MergeQueue::pop(uint64_t* key) {
  if (!buckets_mode_) {
    if (heap_.empty()) return false;
    *key = heap_.top();
    heap_.pop();
    return true;
  }
  if (cursor_ == run_.size() && !next_bucket()) return false;
  *key = (uint64_t(current_) << 32) | run_[cursor_++];
  return true;
}

bool MergeQueue::next_bucket() {
  if (priorities_.empty()) return false;
  current_ = priorities_.top();
  priorities_.pop();
  auto node = buckets_.extract(current_);
  run_ = std::move(node.mapped());
  if (!std::is_sorted(run_.begin(), run_.end())) std::sort(run_.begin(), run_.end());
  cursor_ = 0;
  popping_ = true;
  return true;
}

void MergeQueue::switch_to_heap() {
  std::vector<uint64_t> all;
  for (size_t i = cursor_; i < run_.size(); ++i) all.push_back((uint64_t(current_) << 32) | run_[i]);
  for (const auto& [priority, lefts] : buckets_) {
    for (uint32_t left : lefts) all.push_back((uint64_t(priority) << 32) | left);
  }
  buckets_.clear();
  run_.clear();
  cursor_ = 0;
  heap_ = Heap(std::greater<uint64_t>{}, std::move(all));
  buckets_mode_ = false;
}

}  // namespace trellis
