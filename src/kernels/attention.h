// Causal attention over the KV cache, streaming over the cached keys and values in blocks
// with an online softmax: memory is O(block), never a T×T score matrix.
//
// The query heads that share one KV head (GQA) are processed together, so each K/V row is
// read once per group, and one work item covers every KV head of its positions (the cache
// rows are read once, sequentially). In a prefill batch consecutive tokens of one sequence
// form query tiles: their row groups together, up to the kernels' row limit (48 rows per KV
// head in the AVX2 tile kernel, 8 in the others), read each cache block once for the tile. Work is split across the pool by token (or tile) and, when a batch
// has too few tokens to keep the threads busy (decode), by ranges of cached positions whose
// partial softmax states are combined afterwards — or, with too few positions for that, by KV
// head. The split depends only on the batch and the positions, never on the thread count, so
// results do not change with -t.
//
// The arithmetic lives in per-ISA files behind attention_kernels.h (scalar, AVX2+FMA+F16C,
// AVX-512), chosen at run time like matmul's (active_isa(), TRELLIS_ISA).
#pragma once
#include <cstdint>
#include <optional>
#include <span>

#include "core/dtype.h"
#include "kernels/cpu_features.h"

namespace trellis {

class ThreadPool;

// Keys/values of one layer: row p of kv head g starts at element p*stride + g*head_stride
// (head_stride 0: head_dim, the heads side by side in one row per position).
struct KVLayerView {
  const void* k = nullptr;
  const void* v = nullptr;
  int64_t stride = 0;  // elements between positions
  DType type = DType::F32;  // F32 or F16
  int64_t head_stride = 0;  // elements between KV heads; 0: head_dim
  int64_t head_offset(int64_t head, int64_t head_dim) const { return head * (head_stride > 0 ? head_stride : head_dim); }
};

struct AttentionShape {
  int64_t n_head = 0;     // query heads
  int64_t n_head_kv = 0;  // KV heads; n_head is a multiple of it
  int64_t head_dim = 0;
  float scale = 1.0f;     // applied to q·k (1/sqrt(head_dim) for these families)
};

// One query token: its heads attend to positions [0, n_pos) of its sequence's cache.
struct AttentionQuery {
  const float* q = nullptr;  // [n_head, head_dim]
  KVLayerView kv;
  int64_t n_pos = 0;
  float* out = nullptr;      // [n_head, head_dim]
};

struct AttentionOptions {
  std::optional<Isa> isa;  // default active_isa(); clamped to what the CPU has
  int64_t split_len = 0;   // positions per work item; 0 chooses from the batch (tests force it)
};

// out = softmax(q·Kᵀ·scale) · V for every head of every query (n_pos ≥ 1; 0 gives zeros).
void attention(std::span<const AttentionQuery> queries, const AttentionShape& shape, ThreadPool& pool,
               const AttentionOptions& opt = {});

// Reference for one query head: full scores in double, then softmax and the weighted sum.
void attention_head_reference(const float* q, const KVLayerView& kv, int64_t kv_head, int64_t head_dim,
                              int64_t n_pos, float scale, float* out);

}  // namespace trellis
