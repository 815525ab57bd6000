#include "formats/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace trellis {
namespace {

constexpr int kMaxArrayDepth = 4;
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxStringBytes = 1ull << 30;

// Bounds-checked little-endian cursor over the file image.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& label)
      : data_(data), size_(size), label_(label) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what) {
    const uint64_t len = read<uint64_t>(what);
    if (len > remaining() || len > kMaxStringBytes) {
      fail(label_, ": ", what, " string of ", len, " bytes runs past the end of the file (offset ", pos_, ")");
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

  void need(size_t n, const char* what) const {
    if (n > remaining()) fail(label_, ": truncated while reading ", what, " (offset ", pos_, ")");
  }

  const std::string& label() const { return label_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& label_;
};

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::BOOL: return 1;
    case GgufType::UINT16: case GgufType::INT16: return 2;
    case GgufType::UINT32: case GgufType::INT32: case GgufType::FLOAT32: return 4;
    case GgufType::UINT64: case GgufType::INT64: case GgufType::FLOAT64: return 8;
    case GgufType::STRING: return 8;  // at least the length prefix
    case GgufType::ARRAY: return 12;  // at least type + count
  }
  return 0;
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::FLOAT64); }

int64_t read_integer(Reader& r, GgufType t) {
  switch (t) {
    case GgufType::UINT8: return r.read<uint8_t>("uint8");
    case GgufType::INT8: return r.read<int8_t>("int8");
    case GgufType::UINT16: return r.read<uint16_t>("uint16");
    case GgufType::INT16: return r.read<int16_t>("int16");
    case GgufType::UINT32: return r.read<uint32_t>("uint32");
    case GgufType::INT32: return r.read<int32_t>("int32");
    case GgufType::UINT64: return static_cast<int64_t>(r.read<uint64_t>("uint64"));
    case GgufType::INT64: return r.read<int64_t>("int64");
    case GgufType::BOOL: {
      const uint8_t b = r.read<uint8_t>("bool");
      if (b > 1) fail(r.label(), ": bool value ", int(b), " is neither 0 nor 1");
      return b;
    }
    default: return 0;
  }
}

GgufValue read_value(Reader& r, GgufType type, int depth, const std::string& key);

void read_array(Reader& r, GgufValue& v, int depth, const std::string& key) {
  const uint32_t elem = r.read<uint32_t>("array type");
  if (!valid_type(elem)) fail(r.label(), ": key '", key, "': unknown array element type ", elem);
  v.array_type = static_cast<GgufType>(elem);
  if (v.array_type == GgufType::ARRAY && depth >= kMaxArrayDepth) {
    fail(r.label(), ": key '", key, "': arrays nested deeper than ", kMaxArrayDepth);
  }
  const uint64_t count = r.read<uint64_t>("array count");
  // Every element occupies at least scalar_size bytes, so the file size bounds the count.
  if (count > r.remaining() / scalar_size(v.array_type)) {
    fail(r.label(), ": key '", key, "': array of ", count, " elements does not fit in the file");
  }
  const size_t n = static_cast<size_t>(count);
  switch (v.array_type) {
    case GgufType::STRING:
      v.strings.reserve(n);
      for (size_t i = 0; i < n; ++i) v.strings.push_back(r.read_string("array string"));
      break;
    case GgufType::FLOAT32:
      v.floats.reserve(n);
      for (size_t i = 0; i < n; ++i) v.floats.push_back(r.read<float>("float32"));
      break;
    case GgufType::FLOAT64:
      v.floats.reserve(n);
      for (size_t i = 0; i < n; ++i) v.floats.push_back(r.read<double>("float64"));
      break;
    case GgufType::ARRAY:
      v.nested.reserve(n);
      for (size_t i = 0; i < n; ++i) v.nested.push_back(read_value(r, GgufType::ARRAY, depth + 1, key));
      break;
    default:
      v.ints.reserve(n);
      for (size_t i = 0; i < n; ++i) v.ints.push_back(read_integer(r, v.array_type));
  }
}

