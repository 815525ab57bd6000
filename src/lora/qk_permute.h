// The Q/K row permutation between Hugging Face checkpoints (rotate-half RoPE: a head's
// dimension i pairs with i + d/2) and llama-architecture GGUF files (interleaved RoPE: 2i pairs
// with 2i+1). llama.cpp's converter reorders the output rows of q_proj / k_proj within each
// head; a LoRA B matrix (whose rows are those output rows) needs exactly the same reordering.
#pragma once
#include <cstdint>

#include "model/arch.h"

namespace trellis {

// Within head h (of size head_dim): interleaved row h*d + 2i + j holds rotate-half row
// h*d + j*d/2 + i (j in {0, 1}, i < d/2). Returns the source row for destination `row`.
int64_t qk_source_row(int64_t row, int64_t head_dim, RopeStyle from, RopeStyle to);

// Reorders the rows (each `row_len` floats) of a matrix with n_heads*head_dim rows from the
// `from` layout to the `to` layout, in place. No-op when from == to.
void permute_qk_rows(float* rows, int64_t n_heads, int64_t head_dim, int64_t row_len, RopeStyle from, RopeStyle to);

}  // namespace trellis
