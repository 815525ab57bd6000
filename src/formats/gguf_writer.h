// GGUF v3 writer. Metadata keeps insertion order (re-setting a key replaces its value in
// place); tensors are laid out in insertion order, each at an offset aligned to
// general.alignment (default 32), and the file is written atomically (core/atomic_file.h).
// Tensor bytes can be borrowed, owned, or produced by a callback at write time, so a
// large model can be converted or quantized one tensor at a time.
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
#include "formats/gguf.h"

namespace trellis {

class GgufWriter {
 public:
  using Producer = TensorBytes::Producer;
  using Progress = std::function<void(size_t done_bytes, size_t total_bytes)>;

  void set_string(const std::string& key, const std::string& val);
  void set_u8(const std::string& key, uint8_t val);
  void set_i8(const std::string& key, int8_t val);
  void set_u16(const std::string& key, uint16_t val);
  void set_i16(const std::string& key, int16_t val);
  void set_u32(const std::string& key, uint32_t val);
  void set_i32(const std::string& key, int32_t val);
  void set_u64(const std::string& key, uint64_t val);
  void set_i64(const std::string& key, int64_t val);
  void set_f32(const std::string& key, float val);
  void set_f64(const std::string& key, double val);
  void set_bool(const std::string& key, bool val);
  void set_array_string(const std::string& key, std::vector<std::string> vals);
  void set_array_f32(const std::string& key, const std::vector<float>& vals);
  void set_array_i32(const std::string& key, const std::vector<int32_t>& vals);
  // Integer/bool arrays of any element type (values range-checked), and float arrays
  // (FLOAT32 or FLOAT64 elements).
  void set_array_ints(const std::string& key, GgufType elem, std::vector<int64_t> vals);
  void set_array_floats(const std::string& key, GgufType elem, std::vector<double> vals);
  // Any value, e.g. copied from a GgufFile for passthrough; nested arrays included.
  // The value is checked for consistency (ranges, element kinds, nesting depth).
  void set_value(const std::string& key, const GgufValue& val);
  // Sets general.alignment (UINT32); must be a power of two.
  void set_alignment(uint32_t alignment);
  bool remove(const std::string& key);
  const GgufValue* find(const std::string& key) const;
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }

  // `data` must hold the tensor's bytes and stay valid until write() returns.
  void add_tensor(const std::string& name, DType type, const std::array<int64_t, 4>& ne, int n_dims,
                  const void* data);
  // Same, from a view (e.g. a tensor of another open file).
  void add_tensor(const TensorView& view);
  // Copies nothing: takes ownership of `bytes`, which must be exactly the tensor's size.
  void add_tensor_owned(const std::string& name, DType type, const std::array<int64_t, 4>& ne, int n_dims,
                        std::vector<uint8_t> bytes);
  // `produce(dst, nbytes)` fills the tensor's bytes when write() reaches it.
  void add_tensor_generated(const std::string& name, DType type, const std::array<int64_t, 4>& ne, int n_dims,
                            Producer produce);
  size_t tensor_count() const { return tensors_.size(); }

  // Writes the file atomically. progress(done, total) is called after each tensor with
  // tensor-data bytes written so far. Throws Error naming `path` on failure (the
  // previous file at `path`, if any, is then left untouched).
  void write(const std::string& path, Progress progress = {}) const;
  // The bytes write() would put in the file before the tensor data (header, metadata,
  // tensor infos), for tests and size estimates.
  std::vector<uint8_t> header_bytes() const;
  uint32_t alignment() const;

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::array<int64_t, 4> ne;
    int n_dims;
    size_t nbytes;
    TensorBytes bytes;
  };
  void set(const std::string& key, GgufValue v);
  Tensor& add(const std::string& name, DType type, const std::array<int64_t, 4>& ne, int n_dims);
  std::vector<uint64_t> offsets() const;

  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t> kv_index_;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace trellis
