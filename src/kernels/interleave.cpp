#include "kernels/interleave.h"

#include <cstring>
#include <type_traits>

#include "core/quant_blocks.h"
#include "core/tensor.h"
#include "kernels/matmul_kernels.h"

namespace trellis {
namespace {

constexpr int64_t kTileBlocks = 4;
constexpr size_t kScaleBytes = 2 * kInterleaveRows * kTileBlocks;  // 16 F16 scales per tile

// Per format: bytes of a block in the file (the F16 scale first), where its codes start and
// how many there are, the byte XOR-ed into each code in the copy, whether it has an F16
// minimum (Q4_1, Q5_1: right after the scale), and where its 32-bit word of 5th bits is (Q5_0,
// Q5_1; 0: none).
struct Format {
  size_t block_bytes, codes_at, code_bytes;
  uint8_t code_xor;
  bool has_min;
  size_t qh_at;
  bool high_bits() const { return qh_at != 0; }
  // Bytes of one block of the four rows in the copy: codes, then for Q5_0 / Q5_1 the 5th
  // bits as 16-bit masks, elements 0-15 of rows 0..3 and then elements 16-31 of rows 0..3.
  size_t area() const { return kInterleaveRows * (code_bytes + (high_bits() ? 4 : 0)); }
  // A tile's header: the 16 F16 scales, then (Q4_1, Q5_1) the 16 F16 minimums in the same order.
  size_t header() const { return has_min ? 2 * kScaleBytes : kScaleBytes; }
};
Format format_of(DType type) {
  switch (type) {
    case DType::Q8_0: return {sizeof(BlockQ8_0), 2, kQK, 0x80, false, 0};
    case DType::Q5_0: return {sizeof(BlockQ5_0), 6, kQK / 2, 0, false, 2};
    case DType::Q4_1: return {sizeof(BlockQ4_1), 4, kQK / 2, 0, true, 0};
    case DType::Q5_1: return {sizeof(BlockQ5_1), 8, kQK / 2, 0, true, 4};
    default: return {sizeof(BlockQ4_0), 2, kQK / 2, 0, false, 0};
  }
}

// Offsets of the two 16-bit masks of row r inside a Q5_0 block area.
size_t low_mask_offset(int64_t r) { return kInterleaveRows * (kQK / 2) + 2 * static_cast<size_t>(r); }
size_t high_mask_offset(int64_t r) { return low_mask_offset(r) + 2 * kInterleaveRows; }

// Offset of the 16 code bytes from c (a multiple of 16) of row r inside a block's interleaved
// code area.
size_t code_offset(int64_t r, size_t c) { return (c / 16) * 64 + static_cast<size_t>(r) * 16; }

// Copies 16 code bytes, XOR-ing each with `x` (0: a plain copy).
void copy16(const uint8_t* src, uint8_t* dst, uint8_t x) {
  uint64_t w[2];
  std::memcpy(w, src, 16);
  const uint64_t m = 0x0101010101010101ull * x;
  w[0] ^= m;
  w[1] ^= m;
  std::memcpy(dst, w, 16);
}

// Offset of tile t in a group, and of block j of that tile's code areas within the tile.
size_t tile_offset(const Format& f, int64_t t) { return static_cast<size_t>(t) * (f.header() + kTileBlocks * f.area()); }
size_t block_in_tile_offset(const Format& f, int64_t j) { return f.header() + static_cast<size_t>(j) * f.area(); }

// ---- Q4_K / Q5_K: one super-block of the four rows per kQ4KGroupBytes (Q5_K: kQ5KGroupBytes)
// d[4] F16, dmin[4] F16, then the unpacked 6-bit scales and mins as bytes in the order
// [half h][row r][sub-block 4h..4h+3] (16 + 16 bytes each), then per 64-element group g two
// code vectors: row r's qs[32g..32g+16) in lane r, then qs[32g+16..32g+32). Q5_K then has its
// 5th bits: per row pair p and half h of qh, 32 bytes: row 2p's qh[16h..16h+16), then row
// 2p+1's (the lanes of the pair's code vectors; bit 2g / 2g+1 of a byte: group g's low /
// high nibble of the same byte of qs).
constexpr size_t kQ4KScalesAt = 16, kQ4KMinsAt = 48, kQ4KCodesAt = 80;
constexpr size_t kQ4KGroupBytes = kQ4KCodesAt + kInterleaveRows * kQK_K / 2;
constexpr size_t kQ5KHighAt = kQ4KGroupBytes;
constexpr size_t kQ5KGroupBytes = kQ5KHighAt + kInterleaveRows * kQK_K / 8;

size_t q4k_scale_index(int64_t r, int j) { return static_cast<size_t>((j / 4) * 16 + r * 4 + j % 4); }
size_t q4k_code_offset(int64_t r, int g, int half) {
  return kQ4KCodesAt + static_cast<size_t>(g) * 128 + static_cast<size_t>(half) * 64 + static_cast<size_t>(r) * 16;
}
size_t q5k_high_offset(int64_t r, int half) {
  return kQ5KHighAt + static_cast<size_t>(r / 2) * 64 + static_cast<size_t>(half) * 32 + static_cast<size_t>(r % 2) * 16;
}

// Block is BlockQ4_K or BlockQ5_K (the same fields, Q5_K with qh).
template <class Block>
void interleave_kx_block(const Block& b, int64_t r, uint8_t* dst) {
  std::memcpy(dst + 2 * r, &b.d, 2);
  std::memcpy(dst + 8 + 2 * r, &b.dmin, 2);
  for (int j = 0; j < 8; ++j) get_scale_min_k4(j, b.scales, dst + kQ4KScalesAt + q4k_scale_index(r, j),
                                               dst + kQ4KMinsAt + q4k_scale_index(r, j));
  for (int g = 0; g < 4; ++g) {
    for (int half = 0; half < 2; ++half) std::memcpy(dst + q4k_code_offset(r, g, half), b.qs + 32 * g + 16 * half, 16);
  }
  if constexpr (std::is_same_v<Block, BlockQ5_K>) {
    for (int half = 0; half < 2; ++half) std::memcpy(dst + q5k_high_offset(r, half), b.qh + 16 * half, 16);
  }
}

template <class Block>
void deinterleave_kx_block(const uint8_t* src, int64_t r, Block& b) {
  std::memcpy(&b.d, src + 2 * r, 2);
  std::memcpy(&b.dmin, src + 8 + 2 * r, 2);
  std::memset(b.scales, 0, sizeof b.scales);
  for (int j = 0; j < 8; ++j) {
    set_scale_min_k4(j, src[kQ4KScalesAt + q4k_scale_index(r, j)], src[kQ4KMinsAt + q4k_scale_index(r, j)], b.scales);
  }
  for (int g = 0; g < 4; ++g) {
    for (int half = 0; half < 2; ++half) std::memcpy(b.qs + 32 * g + 16 * half, src + q4k_code_offset(r, g, half), 16);
  }
  if constexpr (std::is_same_v<Block, BlockQ5_K>) {
    for (int half = 0; half < 2; ++half) std::memcpy(b.qh + 16 * half, src + q5k_high_offset(r, half), 16);
  }
}

template <class Block>
constexpr size_t kx_group_bytes() { return std::is_same_v<Block, BlockQ5_K> ? kQ5KGroupBytes : kQ4KGroupBytes; }

template <class Block>
void interleave_group_kx(const uint8_t* src, int64_t rows, int64_t n, int64_t g, uint8_t* dst) {
  const int64_t nsb = n / kQK_K;
  constexpr size_t kGroup = kx_group_bytes<Block>();
  std::memset(dst, 0, static_cast<size_t>(nsb) * kGroup);
  for (int64_t r = 0; r < kInterleaveRows && g * kInterleaveRows + r < rows; ++r) {
    const auto* row = reinterpret_cast<const Block*>(src) + (g * kInterleaveRows + r) * nsb;
    for (int64_t i = 0; i < nsb; ++i) {
      Block b;
      std::memcpy(&b, row + i, sizeof b);
      interleave_kx_block(b, r, dst + static_cast<size_t>(i) * kGroup);
    }
  }
}

template <class Block>
void deinterleave_row_kx(const uint8_t* interleaved, int64_t n, int64_t r, uint8_t* dst) {
  const int64_t nsb = n / kQK_K;
  constexpr size_t kGroup = kx_group_bytes<Block>();
  const uint8_t* group = interleaved + static_cast<size_t>(r / kInterleaveRows * nsb) * kGroup;
  for (int64_t i = 0; i < nsb; ++i) {
    Block b;
    deinterleave_kx_block(group + static_cast<size_t>(i) * kGroup, r % kInterleaveRows, b);
    std::memcpy(dst + static_cast<size_t>(i) * sizeof b, &b, sizeof b);
  }
}

// ---- F32 / F16 / BF16: kFloatBlockElems elements of each of the four rows in turn ---------
size_t float_block_bytes(DType type) { return static_cast<size_t>(kFloatBlockElems) * dtype_info(type).block_bytes; }

void interleave_group_float(DType type, const uint8_t* src, int64_t rows, int64_t n, int64_t g, uint8_t* dst) {
  const size_t bb = float_block_bytes(type), row_size = static_cast<size_t>(n) * dtype_info(type).block_bytes;
  const int64_t nb = n / kFloatBlockElems;
  std::memset(dst, 0, interleaved_group_bytes(type, n));
  for (int64_t r = 0; r < kInterleaveRows && g * kInterleaveRows + r < rows; ++r) {
    const uint8_t* row = src + static_cast<size_t>(g * kInterleaveRows + r) * row_size;
    for (int64_t b = 0; b < nb; ++b) std::memcpy(dst + (static_cast<size_t>(b) * kInterleaveRows + static_cast<size_t>(r)) * bb, row + static_cast<size_t>(b) * bb, bb);
  }
}

void deinterleave_row_float(DType type, const uint8_t* interleaved, int64_t n, int64_t r, uint8_t* dst) {
  const size_t bb = float_block_bytes(type);
  const int64_t nb = n / kFloatBlockElems;
  const uint8_t* group = interleaved + static_cast<size_t>(r / kInterleaveRows) * interleaved_group_bytes(type, n);
  for (int64_t b = 0; b < nb; ++b) {
    std::memcpy(dst + static_cast<size_t>(b) * bb, group + (static_cast<size_t>(b) * kInterleaveRows + static_cast<size_t>(r % kInterleaveRows)) * bb, bb);
  }
}

}  // namespace

bool interleave_supported(DType type, int64_t n) {
  if (is_float_type(type)) return n > 0 && n % kFloatBlockElems == 0;
  return type == DType::Q4_0 || type == DType::Q4_1 || type == DType::Q5_0 || type == DType::Q5_1 || type == DType::Q8_0 ||
         type == DType::Q4_K || type == DType::Q5_K;
}

bool interleave_preferred(DType type, int64_t n, Isa isa) {
  if (!interleave_supported(type, n) || isa > detected_isa()) return false;
  const IsaKernels& k = isa_kernels(isa);
  const int slot = weight_slot(type);
  return k.vec_dot_x4[slot] != nullptr || k.vec_dot_x4_run[slot] != nullptr;
}

size_t interleaved_group_bytes(DType type, int64_t n) {
  if (is_float_type(type)) return static_cast<size_t>(kInterleaveRows * n) * dtype_info(type).block_bytes;
  if (type == DType::Q4_K) return static_cast<size_t>(n / kQK_K) * kQ4KGroupBytes;
  if (type == DType::Q5_K) return static_cast<size_t>(n / kQK_K) * kQ5KGroupBytes;
  const Format f = format_of(type);
  const int64_t nb = n / kQK, tiles = (nb + kTileBlocks - 1) / kTileBlocks;
  return static_cast<size_t>(tiles) * f.header() + static_cast<size_t>(nb) * f.area();
}

size_t interleaved_bytes(DType type, int64_t rows, int64_t n) {
  return static_cast<size_t>((rows + kInterleaveRows - 1) / kInterleaveRows) * interleaved_group_bytes(type, n);
}

void interleave_group(DType type, const uint8_t* src, int64_t rows, int64_t n, int64_t g, uint8_t* dst) {
  if (is_float_type(type)) return interleave_group_float(type, src, rows, n, g, dst);
  if (type == DType::Q4_K) return interleave_group_kx<BlockQ4_K>(src, rows, n, g, dst);
  if (type == DType::Q5_K) return interleave_group_kx<BlockQ5_K>(src, rows, n, g, dst);
  const Format f = format_of(type);
  const int64_t nb = n / kQK;
  const size_t row_size = static_cast<size_t>(nb) * f.block_bytes;
  std::memset(dst, 0, interleaved_group_bytes(type, n));
  for (int64_t r = 0; r < kInterleaveRows && g * kInterleaveRows + r < rows; ++r) {
    const uint8_t* row = src + static_cast<size_t>(g * kInterleaveRows + r) * row_size;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* block = row + static_cast<size_t>(b) * f.block_bytes;
      uint8_t* tile = dst + tile_offset(f, b / kTileBlocks);
      const size_t entry = 2 * static_cast<size_t>(kTileBlocks * r + b % kTileBlocks);
      std::memcpy(tile + entry, block, 2);
      if (f.has_min) std::memcpy(tile + kScaleBytes + entry, block + 2, 2);
      uint8_t* area = tile + block_in_tile_offset(f, b % kTileBlocks);
      for (size_t c = 0; c < f.code_bytes; c += 16) copy16(block + f.codes_at + c, area + code_offset(r, c), f.code_xor);
      if (f.high_bits()) {
        std::memcpy(area + low_mask_offset(r), block + f.qh_at, 2);  // little-endian halves of the word
        std::memcpy(area + high_mask_offset(r), block + f.qh_at + 2, 2);
      }
    }
  }
}

