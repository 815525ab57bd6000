// Interleaved copies of a model's weight matrices for decode (kernels/interleave.h), built at
// load time in one anonymous mapping with transparent huge pages asked for (a decode token
// walks every weight; 4 KiB pages of the file map cost a TLB miss every 4 KiB).
//
// Building the copies releases the mapped file pages of each source matrix as the copy
// advances, so resident memory stays about the file's size instead of doubling; the file
// views stay valid (a reader that touches them again only faults the pages back in).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "kernels/cpu_features.h"

namespace trellis {

struct TensorView;

class InterleavedWeights {
 public:
  // Interleaves every tensor of `tensors` that interleave_preferred(type, isa) and points its
  // `interleaved` at the copy; tensors that share data (tied embeddings) share one copy.
  // Throws Error when the memory cannot be mapped.
  InterleavedWeights(std::span<TensorView* const> tensors, Isa isa);
  ~InterleavedWeights();
  InterleavedWeights(const InterleavedWeights&) = delete;
  InterleavedWeights& operator=(const InterleavedWeights&) = delete;

  size_t bytes() const { return bytes_; }

 private:
  uint8_t* base_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace trellis
