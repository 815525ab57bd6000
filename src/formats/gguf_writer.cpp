#include "formats/gguf_writer.h"

#include <cstring>
#include <limits>

#include "core/error.h"

namespace trellis {
namespace {

constexpr int kMaxArrayDepth = 4;          // same limit as the reader
constexpr size_t kMaxTensorName = 63;      // GGML_MAX_NAME - 1, so llama.cpp can load the file
constexpr int64_t kMaxElements = int64_t(1) << 50;
constexpr uint32_t kGgufVersion = 3;
constexpr uint32_t kDefaultAlignment = 32;

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// ---- value checks -------------------------------------------------------------------

bool int_fits(GgufType t, int64_t v) {
  switch (t) {
    case GgufType::UINT8: return v >= 0 && v <= 0xff;
    case GgufType::INT8: return v >= -128 && v <= 127;
    case GgufType::UINT16: return v >= 0 && v <= 0xffff;
    case GgufType::INT16: return v >= -32768 && v <= 32767;
    case GgufType::UINT32: return v >= 0 && v <= 0xffffffffll;
    case GgufType::INT32: return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
    case GgufType::BOOL: return v == 0 || v == 1;
    default: return true;  // 64-bit types (UINT64 is stored bit-for-bit)
  }
}

bool is_int_type(GgufType t) {
  return t != GgufType::FLOAT32 && t != GgufType::FLOAT64 && t != GgufType::STRING && t != GgufType::ARRAY;
}

void check_key(const std::string& key) {
  if (key.empty()) fail("gguf writer: empty metadata key");
  if (!gguf_valid_utf8(key)) fail("gguf writer: metadata key '", key, "' is not valid UTF-8");
}

void check_value(const std::string& key, const GgufValue& v, int depth);

void check_array(const std::string& key, const GgufValue& v, int depth) {
  const GgufType e = v.array_type;
  if (static_cast<uint32_t>(e) > static_cast<uint32_t>(GgufType::FLOAT64)) {
    fail("gguf writer: key '", key, "': unknown array element type ", static_cast<uint32_t>(e));
  }
  const size_t own = e == GgufType::STRING ? v.strings.size()
                     : e == GgufType::ARRAY ? v.nested.size()
                     : is_int_type(e)       ? v.ints.size()
                                            : v.floats.size();
  if (own != v.array_size()) fail("gguf writer: key '", key, "': array elements do not match element type ", gguf_type_name(e));
  if (e == GgufType::ARRAY && depth >= kMaxArrayDepth) {
    fail("gguf writer: key '", key, "': arrays nested deeper than ", kMaxArrayDepth);
  }
  for (int64_t x : v.ints) {
    if (!int_fits(e, x)) fail("gguf writer: key '", key, "': value ", x, " does not fit in ", gguf_type_name(e));
  }
  for (const GgufValue& n : v.nested) {
    if (n.type != GgufType::ARRAY) fail("gguf writer: key '", key, "': nested array element is not an array");
    check_value(key, n, depth + 1);
  }
}

void check_value(const std::string& key, const GgufValue& v, int depth) {
  if (static_cast<uint32_t>(v.type) > static_cast<uint32_t>(GgufType::FLOAT64)) {
    fail("gguf writer: key '", key, "': unknown value type ", static_cast<uint32_t>(v.type));
  }
  if (v.type == GgufType::ARRAY) return check_array(key, v, depth);
  if (is_int_type(v.type) && !int_fits(v.type, v.int_value)) {
    fail("gguf writer: key '", key, "': value ", v.int_value, " does not fit in ", gguf_type_name(v.type));
  }
}

GgufValue scalar(GgufType t, int64_t i) {
  GgufValue v;
  v.type = t;
  v.int_value = i;
  return v;
}

GgufValue scalar_float(GgufType t, double f) {
  GgufValue v;
  v.type = t;
  v.float_value = f;
  return v;
}

GgufValue array_of(GgufType elem) {
  GgufValue v;
  v.type = GgufType::ARRAY;
  v.array_type = elem;
  return v;
}

// ---- serialization ------------------------------------------------------------------

class Buf {
 public:
  template <class T>
  void put(T x) {
    const size_t at = b_.size();
    b_.resize(at + sizeof(T));
    std::memcpy(b_.data() + at, &x, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    b_.insert(b_.end(), s.begin(), s.end());
  }
  std::vector<uint8_t>& bytes() { return b_; }

 private:
  std::vector<uint8_t> b_;
};

void put_int(Buf& b, GgufType t, int64_t x) {
  switch (t) {
    case GgufType::UINT8: case GgufType::BOOL: b.put<uint8_t>(static_cast<uint8_t>(x)); break;
    case GgufType::INT8: b.put<int8_t>(static_cast<int8_t>(x)); break;
    case GgufType::UINT16: b.put<uint16_t>(static_cast<uint16_t>(x)); break;
    case GgufType::INT16: b.put<int16_t>(static_cast<int16_t>(x)); break;
    case GgufType::UINT32: b.put<uint32_t>(static_cast<uint32_t>(x)); break;
    case GgufType::INT32: b.put<int32_t>(static_cast<int32_t>(x)); break;
    default: b.put<int64_t>(x);  // UINT64 / INT64, bit-for-bit
  }
}

void put_float(Buf& b, GgufType t, double x) {
  if (t == GgufType::FLOAT32) b.put<float>(static_cast<float>(x));
  else b.put<double>(x);
}

void put_value(Buf& b, const GgufValue& v);

void put_array_body(Buf& b, const GgufValue& v) {
  b.put<uint32_t>(static_cast<uint32_t>(v.array_type));
  b.put<uint64_t>(v.array_size());
  for (const auto& s : v.strings) b.put_string(s);
  for (double f : v.floats) put_float(b, v.array_type, f);
  for (int64_t i : v.ints) put_int(b, v.array_type, i);
  for (const auto& n : v.nested) put_array_body(b, n);
}

void put_value(Buf& b, const GgufValue& v) {
  switch (v.type) {
    case GgufType::STRING: b.put_string(v.string_value); break;
    case GgufType::FLOAT32: case GgufType::FLOAT64: put_float(b, v.type, v.float_value); break;
    case GgufType::ARRAY: put_array_body(b, v); break;
    default: put_int(b, v.type, v.int_value);
  }
}

}  // namespace

// ---- metadata -----------------------------------------------------------------------

void GgufWriter::set(const std::string& key, GgufValue v) {
  check_key(key);
  check_value(key, v, 0);
  if (key == "general.alignment") {
    const bool ok = is_int_type(v.type) && v.type != GgufType::BOOL && v.int_value > 0 &&
                    v.int_value <= (1 << 24) && (v.int_value & (v.int_value - 1)) == 0;
    if (!ok) fail("gguf writer: general.alignment must be a power of two up to 2^24, got ", gguf_value_to_string(v));
  }
  auto it = kv_index_.find(key);
  if (it != kv_index_.end()) {
    kv_[it->second].second = std::move(v);
    return;
  }
  kv_index_[key] = kv_.size();
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::set_string(const std::string& key, const std::string& val) {
  GgufValue v;
  v.type = GgufType::STRING;
  v.string_value = val;
  set(key, std::move(v));
}
void GgufWriter::set_u8(const std::string& key, uint8_t val) { set(key, scalar(GgufType::UINT8, val)); }
void GgufWriter::set_i8(const std::string& key, int8_t val) { set(key, scalar(GgufType::INT8, val)); }
void GgufWriter::set_u16(const std::string& key, uint16_t val) { set(key, scalar(GgufType::UINT16, val)); }
void GgufWriter::set_i16(const std::string& key, int16_t val) { set(key, scalar(GgufType::INT16, val)); }
void GgufWriter::set_u32(const std::string& key, uint32_t val) { set(key, scalar(GgufType::UINT32, val)); }
void GgufWriter::set_i32(const std::string& key, int32_t val) { set(key, scalar(GgufType::INT32, val)); }
void GgufWriter::set_u64(const std::string& key, uint64_t val) {
  set(key, scalar(GgufType::UINT64, static_cast<int64_t>(val)));
}
void GgufWriter::set_i64(const std::string& key, int64_t val) { set(key, scalar(GgufType::INT64, val)); }
void GgufWriter::set_f32(const std::string& key, float val) { set(key, scalar_float(GgufType::FLOAT32, val)); }
void GgufWriter::set_f64(const std::string& key, double val) { set(key, scalar_float(GgufType::FLOAT64, val)); }
void GgufWriter::set_bool(const std::string& key, bool val) { set(key, scalar(GgufType::BOOL, val ? 1 : 0)); }

void GgufWriter::set_array_string(const std::string& key, std::vector<std::string> vals) {
  GgufValue v = array_of(GgufType::STRING);
  v.strings = std::move(vals);
  set(key, std::move(v));
}
void GgufWriter::set_array_f32(const std::string& key, const std::vector<float>& vals) {
  set_array_floats(key, GgufType::FLOAT32, std::vector<double>(vals.begin(), vals.end()));
}
void GgufWriter::set_array_i32(const std::string& key, const std::vector<int32_t>& vals) {
  set_array_ints(key, GgufType::INT32, std::vector<int64_t>(vals.begin(), vals.end()));
}
void GgufWriter::set_array_ints(const std::string& key, GgufType elem, std::vector<int64_t> vals) {
  if (!is_int_type(elem)) fail("gguf writer: key '", key, "': ", gguf_type_name(elem), " is not an integer type");
  GgufValue v = array_of(elem);
  v.ints = std::move(vals);
  set(key, std::move(v));
}
void GgufWriter::set_array_floats(const std::string& key, GgufType elem, std::vector<double> vals) {
  if (elem != GgufType::FLOAT32 && elem != GgufType::FLOAT64) {
    fail("gguf writer: key '", key, "': ", gguf_type_name(elem), " is not a float type");
  }
  GgufValue v = array_of(elem);
  v.floats = std::move(vals);
  set(key, std::move(v));
}
void GgufWriter::set_value(const std::string& key, const GgufValue& val) { set(key, val); }
void GgufWriter::set_alignment(uint32_t alignment) { set_u32("general.alignment", alignment); }

bool GgufWriter::remove(const std::string& key) {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end()) return false;
  kv_.erase(kv_.begin() + static_cast<std::ptrdiff_t>(it->second));
  kv_index_.clear();
  for (size_t i = 0; i < kv_.size(); ++i) kv_index_[kv_[i].first] = i;
  return true;
}

const GgufValue* GgufWriter::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

uint32_t GgufWriter::alignment() const {
  const GgufValue* a = find("general.alignment");
  return a ? static_cast<uint32_t>(a->int_value) : kDefaultAlignment;
}

// ---- tensors ------------------------------------------------------------------------

GgufWriter::Tensor& GgufWriter::add(const std::string& name, DType type, const std::array<int64_t, 4>& ne,
                                    int n_dims) {
  if (name.empty()) fail("gguf writer: empty tensor name");
  if (name.size() > kMaxTensorName) fail("gguf writer: tensor name '", name, "' is longer than ", kMaxTensorName, " bytes");
  if (!gguf_valid_utf8(name)) fail("gguf writer: tensor name '", name, "' is not valid UTF-8");
  if (tensor_index_.count(name)) fail("gguf writer: duplicate tensor '", name, "'");
  if (n_dims < 1 || n_dims > 4) fail("gguf writer: tensor '", name, "' has ", n_dims, " dimensions (1..4 allowed)");
  const DTypeInfo* ti = dtype_info_or_null(static_cast<uint32_t>(type));
  if (!ti) fail("gguf writer: tensor '", name, "' has unknown type id ", static_cast<uint32_t>(type));
  int64_t total = 1;
  for (int d = 0; d < 4; ++d) {
    if (d >= n_dims && ne[d] != 1) fail("gguf writer: tensor '", name, "' has ne[", d, "] = ", ne[d], " beyond its ", n_dims, " dimensions");
    if (ne[d] <= 0) fail("gguf writer: tensor '", name, "' has dimension ", d, " of size ", ne[d]);
    if (__builtin_mul_overflow(total, ne[d], &total) || total > kMaxElements) {
      fail("gguf writer: tensor '", name, "' element count overflows");
    }
  }
  if (ne[0] % ti->block_elems != 0) {
    fail("gguf writer: tensor '", name, "' row of ", ne[0], " is not a multiple of the ", ti->name, " block size ",
         ti->block_elems);
  }
  tensor_index_[name] = tensors_.size();
  Tensor& t = tensors_.emplace_back();
  t.name = name;
  t.type = type;
  t.ne = ne;
  t.n_dims = n_dims;
  t.nbytes = static_cast<size_t>(total / ti->block_elems * ti->block_bytes);
  return t;
}

void GgufWriter::add_tensor(const std::string& name, DType type, const std::array<int64_t, 4>& ne, int n_dims,
                            const void* data) {
  if (!data) fail("gguf writer: tensor '", name, "' has no data");
  add(name, type, ne, n_dims).bytes.borrowed = data;
}

void GgufWriter::add_tensor(const TensorView& view) {
  Tensor& t = add(view.name, view.type, view.ne, view.n_dims);
  if (!view.data || view.nbytes != t.nbytes) {
    tensor_index_.erase(view.name);
    tensors_.pop_back();
    fail("gguf writer: tensor '", view.name, "' view holds ", view.nbytes, " bytes, shape needs ", t.nbytes);
  }
  t.bytes.borrowed = view.data;
}

void GgufWriter::add_tensor_owned(const std::string& name, DType type, const std::array<int64_t, 4>& ne, int n_dims,
                                  std::vector<uint8_t> bytes) {
  Tensor& t = add(name, type, ne, n_dims);
  if (bytes.size() != t.nbytes) {
    const size_t need = t.nbytes;
    tensor_index_.erase(name);
    tensors_.pop_back();
    fail("gguf writer: tensor '", name, "' given ", bytes.size(), " bytes, shape needs ", need);
  }
  t.bytes.owned = std::move(bytes);
}

void GgufWriter::add_tensor_generated(const std::string& name, DType type, const std::array<int64_t, 4>& ne,
                                      int n_dims, Producer produce) {
  if (!produce) fail("gguf writer: tensor '", name, "' has no producer");
  add(name, type, ne, n_dims).bytes.produce = std::move(produce);
}

// ---- output -------------------------------------------------------------------------

std::vector<uint64_t> GgufWriter::offsets() const {
  std::vector<uint64_t> out;
  uint64_t pos = 0;
  for (const Tensor& t : tensors_) {
    pos = align_up(pos, alignment());
    out.push_back(pos);
    pos += t.nbytes;
  }
  return out;
}

std::vector<uint8_t> GgufWriter::header_bytes() const {
  Buf b;
  b.put<uint32_t>(0x46554747u);  // "GGUF"
  b.put<uint32_t>(kGgufVersion);
  b.put<uint64_t>(tensors_.size());
  b.put<uint64_t>(kv_.size());
  for (const auto& [key, v] : kv_) {
    b.put_string(key);
    b.put<uint32_t>(static_cast<uint32_t>(v.type));
    put_value(b, v);
  }
  const std::vector<uint64_t> offs = offsets();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& t = tensors_[i];
    b.put_string(t.name);
    b.put<uint32_t>(static_cast<uint32_t>(t.n_dims));
    for (int d = 0; d < t.n_dims; ++d) b.put<int64_t>(t.ne[d]);
    b.put<uint32_t>(static_cast<uint32_t>(t.type));
    b.put<uint64_t>(offs[i]);
  }
  return std::move(b.bytes());
}

void GgufWriter::write(const std::string& path, Progress progress) const {
  const uint32_t align = alignment();
  const std::vector<uint8_t> header = header_bytes();
  const std::vector<uint64_t> offs = offsets();
  size_t total = 0;
  for (const Tensor& t : tensors_) total += t.nbytes;

  AtomicFile out(path);
  out.write(header.data(), header.size());
  const uint64_t data_start = align_up(out.size(), align);
  out.write_zeros(data_start - out.size());
  std::vector<uint8_t> scratch;
  size_t done = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    out.write_zeros(data_start + offs[i] - out.size());
    tensors_[i].bytes.write_to(out, tensors_[i].nbytes, scratch);
    done += tensors_[i].nbytes;
    if (progress) progress(done, total);
  }
  out.write_zeros(align_up(out.size(), align) - out.size());
  out.commit();
}

}  // namespace trellis
