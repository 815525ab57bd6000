// Internal interface between attention.cpp (work split, threading, combine) and the per-ISA
// kernel files attention_scalar.cpp, attention_avx2.cpp, attention_avx512.cpp.
//
// As for matmul_kernels.h: the ISA files hold pure kernels over raw pointers — no std
// containers, no allocation, no inline or template functions of shared headers (the linker
// keeps one copy of those, which could be the AVX-512 one).
#pragma once
#include <cstdint>

namespace trellis {

// Positions per softmax block, and the most query rows one work item carries (the query
// heads of one token that share a KV head; larger groups are cut into tiles).
constexpr int64_t kAttnBlock = 64;
constexpr int64_t kAttnMaxRows = 8;

// Floats of per-thread scratch a work item needs: the block's keys converted to F32 (F16
// cache), the block's scores (per row, with room for one vector past the end), and one
// correction factor per row.
inline int64_t attn_scratch_floats(int64_t head_dim) {
  return kAttnBlock * head_dim + kAttnMaxRows * (kAttnBlock + 16) + 16;
}

// Floats of a state's prepared query (AttnJob::q_prep): up to 8 rows × head_dim rounded up
// to even, in whatever layout the kernel's score loop wants.
inline int64_t attn_q_prep_floats(int64_t head_dim) { return kAttnMaxRows * (head_dim + 1) + 16; }

// One kernel call: n_rows query rows against positions [p0, p1) of one KV head. It updates
// the online-softmax state, per row r, over the positions seen so far (these, and those of
// earlier calls on the same state unless `init`):
//   m[r] = max_p s_rp,  l[r] = Σ_p e^(s_rp − m[r]),  acc[r] = Σ_p e^(s_rp − m[r])·v_p
// with s_rp = scale·q_r·k_p; when `finalize`, acc[r] is then divided by l[r] (the output).
struct AttnJob {
  const float* q = nullptr;  // [n_rows, head_dim]
  int64_t n_rows = 0;        // 1..kAttnMaxRows
  const void* k = nullptr;   // position 0 of this KV head; position p at p*stride elements
  const void* v = nullptr;
  int64_t stride = 0;
  bool f16 = false;          // cache rows are F16 (else F32)
  int64_t head_dim = 0;
  int64_t p0 = 0, p1 = 0;    // p0 < p1
  float scale = 1.0f;
  float* acc = nullptr;      // [n_rows, head_dim]
  float* m = nullptr;        // [n_rows]
  float* l = nullptr;        // [n_rows]
  bool init = true;
  bool finalize = false;
  float* scratch = nullptr;  // attn_scratch_floats(head_dim) floats
  // attn_q_prep_floats(head_dim) floats kept with the state: the kernel may store its form of
  // q (and the scale) there when `init` and reuse it on the state's later calls.
  float* q_prep = nullptr;
  // Positions in [p1, prefetch_end) are read by the next calls: the kernel may prefetch them.
  int64_t prefetch_end = 0;
};

using AttnPartialFn = void (*)(const AttnJob& job);

// The most query rows of a prefill tile (AttnTileJob): the row groups of consecutive tokens of
// one sequence that share a KV head, together against each cache block.
constexpr int64_t kAttnTileRows = 48;

// A prefill tile, a whole query range in one call: n_rows query rows of one KV head, row r
// attending to positions [0, n_pos[r]) of the cache, its output written to out[r] (head_dim
// floats, already divided by the softmax sum). Rows that see the same block share its keys and
// values: the kernel may convert each block once for all rows, and keep the rows in vector
// lanes so the softmax needs no horizontal reductions.
struct AttnTileJob {
  const float* const* q = nullptr;  // n_rows rows of head_dim
  const int64_t* n_pos = nullptr;   // n_rows, each ≥ 1
  float* const* out = nullptr;      // n_rows rows of head_dim
  int64_t n_rows = 0;               // 1..kAttnTileRows
  const void* k = nullptr;          // position 0 of this KV head; position p at p*stride elements
  const void* v = nullptr;
  int64_t stride = 0;
  bool f16 = false;
  int64_t head_dim = 0;
  float scale = 1.0f;
  float* scratch = nullptr;         // attn_tile_scratch_floats(head_dim) floats
};

// Scratch of a tile call: q transposed and the output sums ([head_dim][48] each), a block's
// keys and values converted to F32, its scores [kAttnBlock][48], and the per-row m, l,
// correction and n_pos.
inline int64_t attn_tile_scratch_floats(int64_t head_dim) {
  return 2 * head_dim * kAttnTileRows + 2 * kAttnBlock * head_dim + kAttnBlock * kAttnTileRows + 4 * kAttnTileRows + 16;
}

using AttnTileFn = void (*)(const AttnTileJob& job);

// nullptr where the ISA has no tile kernel (prefill then runs row tiles of kAttnMaxRows).
AttnTileFn attn_tile_avx2();

// avx2 / avx512 must only be called when the CPU has that ISA.
AttnPartialFn attn_partial_scalar();
AttnPartialFn attn_partial_avx2();
AttnPartialFn attn_partial_avx512();

}  // namespace trellis