GgufValue read_value(Reader& r, GgufType type, int depth, const std::string& key) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufType::FLOAT32: v.float_value = r.read<float>("float32"); break;
    case GgufType::FLOAT64: v.float_value = r.read<double>("float64"); break;
    case GgufType::STRING: v.string_value = r.read_string("value"); break;
    case GgufType::ARRAY: read_array(r, v, depth, key); break;
    default: v.int_value = read_integer(r, type);
  }
  return v;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool gguf_valid_utf8(const std::string& s) {
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) { ++i; continue; }
    const int len = (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    uint32_t cp = c & (0x7f >> len);
    for (int k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

const char* gguf_type_name(GgufType t) {
  static const char* names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                "bool", "string", "array", "uint64", "int64", "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "unknown";
}

bool GgufValue::is_integer() const {
  return type != GgufType::FLOAT32 && type != GgufType::FLOAT64 && type != GgufType::STRING &&
         type != GgufType::ARRAY;
}

size_t GgufValue::array_size() const {
  return ints.size() + floats.size() + strings.size() + nested.size();
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  auto map = std::make_unique<MappedFile>(path);
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->data_ = map->data();
  f->size_ = map->size();
  f->label_ = path;
  f->map_ = std::move(map);
  f->parse_image();
  return f;
}

std::unique_ptr<GgufFile> GgufFile::parse(const uint8_t* data, size_t size, const std::string& label) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->data_ = data;
  f->size_ = size;
  f->label_ = label;
  f->parse_image();
  return f;
}

void GgufFile::parse_image() {
  Reader r(data_, size_, label_);
  if (size_ < 4 || std::memcmp(data_, "GGUF", 4) != 0) fail(label_, ": not a GGUF file (bad magic)");
  r.read<uint32_t>("magic");
  version_ = r.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) fail(label_, ": unsupported GGUF version ", version_, " (need 2 or 3)");
  const uint64_t n_tensors = r.read<uint64_t>("tensor count");
  const uint64_t n_kv = r.read<uint64_t>("metadata count");
  if (n_kv > r.remaining() / 12) fail(label_, ": metadata count ", n_kv, " is larger than the file allows");
  if (n_tensors > r.remaining() / 24) fail(label_, ": tensor count ", n_tensors, " is larger than the file allows");

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.read_string("metadata key");
    if (!gguf_valid_utf8(key)) fail(label_, ": metadata key #", i, " is not valid UTF-8");
    const uint32_t type = r.read<uint32_t>("metadata type");
    if (!valid_type(type)) fail(label_, ": key '", key, "' has unknown value type ", type);
    if (kv_.count(key)) fail(label_, ": duplicate metadata key '", key, "'");
    kv_.emplace(key, read_value(r, static_cast<GgufType>(type), 0, key));
    key_order_.push_back(std::move(key));
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (!a->is_integer() || a->type == GgufType::BOOL || a->int_value <= 0 || a->int_value > (1 << 24) ||
        (a->int_value & (a->int_value - 1)) != 0) {
      fail(label_, ": general.alignment must be a power of two, got ", gguf_value_to_string(*a));
    }
    alignment_ = static_cast<uint32_t>(a->int_value);
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo info;
    info.view.name = r.read_string("tensor name");
    const std::string& name = info.view.name;
    if (!gguf_valid_utf8(name)) fail(label_, ": tensor #", i, " name is not valid UTF-8");
    const uint32_t n_dims = r.read<uint32_t>("tensor dimensions");
    if (n_dims == 0 || n_dims > kMaxDims) fail(label_, ": tensor '", name, "' has ", n_dims, " dimensions (1..4 allowed)");
    info.view.n_dims = static_cast<int>(n_dims);
    int64_t total = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const int64_t ne = r.read<int64_t>("tensor shape");
      if (ne <= 0) fail(label_, ": tensor '", name, "' has dimension ", d, " of size ", ne);
      if (__builtin_mul_overflow(total, ne, &total) || total > (int64_t(1) << 50)) {
        fail(label_, ": tensor '", name, "' element count overflows");
      }
      info.view.ne[d] = ne;
    }
    const uint32_t type = r.read<uint32_t>("tensor type");
    const DTypeInfo* ti = dtype_info_or_null(type);
    if (!ti) fail(label_, ": tensor '", name, "' has unknown type id ", type);
    info.view.type = static_cast<DType>(type);
    if (info.view.ne[0] % ti->block_elems != 0) {
      fail(label_, ": tensor '", name, "' row of ", info.view.ne[0], " is not a multiple of the ", ti->name,
           " block size ", ti->block_elems);
    }
    info.view.nbytes = static_cast<size_t>(total / ti->block_elems * ti->block_bytes);
    info.offset = r.read<uint64_t>("tensor offset");
    if (info.offset % alignment_ != 0) fail(label_, ": tensor '", name, "' offset ", info.offset, " is not aligned to ", alignment_);
    if (tensor_index_.count(name)) fail(label_, ": duplicate tensor name '", name, "'");
    tensor_index_[name] = tensors_.size();
    tensors_.push_back(std::move(info));
  }

  data_offset_ = static_cast<size_t>(align_up(r.pos(), alignment_));
  if (n_tensors > 0 && data_offset_ > size_) fail(label_, ": data section starts past the end of the file");
  const uint64_t data_size = size_ > data_offset_ ? size_ - data_offset_ : 0;

  // Bounds and overlap: sort by offset and check each tensor ends before the next begins.
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 0; i < by_offset.size(); ++i) {
    const GgufTensorInfo& t = *by_offset[i];
    if (t.offset > data_size || t.view.nbytes > data_size - t.offset) {
      fail(label_, ": tensor '", t.view.name, "' (", t.view.nbytes, " bytes at offset ", t.offset,
           ") runs past the end of the file");
    }
    if (i + 1 < by_offset.size() && t.offset + t.view.nbytes > by_offset[i + 1]->offset) {
      fail(label_, ": tensors '", t.view.name, "' and '", by_offset[i + 1]->view.name, "' overlap");
    }
  }
  for (auto& t : tensors_) t.view.data = data_ + data_offset_ + t.offset;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const TensorView* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second].view;
}

