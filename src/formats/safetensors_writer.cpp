#include "formats/safetensors_writer.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/safetensors.h"

namespace trellis {
namespace {

constexpr int64_t kMaxElements = int64_t(1) << 50;

std::string dump_json(const nlohmann::ordered_json& j) {
  try {
    return j.dump();
  } catch (const nlohmann::json::exception& e) {
    fail("safetensors writer: cannot encode header (names and metadata must be UTF-8): ", e.what());
  }
}

}  // namespace

SafetensorsShape SafetensorsShape::from_ne(const std::array<int64_t, 4>& ne, int n_dims) {
  if (n_dims < 0 || n_dims > 4) fail("safetensors writer: ", n_dims, " dimensions (0..4 allowed)");
  SafetensorsShape s;
  for (int d = n_dims - 1; d >= 0; --d) s.dims.push_back(ne[d]);
  return s;
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

SafetensorsWriter::Tensor& SafetensorsWriter::add(const std::string& name, DType type, const SafetensorsShape& shape) {
  if (name.empty()) fail("safetensors writer: empty tensor name");
  if (name == "__metadata__") fail("safetensors writer: '__metadata__' cannot be a tensor name");
  if (index_.count(name)) fail("safetensors writer: duplicate tensor '", name, "'");
  const size_t elem = static_cast<size_t>(dtype_info(type).block_bytes);
  safetensors_dtype_name(type);  // throws for types safetensors cannot hold here
  if (shape.dims.size() > 4) fail("safetensors writer: tensor '", name, "' has ", shape.dims.size(), " dimensions (at most 4)");
  int64_t total = 1;
  for (int64_t d : shape.dims) {
    if (d <= 0) fail("safetensors writer: tensor '", name, "' has a dimension of size ", d);
    if (__builtin_mul_overflow(total, d, &total) || total > kMaxElements) {
      fail("safetensors writer: tensor '", name, "' element count overflows");
    }
  }
  index_[name] = tensors_.size();
  Tensor& t = tensors_.emplace_back();
  t.name = name;
  t.type = type;
  t.shape = shape.dims;
  t.nbytes = static_cast<size_t>(total) * elem;
  return t;
}

void SafetensorsWriter::add_tensor(const std::string& name, DType type, const SafetensorsShape& shape,
                                   const void* data) {
  if (!data) fail("safetensors writer: tensor '", name, "' has no data");
  add(name, type, shape).bytes.borrowed = data;
}

void SafetensorsWriter::add_tensor_owned(const std::string& name, DType type, const SafetensorsShape& shape,
                                         std::vector<uint8_t> bytes) {
  Tensor& t = add(name, type, shape);
  if (bytes.size() != t.nbytes) {
    const size_t need = t.nbytes;
    index_.erase(name);
    tensors_.pop_back();
    fail("safetensors writer: tensor '", name, "' given ", bytes.size(), " bytes, shape needs ", need);
  }
  t.bytes.owned = std::move(bytes);
}

void SafetensorsWriter::add_tensor_generated(const std::string& name, DType type, const SafetensorsShape& shape,
                                             Producer produce) {
  if (!produce) fail("safetensors writer: tensor '", name, "' has no producer");
  add(name, type, shape).bytes.produce = std::move(produce);
}

std::vector<size_t> SafetensorsWriter::data_order() const {
  std::vector<size_t> order(tensors_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return dtype_info(tensors_[a].type).block_bytes > dtype_info(tensors_[b].type).block_bytes;
  });
  return order;
}

std::vector<uint8_t> SafetensorsWriter::header_bytes() const {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata_.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata_) m[k] = v;
    h["__metadata__"] = std::move(m);
  }
  uint64_t pos = 0;
  for (size_t i : data_order()) {
    const Tensor& t = tensors_[i];
    nlohmann::ordered_json e = nlohmann::ordered_json::object();
    e["dtype"] = safetensors_dtype_name(t.type);
    e["shape"] = t.shape;
    e["data_offsets"] = {pos, pos + t.nbytes};
    h[t.name] = std::move(e);
    pos += t.nbytes;
  }
  std::string text = dump_json(h);
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<uint8_t> out(8 + text.size());
  const uint64_t len = text.size();
  std::memcpy(out.data(), &len, 8);
  std::memcpy(out.data() + 8, text.data(), text.size());
  return out;
}

void SafetensorsWriter::write(const std::string& path, Progress progress) const {
  std::vector<uint8_t> header;
  try {
    header = header_bytes();
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  size_t total = 0;
  for (const Tensor& t : tensors_) total += t.nbytes;
  AtomicFile out(path);
  out.write(header.data(), header.size());
  std::vector<uint8_t> scratch;
  size_t done = 0;
  for (size_t i : data_order()) {
    tensors_[i].bytes.write_to(out, tensors_[i].nbytes, scratch);
    done += tensors_[i].nbytes;
    if (progress) progress(done, total);
  }
  out.commit();
}

}  // namespace trellis
