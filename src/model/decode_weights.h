// Copies of a model's weight matrices for decode, built at load time in one anonymous mapping
// with transparent huge pages asked for: a decode token walks every weight, and 4 KiB pages of
// the file map cost a TLB miss every 4 KiB (and leave the stream at the page cache's placement).
//
// A matrix the active instruction set decodes faster interleaved (by its type and row length:
// kernels/interleave.h, interleave_preferred) gets an interleaved copy (its view's
// `interleaved` points at it, `data` still at the file). Every other matrix gets a plain copy
// of its bytes and its view's `data` points at the copy, so every reader (decode, prefill,
// embedding lookup) uses it.
//
// Building the copies releases the mapped file pages of each source matrix as the copy
// advances, so resident memory stays about the file's size instead of doubling; the file
// mapping stays valid (a reader that touches it again only faults the pages back in).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/cpu_features.h"

namespace trellis {

struct TensorView;

class DecodeWeights {
 public:
  // Copies every valid tensor of `tensors` as above and repoints its view; tensors that share
  // data (tied embeddings) share one copy. The views must point into read-only file mappings
  // (GGUF, safetensors): their pages are dropped with MADV_DONTNEED, which would zero anonymous
  // memory. Throws Error when the memory cannot be mapped.
  DecodeWeights(std::span<TensorView* const> tensors, Isa isa);
  ~DecodeWeights();
  DecodeWeights(const DecodeWeights&) = delete;
  DecodeWeights& operator=(const DecodeWeights&) = delete;

  size_t bytes() const { return bytes_; }                          // the whole mapping
  size_t interleaved_bytes() const { return interleaved_bytes_; }  // of it, interleaved copies

 private:
  uint8_t* base_ = nullptr;
  size_t bytes_ = 0;
  size_t interleaved_bytes_ = 0;
};

}  // namespace trellis
