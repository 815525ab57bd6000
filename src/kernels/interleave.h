// The interleaved weight layout for decode: a copy of a weight matrix in which four
// consecutive rows are stored side by side, so the decode kernel reads one sequential stream
// per four rows and every 64-byte load holds the same block of all four rows, already in
// the vector lanes it is multiplied in (no per-block shuffles, no gathering of scales).
//
// Rows are taken in groups of kInterleaveRows (the last group padded with zero rows). A
// group's blocks are taken in tiles of up to four blocks; a tile is
//   16 F16 scales, entry 4·r + j = scale of block j of row r (zero for missing blocks/rows),
//   (Q4_1, Q5_1: then their 16 F16 minimums, in the same order,)
//   then per block j of the tile, the codes of the four rows:
//     Q4_0, Q4_1: 64 bytes, bytes 16r..16r+15 = row r's packed nibbles (as in the file);
//     Q5_0, Q5_1: the same 64 bytes, then the 5th bits as 16-bit masks: 8 bytes for elements
//           0-15 of rows 0..3, 8 bytes for elements 16-31 (each a vector mask for its nibbles);
//     Q8_0: 128 bytes, bytes 16r..16r+15 = row r's codes 0..15 and 64+16r.. = codes 16..31,
//           each biased by 128 (stored unsigned, as vpdpbusd multiplies unsigned bytes).
// A group of full rows takes exactly the bytes of its four rows in the file when the row's
// block count is a multiple of four (more otherwise: the tail tile's 32 scale bytes, 64 with minimums).
//
// F32, F16 and BF16 rows (n a multiple of kFloatBlockElems) are laid out per 64 elements: the
// 64 elements of row 0, then of rows 1, 2, 3 (exactly the file's bytes of the four rows), so
// the kernel's one activation load feeds four rows read from one stream.
//
// Q4_K is laid out per 256-element super-block instead: the four rows' d and dmin (F16), their
// 6-bit sub-block scales and mins unpacked to bytes (so the kernel converts them with one
// widening load), and the codes of each 64-element group as two vectors whose lane r holds
// 16 bytes of row r. 592 bytes per super-block of four rows, 2.8% more than the file's 576.
// Q5_K: the same, then its 5th bits (qh) in the lanes of the code vectors (per row pair and
// half of qh, 32 bytes): 720 bytes per super-block of four rows, 2.3% more than 704.
//
// The copy is an acceleration structure only: the original rows stay valid and every other
// reader keeps using them; readers that want to leave the original pages untouched (prefill
// packing, embedding lookup) read rows back with deinterleave_row.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu_features.h"

namespace trellis {

struct TensorView;

constexpr int64_t kInterleaveRows = 4;
constexpr int64_t kFloatBlockElems = 64;  // elements of a float row per piece of the layout

// Whether rows of n elements of `type` have an interleaved layout (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K;
// F32, F16, BF16 when n is a multiple of kFloatBlockElems).
bool interleave_supported(DType type, int64_t n);
// Whether decode with `isa` has a kernel for that interleaved layout: only then is
// interleaving worth its copy.
bool interleave_preferred(DType type, int64_t n, Isa isa);

// Bytes of one group of kInterleaveRows rows of n elements, and of a whole matrix.
size_t interleaved_group_bytes(DType type, int64_t n);
size_t interleaved_bytes(DType type, int64_t rows, int64_t n);

// Writes group g (rows 4g .. 4g+3 of the row-major `src`, rows of n elements, `rows` in all)
// into dst (interleaved_group_bytes bytes).
void interleave_group(DType type, const uint8_t* src, int64_t rows, int64_t n, int64_t g, uint8_t* dst);

// Row r of the interleaved matrix at `interleaved`, back in the file's block layout
// (row_bytes(type, n) bytes): byte-identical to the original row.
void deinterleave_row(DType type, const uint8_t* interleaved, int64_t n, int64_t r, uint8_t* dst);

// Row r of w in the file's block layout: from the interleaved copy when w has one (into
// `buf`, row_stride() bytes), else the mapped row itself.
const uint8_t* original_row(const TensorView& w, int64_t r, uint8_t* buf);

}  // namespace trellis