namespace {
const GgufValue& require(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (!v) fail(f.path(), ": missing metadata key '", key, "'");
  return *v;
}
[[noreturn]] void wrong_type(const GgufFile& f, const std::string& key, const GgufValue& v, const char* want) {
  fail(f.path(), ": metadata key '", key, "' is ", gguf_type_name(v.type), ", expected ", want);
}
}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = require(*this, key);
  if (v.type != GgufType::STRING) wrong_type(*this, key, v, "a string");
  return v.string_value;
}
int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = require(*this, key);
  if (!v.is_integer() || v.type == GgufType::BOOL) wrong_type(*this, key, v, "an integer");
  return v.int_value;
}
double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = require(*this, key);
  if (v.is_float()) return v.float_value;
  if (v.is_integer() && v.type != GgufType::BOOL) return static_cast<double>(v.int_value);
  wrong_type(*this, key, v, "a number");
}
bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = require(*this, key);
  if (v.type != GgufType::BOOL) wrong_type(*this, key, v, "a bool");
  return v.int_value != 0;
}
std::string GgufFile::get_string(const std::string& key, const std::string& def) const {
  return has(key) ? get_string(key) : def;
}
int64_t GgufFile::get_int(const std::string& key, int64_t def) const { return has(key) ? get_int(key) : def; }
double GgufFile::get_float(const std::string& key, double def) const { return has(key) ? get_float(key) : def; }
bool GgufFile::get_bool(const std::string& key, bool def) const { return has(key) ? get_bool(key) : def; }

const std::vector<std::string>& GgufFile::get_string_array(const std::string& key) const {
  const GgufValue& v = require(*this, key);
  if (v.type != GgufType::ARRAY || v.array_type != GgufType::STRING) wrong_type(*this, key, v, "an array of strings");
  return v.strings;
}

std::vector<double> GgufFile::get_number_array(const std::string& key) const {
  const GgufValue& v = require(*this, key);
  if (v.type != GgufType::ARRAY || v.array_type == GgufType::STRING || v.array_type == GgufType::ARRAY) {
    wrong_type(*this, key, v, "an array of numbers");
  }
  if (!v.floats.empty()) return v.floats;
  return std::vector<double>(v.ints.begin(), v.ints.end());
}

std::string gguf_value_to_string(const GgufValue& v, size_t max_items) {
  switch (v.type) {
    case GgufType::STRING: return v.string_value;
    case GgufType::FLOAT32: case GgufType::FLOAT64: return cat(v.float_value);
    case GgufType::BOOL: return v.int_value ? "true" : "false";
    case GgufType::UINT64: return std::to_string(static_cast<uint64_t>(v.int_value));
    case GgufType::ARRAY: {
      std::string s = cat("[", gguf_type_name(v.array_type), " x ", v.array_size(), "]");
      const size_t n = std::min(max_items, v.array_size());
      if (n == 0) return s;
      s += " ";
      for (size_t i = 0; i < n; ++i) {
        if (i) s += ", ";
        if (!v.strings.empty()) s += v.strings[i];
        else if (!v.floats.empty()) s += cat(v.floats[i]);
        else if (!v.ints.empty()) s += std::to_string(v.ints[i]);
        else s += gguf_value_to_string(v.nested[i], max_items);
      }
      if (n < v.array_size()) s += ", ...";
      return s;
    }
    default: return std::to_string(v.int_value);
  }
}

}  // namespace trellis
