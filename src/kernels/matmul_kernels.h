// Internal interface between matmul.cpp (dispatch, threading, scratch buffers) and the
// per-ISA kernel files matmul_scalar.cpp, matmul_avx2.cpp, matmul_avx512.cpp.
//
// The ISA files hold pure kernels over raw pointers: no std containers, no allocation, no
// calls to inline functions of shared headers. (Inline and template functions are emitted
// once per object file and the linker keeps one copy, which could be the AVX-512 one.) The
// few helpers below that ISA files use are always inlined, so no shared copy is called.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu_features.h"

namespace trellis {

// Weight types with dedicated kernels, in table order.
enum class WSlot : int { F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K, Q6_K, Count };
constexpr int kNumSlots = static_cast<int>(WSlot::Count);

// Slot for a weight type, or -1 when only the generic dequantize-and-dot path handles it.
int weight_slot(DType t);
[[gnu::always_inline]] inline bool slot_is_float(int slot) { return slot <= static_cast<int>(WSlot::BF16); }

// Activations of one token quantized for the integer kernels. Per 32-element block b:
// x ≈ d[b]·qs (qs in [-127, 127]); ds[b] = d[b]·Σqs over the block and ds16[j] the same
// over the 16-element half j. The sums serve weight formats with an offset or a min:
// Σ w·x = Σ dw·d·Σ(q·a) + cw·ds, where w = dw·q + cw with q the unsigned weight code.
struct QuantRow {
  const int8_t* qs = nullptr;
  const float* d = nullptr;
  const float* ds = nullptr;
  const float* ds16 = nullptr;
};

// One token's activations for a dot kernel: `f` for F32/F16/BF16 weights, `q` otherwise.
struct ActRow {
  const float* f = nullptr;
  QuantRow q;
};

// Bytes of the QuantRow arrays for n elements (n a multiple of 32), laid out qs|d|ds|ds16.
[[gnu::always_inline]] inline size_t quant_row_bytes(int64_t n) {
  return static_cast<size_t>(n) + static_cast<size_t>(n / 32) * 8 + static_cast<size_t>(n / 16) * 4;
}
[[gnu::always_inline]] inline QuantRow quant_row_at(uint8_t* base, int64_t n) {
  QuantRow r;
  r.qs = reinterpret_cast<const int8_t*>(base);
  r.d = reinterpret_cast<const float*>(base + n);
  r.ds = r.d + n / 32;
  r.ds16 = r.ds + n / 32;
  return r;
}

// Quantizes n floats (a multiple of 32) into the arrays of a QuantRow (writable views).
// Every ISA produces bit-identical output: d = amax/127, q = round-half-even(x / d).
using QuantizeActsFn = void (*)(const float* x, int64_t n, int8_t* qs, float* d, float* ds, float* ds16);

// Σ_i w_i·x_i over one weight row of n elements.
using VecDotFn = float (*)(const void* w_row, const ActRow& a, int64_t n);

// Decode over up to kDotRows consecutive rows (w, w + stride, ...): y[r] = Σ w_r·x for
// r < n_rows (1 ≤ n_rows ≤ kDotRows). Optional per ISA and type; the driver otherwise calls
// vec_dot once per row. Same quantized activations as vec_dot, so only float rounding differs.
constexpr int kDotRows = 4;
// Rows of at most this many bytes go to vec_dot_rows as consecutive rows (stride = row size);
// longer rows as kDotRows distant rows, one from each of kDotRows runs of a chunk, so that each
// run is read as a sequential stream (see matmul.cpp). Kernels may rely on it for prefetching.
constexpr size_t kDotRowsContiguousMaxStride = 2048;
using VecDotRowsFn = void (*)(const uint8_t* w, size_t stride, int n_rows, const ActRow& a, int64_t n, float* y);

// Decode over one group of the interleaved layout (kernels/interleave.h): y[r] = Σ w_r·x for
// the group's rows r < n_rows (1 ≤ n_rows ≤ kDotRows). Optional per ISA and type; an ISA
// decodes the layout of a type when it has this or the run form below.
using VecDotX4Fn = void (*)(const uint8_t* group, int n_rows, const ActRow& a, int64_t n, float* y);
// The same over consecutive groups (group_bytes apart) covering n_rows rows: y[r] for r <
// n_rows. Optional: one call per chunk instead of one per group saves the per-call set-up,
// which short rows (576 columns: 18 blocks) feel.
using VecDotX4RunFn = void (*)(const uint8_t* groups, size_t group_bytes, int64_t n_rows, const ActRow& a, int64_t n,
                               float* y);

// Tiled prefill product, optional per ISA and type. The driver packs each token once
// (pack_acts, act_bytes(n) bytes per token) and each block of block_rows weight rows once
// per call into a buffer of block_rows·w_bytes(n) bytes (pack_w_row writes every byte of
// row `row` of the block, in a layout of the kernel's own; the driver zeroes the buffer when
// the block has fewer rows), then calls tile on the block and the tokens in cache-sized runs:
// y[t·ldy + r] = Σ w_r·x_t for r < n_rows ≤ block_rows, t < n_tok.
constexpr int kGemmTileRows = 16;  // block_rows unless a kernel sets another
struct GemmKernels {
  size_t (*act_bytes)(int64_t n) = nullptr;
  void (*pack_acts)(const float* x, int64_t n, uint8_t* dst) = nullptr;
  // pack_acts copies the row and zero-pads it to act_bytes(n): where that is n floats, the
  // driver reads the rows in place instead.
  bool acts_are_rows = false;
  size_t (*w_bytes)(int64_t n) = nullptr;
  void (*pack_w_row)(const void* w_row, int64_t n, uint8_t* block, int row) = nullptr;
  // Optional: rows [block_rows·i, block_rows·i + nr) of a matrix with an interleaved copy (kernels/interleave.h),
  // straight from the copy's kInterleaveRows-row groups at `groups` (group_bytes apart, only
  // the groups holding the nr rows exist): the block pack_w_row of every row makes (the
  // offsets of absent rows may differ in the sign of zero; the tile kernels read them as 0).
  void (*pack_w_interleaved)(const uint8_t* groups, size_t group_bytes, int64_t nr, int64_t n, uint8_t* block) = nullptr;
  void (*tile)(const uint8_t* w, int64_t n_rows, const uint8_t* acts, int64_t n_tok, int64_t n, float* y,
               int64_t ldy) = nullptr;
  int block_rows = kGemmTileRows;  // a multiple of kInterleaveRows (blocks start on a group)
  bool valid() const { return tile != nullptr; }
};

struct IsaKernels {
  QuantizeActsFn quantize_acts = nullptr;
  VecDotFn vec_dot[kNumSlots] = {};
  VecDotRowsFn vec_dot_rows[kNumSlots] = {};
  VecDotX4Fn vec_dot_x4[kNumSlots] = {};
  VecDotX4RunFn vec_dot_x4_run[kNumSlots] = {};
  GemmKernels gemm[kNumSlots] = {};
};

// Each returns a table with every quantize_acts / vec_dot filled; vec_dot_rows, vec_dot_x4,
// vec_dot_x4_run and gemm entries may be empty.
// avx2_kernels / avx512_kernels must only be called when the CPU has that ISA.
const IsaKernels& scalar_kernels();
const IsaKernels& avx2_kernels();
const IsaKernels& avx512_kernels();
// The table of `isa` (which the CPU must have).
const IsaKernels& isa_kernels(Isa isa);

}  // namespace trellis
