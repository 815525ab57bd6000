// Safetensors reader (single file, or the shards of a Hugging Face checkpoint directory).
// The JSON header is validated completely: dtypes, shapes, offsets within the data section,
// sizes matching shape × element size, and no overlapping tensors.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace trellis {

class SafetensorsFile {
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);
  // Parses an in-memory image (used by the fuzzer); the buffer must outlive the object.
  static std::unique_ptr<SafetensorsFile> parse(const uint8_t* data, size_t size, const std::string& label);

  const std::string& path() const { return label_; }
  // Tensors in file order; shapes are in GGUF order (ne[0] = last safetensors dimension).
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find_tensor(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  void parse_image();

  std::unique_ptr<MappedFile> map_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string label_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a Hugging Face checkpoint: `model.safetensors`, or the shards listed in
// `model.safetensors.index.json`. Tensor names are unique across shards.
class SafetensorsCheckpoint {
 public:
  // dir: a directory holding model.safetensors or model.safetensors.index.json
  // (or the same with another prefix, e.g. adapter_model.safetensors via `stem`).
  static std::unique_ptr<SafetensorsCheckpoint> open_dir(const std::string& dir,
                                                         const std::string& stem = "model");
  const TensorView* find_tensor(const std::string& name) const;
  std::vector<const TensorView*> tensors() const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> index_;
};

// Safetensors dtype name ("F32", "F16", "BF16") for a DType; throws for others.
const char* safetensors_dtype_name(DType t);

}  // namespace trellis
