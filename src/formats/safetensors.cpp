#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace trellis {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

bool parse_dtype(const std::string& s, DType& out) {
  if (s == "F32") { out = DType::F32; return true; }
  if (s == "F16") { out = DType::F16; return true; }
  if (s == "BF16") { out = DType::BF16; return true; }
  return false;
}

}  // namespace

const char* safetensors_dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    default: fail("safetensors cannot store ", dtype_name(t), " tensors");
  }
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto map = std::make_unique<MappedFile>(path);
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->data_ = map->data();
  f->size_ = map->size();
  f->label_ = path;
  f->map_ = std::move(map);
  f->parse_image();
  return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::parse(const uint8_t* data, size_t size, const std::string& label) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->data_ = data;
  f->size_ = size;
  f->label_ = label;
  f->parse_image();
  return f;
}

void SafetensorsFile::parse_image() {
  if (size_ < 8) fail(label_, ": too small to be a safetensors file");
  uint64_t header_len;
  std::memcpy(&header_len, data_, 8);
  if (header_len > size_ - 8 || header_len > kMaxHeaderBytes) {
    fail(label_, ": header length ", header_len, " runs past the end of the file");
  }
  // nlohmann keeps the last of duplicate keys; a duplicate tensor name must be an error.
  std::string duplicate;
  std::set<std::string> seen;
  auto note_keys = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && parsed.is_string()) {
      if (!seen.insert(parsed.get<std::string>()).second && duplicate.empty()) duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json header;
  try {
    header = json::parse(data_ + 8, data_ + 8 + header_len, note_keys);
  } catch (const json::exception& e) {
    fail(label_, ": header is not valid JSON: ", e.what());
  }
  if (!duplicate.empty()) fail(label_, ": duplicate header entry '", duplicate, "'");
  if (!header.is_object()) fail(label_, ": header is not a JSON object");
  const uint8_t* base = data_ + 8 + header_len;
  const uint64_t data_size = size_ - 8 - header_len;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it->is_object()) fail(label_, ": __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (m->is_string()) metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const json& t = *it;
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets") ||
        !t["dtype"].is_string() || !t["shape"].is_array() || !t["data_offsets"].is_array() ||
        t["data_offsets"].size() != 2) {
      fail(label_, ": tensor '", name, "' entry needs dtype, shape and two data_offsets");
    }
    TensorView v;
    v.name = name;
    const std::string dtype = t["dtype"].get<std::string>();
    if (!parse_dtype(dtype, v.type)) fail(label_, ": tensor '", name, "' has unsupported dtype ", dtype);
    const json& shape = t["shape"];
    if (shape.size() > 4) fail(label_, ": tensor '", name, "' has ", shape.size(), " dimensions (at most 4)");
    v.n_dims = static_cast<int>(shape.size());
    int64_t total = 1;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (!shape[d].is_number_unsigned()) fail(label_, ": tensor '", name, "' has a bad shape entry");
      const uint64_t ne = shape[d].get<uint64_t>();
      if (ne > (uint64_t(1) << 40) || __builtin_mul_overflow(total, static_cast<int64_t>(ne), &total) ||
          total > (int64_t(1) << 50)) {
        fail(label_, ": tensor '", name, "' element count overflows");
      }
      v.ne[shape.size() - 1 - d] = static_cast<int64_t>(ne);  // reverse: ne[0] is innermost
    }
    const json& off = t["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      fail(label_, ": tensor '", name, "' has bad data_offsets");
    }
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > data_size) fail(label_, ": tensor '", name, "' data [", b, ", ", e, ") runs past the end of the file");
    const uint64_t expect = static_cast<uint64_t>(total) * dtype_info(v.type).block_bytes;
    if (e - b != expect) {
      fail(label_, ": tensor '", name, "' holds ", e - b, " bytes but shape and dtype need ", expect);
    }
    if (total == 0) fail(label_, ": tensor '", name, "' is empty");
    v.data = base + b;
    v.nbytes = static_cast<size_t>(e - b);
    tensors_.push_back(std::move(v));
  }
  // Keep file (data) order, not the JSON object's sorted-key order, and reject overlaps.
  std::sort(tensors_.begin(), tensors_.end(), [](const TensorView& a, const TensorView& b) { return a.data < b.data; });
  for (size_t i = 1; i < tensors_.size(); ++i) {
    if (tensors_[i].data < tensors_[i - 1].data + tensors_[i - 1].nbytes) {
      fail(label_, ": tensors '", tensors_[i - 1].name, "' and '", tensors_[i].name, "' overlap");
    }
  }
  index_.clear();
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

const TensorView* SafetensorsFile::find_tensor(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::unique_ptr<SafetensorsCheckpoint> SafetensorsCheckpoint::open_dir(const std::string& dir, const std::string& stem) {
  auto ck = std::make_unique<SafetensorsCheckpoint>();
  const fs::path single = fs::path(dir) / (stem + ".safetensors");
  const fs::path index = fs::path(dir) / (stem + ".safetensors.index.json");
  std::vector<std::string> shard_names;
  if (fs::exists(single)) {
    shard_names.push_back(single.filename().string());
  } else if (fs::exists(index)) {
    std::ifstream in(index);
    json j;
    try {
      j = json::parse(in);
    } catch (const json::exception& e) {
      fail(index.string(), ": not valid JSON: ", e.what());
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
      fail(index.string(), ": missing object 'weight_map'");
    }
    for (auto& [tensor, file] : j["weight_map"].items()) {
      if (!file.is_string()) fail(index.string(), ": weight_map entry '", tensor, "' is not a file name");
      const std::string name = file.get<std::string>();
      if (name.find('/') != std::string::npos || name.find("..") != std::string::npos) {
        fail(index.string(), ": shard name '", name, "' must be a plain file name");
      }
      if (std::find(shard_names.begin(), shard_names.end(), name) == shard_names.end()) shard_names.push_back(name);
    }
  } else {
    fail(dir, ": no ", single.filename().string(), " or ", index.filename().string());
  }
  for (const auto& name : shard_names) {
    ck->files_.push_back(SafetensorsFile::open((fs::path(dir) / name).string()));
    for (const auto& t : ck->files_.back()->tensors()) {
      if (!ck->index_.emplace(t.name, &t).second) {
        fail(dir, ": tensor '", t.name, "' appears in more than one shard");
      }
    }
  }
  return ck;
}

const TensorView* SafetensorsCheckpoint::find_tensor(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

std::vector<const TensorView*> SafetensorsCheckpoint::tensors() const {
  std::vector<const TensorView*> out;
  for (const auto& f : files_) {
    for (const auto& t : f->tensors()) out.push_back(&t);
  }
  return out;
}

}  // namespace trellis
