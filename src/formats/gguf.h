// GGUF v2/v3 reader over a memory map. Every header field is validated against the file
// size before it is used, so a hostile file ends in an Error, never a crash or a huge
// allocation. Tensor data stays in the map.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace trellis {

enum class GgufType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* gguf_type_name(GgufType t);
// Strict UTF-8 check used for keys and tensor names (reader and writer).
bool gguf_valid_utf8(const std::string& s);

// One metadata value. Scalars use the field matching their type class; arrays keep their
// element type and hold their elements in the matching vector (nested arrays in `nested`).
struct GgufValue {
  GgufType type = GgufType::UINT32;
  GgufType array_type = GgufType::UINT8;
  int64_t int_value = 0;       // all integer types and BOOL (uint64 stored bit-for-bit)
  double float_value = 0.0;    // FLOAT32 / FLOAT64
  std::string string_value;    // STRING
  std::vector<int64_t> ints;   // array of integers / bools
  std::vector<double> floats;  // array of floats
  std::vector<std::string> strings;
  std::vector<GgufValue> nested;

  bool is_integer() const;
  bool is_float() const { return type == GgufType::FLOAT32 || type == GgufType::FLOAT64; }
  size_t array_size() const;
};

struct GgufTensorInfo {
  TensorView view;       // data points into the map
  uint64_t offset = 0;   // relative to the start of the data section
};

class GgufFile {
 public:
  // Opens and validates a GGUF file. Throws Error("<path>: <problem>") on anything malformed.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Parses an in-memory GGUF image (used by the fuzzer); the buffer must outlive the object.
  static std::unique_ptr<GgufFile> parse(const uint8_t* data, size_t size, const std::string& label);

  const std::string& path() const { return label_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }

  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const std::vector<std::string>& key_order() const { return key_order_; }
  const GgufValue* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }

  // Typed getters: throw Error naming the key when missing or of the wrong kind.
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;  // accepts integers too
  bool get_bool(const std::string& key) const;
  // Variants with a default for optional keys (still throw on a wrong type).
  std::string get_string(const std::string& key, const std::string& def) const;
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_float(const std::string& key, double def) const;
  bool get_bool(const std::string& key, bool def) const;
  const std::vector<std::string>& get_string_array(const std::string& key) const;
  std::vector<double> get_number_array(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const TensorView* find_tensor(const std::string& name) const;

 private:
  GgufFile() = default;
  void parse_image();

  std::unique_ptr<MappedFile> map_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string label_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<std::string> key_order_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// Human-readable rendering of a value (arrays abbreviated), for `trellis inspect`.
std::string gguf_value_to_string(const GgufValue& v, size_t max_items = 8);

}  // namespace trellis