void deinterleave_row(DType type, const uint8_t* interleaved, int64_t n, int64_t r, uint8_t* dst) {
  if (is_float_type(type)) return deinterleave_row_float(type, interleaved, n, r, dst);
  if (type == DType::Q4_K) return deinterleave_row_kx<BlockQ4_K>(interleaved, n, r, dst);
  if (type == DType::Q5_K) return deinterleave_row_kx<BlockQ5_K>(interleaved, n, r, dst);
  const Format f = format_of(type);
  const int64_t nb = n / kQK, rg = r % kInterleaveRows;
  const uint8_t* group = interleaved + static_cast<size_t>(r / kInterleaveRows) * interleaved_group_bytes(type, n);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* block = dst + static_cast<size_t>(b) * f.block_bytes;
    const uint8_t* tile = group + tile_offset(f, b / kTileBlocks);
    const size_t entry = 2 * static_cast<size_t>(kTileBlocks * rg + b % kTileBlocks);
    std::memcpy(block, tile + entry, 2);
    if (f.has_min) std::memcpy(block + 2, tile + kScaleBytes + entry, 2);
    const uint8_t* area = tile + block_in_tile_offset(f, b % kTileBlocks);
    for (size_t c = 0; c < f.code_bytes; c += 16) copy16(area + code_offset(rg, c), block + f.codes_at + c, f.code_xor);
    if (f.high_bits()) {
      std::memcpy(block + f.qh_at, area + low_mask_offset(rg), 2);
      std::memcpy(block + f.qh_at + 2, area + high_mask_offset(rg), 2);
    }
  }
}

const uint8_t* original_row(const TensorView& w, int64_t r, uint8_t* buf) {
  if (w.interleaved == nullptr) return w.row(r);
  deinterleave_row(w.type, w.interleaved, w.ne[0], r, buf);
  return buf;
}

}  // namespace trellis
