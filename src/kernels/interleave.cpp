#include "kernels/interleave.h"

#include <cstring>

#include "core/quant_blocks.h"
#include "core/tensor.h"
#include "kernels/matmul_kernels.h"

namespace trellis {
namespace {

constexpr int64_t kTileBlocks = 4;
constexpr size_t kScaleBytes = 2 * kInterleaveRows * kTileBlocks;  // 16 F16 scales per tile

// Per format: bytes of a block in the file (scale first) and of its codes, and the byte
// added to each code in the interleaved copy.
struct Format {
  size_t block_bytes, code_bytes;
  uint8_t code_xor;
};
Format format_of(DType type) {
  if (type == DType::Q8_0) return {sizeof(BlockQ8_0), kQK, 0x80};
  return {sizeof(BlockQ4_0), kQK / 2, 0};
}

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
size_t tile_offset(const Format& f, int64_t t) {
  return static_cast<size_t>(t) * (kScaleBytes + kTileBlocks * kInterleaveRows * f.code_bytes);
}
size_t block_in_tile_offset(const Format& f, int64_t j) {
  return kScaleBytes + static_cast<size_t>(j) * kInterleaveRows * f.code_bytes;
}

}  // namespace

bool interleave_supported(DType type) { return type == DType::Q4_0 || type == DType::Q8_0; }

bool interleave_preferred(DType type, Isa isa) {
  if (!interleave_supported(type) || isa > detected_isa()) return false;
  const IsaKernels& k = isa == Isa::Avx512 ? avx512_kernels() : isa == Isa::Avx2 ? avx2_kernels() : scalar_kernels();
  return k.vec_dot_x4[weight_slot(type)] != nullptr;
}

size_t interleaved_group_bytes(DType type, int64_t n) {
  const Format f = format_of(type);
  const int64_t nb = n / kQK, tiles = (nb + kTileBlocks - 1) / kTileBlocks;
  return static_cast<size_t>(tiles) * kScaleBytes + static_cast<size_t>(nb) * kInterleaveRows * f.code_bytes;
}

size_t interleaved_bytes(DType type, int64_t rows, int64_t n) {
  return static_cast<size_t>((rows + kInterleaveRows - 1) / kInterleaveRows) * interleaved_group_bytes(type, n);
}

void interleave_group(DType type, const uint8_t* src, int64_t rows, int64_t n, int64_t g, uint8_t* dst) {
  const Format f = format_of(type);
  const int64_t nb = n / kQK;
  const size_t row_size = static_cast<size_t>(nb) * f.block_bytes;
  std::memset(dst, 0, interleaved_group_bytes(type, n));
  for (int64_t r = 0; r < kInterleaveRows && g * kInterleaveRows + r < rows; ++r) {
    const uint8_t* row = src + static_cast<size_t>(g * kInterleaveRows + r) * row_size;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* block = row + static_cast<size_t>(b) * f.block_bytes;
      uint8_t* tile = dst + tile_offset(f, b / kTileBlocks);
      std::memcpy(tile + 2 * (kTileBlocks * r + b % kTileBlocks), block, 2);
      uint8_t* codes = tile + block_in_tile_offset(f, b % kTileBlocks);
      for (size_t c = 0; c < f.code_bytes; c += 16) copy16(block + 2 + c, codes + code_offset(r, c), f.code_xor);
    }
  }
}

void deinterleave_row(DType type, const uint8_t* interleaved, int64_t n, int64_t r, uint8_t* dst) {
  const Format f = format_of(type);
  const int64_t nb = n / kQK, rg = r % kInterleaveRows;
  const uint8_t* group = interleaved + static_cast<size_t>(r / kInterleaveRows) * interleaved_group_bytes(type, n);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* block = dst + static_cast<size_t>(b) * f.block_bytes;
    const uint8_t* tile = group + tile_offset(f, b / kTileBlocks);
    std::memcpy(block, tile + 2 * (kTileBlocks * rg + b % kTileBlocks), 2);
    const uint8_t* codes = tile + block_in_tile_offset(f, b % kTileBlocks);
    for (size_t c = 0; c < f.code_bytes; c += 16) copy16(codes + code_offset(rg, c), block + 2 + c, f.code_xor);
  }
}

const uint8_t* original_row(const TensorView& w, int64_t r, uint8_t* buf) {
  if (w.interleaved == nullptr) return w.row(r);
  deinterleave_row(w.type, w.interleaved, w.ne[0], r, buf);
  return buf;
}

}  // namespace trellis
