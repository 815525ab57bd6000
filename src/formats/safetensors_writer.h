// Safetensors writer (F32 / F16 / BF16). The layout matches the reference implementation:
// 8-byte little-endian header length, compact JSON header ("__metadata__" first, then
// tensors in data order) padded with spaces to a multiple of 8, then the tensors packed
// back to back with no holes. Tensors are stored in insertion order, stably grouped by
// element size (largest first) so every tensor's data is aligned to its element size.
// The file is written atomically (core/atomic_file.h).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace trellis {

// A tensor shape in safetensors / PyTorch order (outermost dimension first). Build it with
// one of the named constructors so the order is explicit at every call site.
struct SafetensorsShape {
  std::vector<int64_t> dims;
  // Outermost first, e.g. {out_features, in_features} for a linear weight.
  static SafetensorsShape row_major(std::vector<int64_t> dims) { return {std::move(dims)}; }
  // GGUF order (ne[0] innermost), e.g. ne = {in, out}, n_dims = 2 -> {out, in}.
  static SafetensorsShape from_ne(const std::array<int64_t, 4>& ne, int n_dims);
};

class SafetensorsWriter {
 public:
  using Producer = TensorBytes::Producer;
  using Progress = std::function<void(size_t done_bytes, size_t total_bytes)>;

  // String metadata, stored under "__metadata__" (sorted by key, like the reference).
  void set_metadata(const std::string& key, const std::string& value);

  // `data` must hold the tensor's bytes (row-major) and stay valid until write() returns.
  void add_tensor(const std::string& name, DType type, const SafetensorsShape& shape, const void* data);
  void add_tensor_owned(const std::string& name, DType type, const SafetensorsShape& shape,
                        std::vector<uint8_t> bytes);
  void add_tensor_generated(const std::string& name, DType type, const SafetensorsShape& shape, Producer produce);
  size_t tensor_count() const { return tensors_.size(); }

  // Header length prefix + JSON header (with padding), exactly as written to the file.
  std::vector<uint8_t> header_bytes() const;
  // Throws Error naming `path`; a previous file at `path` is left untouched on failure.
  void write(const std::string& path, Progress progress = {}) const;

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    size_t nbytes;
    TensorBytes bytes;
  };
  Tensor& add(const std::string& name, DType type, const SafetensorsShape& shape);
  std::vector<size_t> data_order() const;

  std::map<std::string, std::string> metadata_;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t> index_;
};

}  // namespace trellis
