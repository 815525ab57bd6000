// Causal attention for one query head, streaming over the cached keys and values in blocks
// with an online softmax: memory is O(block), never a T×T score matrix.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace trellis {

// Keys/values of one layer: row p of kv head g starts at element p*stride + g*head_dim.
struct KVLayerView {
  const void* k = nullptr;
  const void* v = nullptr;
  int64_t stride = 0;  // elements between positions
  DType type = DType::F32;  // F32 or F16
};

constexpr int64_t kAttentionBlock = 128;

// out[head_dim] = softmax(q·Kᵀ·scale over positions [0, n_pos)) · V for kv head `kv_head`.
void attention_head(const float* q, const KVLayerView& kv, int64_t kv_head, int64_t head_dim, int64_t n_pos,
                    float scale, float* out);

// Reference: full scores in double, then softmax and the weighted sum. For tests.
void attention_head_reference(const float* q, const KVLayerView& kv, int64_t kv_head, int64_t head_dim,
                              int64_t n_pos, float scale, float* out);

}  // namespace trellis
