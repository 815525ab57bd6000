// A non-owning view of a weight tensor (usually inside a memory-mapped file).
// Shapes follow the GGUF convention: ne[0] is the row length (innermost, contiguous),
// ne[1] the number of rows. A [out, in] linear weight has ne = {in, out}.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace trellis {

struct TensorView {
  std::string name;
  DType type = DType::F32;
  std::array<int64_t, 4> ne{1, 1, 1, 1};
  int n_dims = 0;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  // A copy in the decode kernels' interleaved layout (kernels/interleave.h), owned by the
  // model, or null. `data` stays valid either way.
  const uint8_t* interleaved = nullptr;

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  int64_t cols() const { return ne[0]; }
  size_t row_stride() const { return row_bytes(type, ne[0]); }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_stride(); }
  bool valid() const { return data != nullptr; }
  std::string shape_string() const;
};

}  // namespace trellis
