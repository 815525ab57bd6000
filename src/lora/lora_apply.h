// The unmerged low-rank update of one forward pass over a batch whose sequences may use
// different adapter sets (or none). The base matmul has already run once for all tokens;
// this adds, per adapter, scale·B(A·x) to the tokens of the sequences that use it. Tokens are
// grouped by adapter when the batch is planned, so each A and B is read once per batch no
// matter how many sequences share it.
#pragma once
#include <cstdint>
#include <vector>

#include "model/model.h"

namespace trellis {

class AdapterSet;
class LoraAdapter;
struct LoraTarget;
class ThreadPool;

class LoraBatch {
 public:
  // Planning: call begin(), then add_sequence() for each sequence in batch order.
  void begin();
  // Tokens [t0, t0 + n) of the batch belong to a sequence using `set` (may be null).
  void add_sequence(const AdapterSet* set, int64_t t0, int64_t n);
  bool active() const { return n_groups_ > 0; }

  // y[T, out] += Σ over adapters of s·B(A·x_t) for the tokens t using them, where
  // x is [T, in] (the projection's input) and y [T, out] its output, T = the batch's tokens.
  void apply(int64_t layer, Projection p, const float* x, float* y, ThreadPool& pool);

 private:
  struct Span {
    int64_t t0, n;
    float scale;  // the set's scale for this adapter
  };
  struct Group {
    const LoraAdapter* adapter = nullptr;
    std::vector<Span> spans;
    int64_t n_tokens = 0;
  };
  struct Active {  // a group that adapts the projection being applied
    const Group* group;
    const LoraTarget* target;
    int64_t u_offset;    // where its [n_tokens, rank] block of A·x starts in u_
    int64_t first_job;   // its first rank row in phase one's job numbering
  };
  void down_project(const float* x, ThreadPool& pool);
  void up_project(float* y, int64_t out, ThreadPool& pool);

  std::vector<Group> groups_;  // reused between batches (only grows)
  size_t n_groups_ = 0;
  std::vector<Active> active_;
  std::vector<float> u_;       // A·x for every active group's tokens
  int64_t n_jobs_ = 0;
};

}  // namespace trellis
