// Hostile-input tests for the GGUF and safetensors readers: valid writer output, corrupted
// field by field, truncated at every byte and randomly mutated. Every case must end in a
// trellis::Error whose message names the file; nothing may crash (run under
// scripts/sanitize.sh to have ASan/UBSan check the reads too).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/safetensors.h"
#include "formats/safetensors_writer.h"

using namespace trellis;
using Bytes = std::vector<uint8_t>;

namespace {

const std::string kLabel = "hostile/input.bin";

// A per-process scratch directory, removed when the test binary exits.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() : path(std::filesystem::temp_directory_path() / ("trellis_hostile_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string tmp_file(const std::string& name) {
  static ScratchDir dir;
  return (dir.path / name).string();
}

Bytes slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

size_t find(const Bytes& b, const std::string& s) {
  auto it = std::search(b.begin(), b.end(), s.begin(), s.end());
  if (it == b.end()) throw std::logic_error("test setup: '" + s + "' not in file");
  return static_cast<size_t>(it - b.begin());
}
// Position just after the first occurrence of s.
size_t after(const Bytes& b, const std::string& s) { return find(b, s) + s.size(); }

template <class T>
void poke(Bytes& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof(T));
}
template <class T>
T peek(const Bytes& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

// Touches everything a successful parse exposes, so ASan sees any out-of-bounds view.
uint64_t touch(const GgufFile& f) {
  uint64_t sum = 0;
  for (const auto& [k, v] : f.metadata()) sum += k.size() + gguf_value_to_string(v, 1000).size();
  for (const auto& t : f.tensors()) {
    for (size_t i = 0; i < t.view.nbytes; ++i) sum += t.view.data[i];
  }
  return sum;
}
uint64_t touch(const SafetensorsFile& f) {
  uint64_t sum = 0;
  for (const auto& [k, v] : f.metadata()) sum += k.size() + v.size();
  for (const auto& t : f.tensors()) {
    for (size_t i = 0; i < t.nbytes; ++i) sum += t.data[i];
  }
  return sum;
}

template <class File>
::testing::AssertionResult rejects(const Bytes& b, const std::string& needle) {
  try {
    auto f = File::parse(b.data(), b.size(), kLabel);
    touch(*f);
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.find(kLabel) == std::string::npos) return ::testing::AssertionFailure() << "message lacks the label: " << msg;
    if (msg.find(needle) == std::string::npos) return ::testing::AssertionFailure() << "message lacks '" << needle << "': " << msg;
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "parsed without error (expected '" << needle << "')";
}
auto gguf_rejects = rejects<GgufFile>;
auto st_rejects = rejects<SafetensorsFile>;

// Parses or throws Error (with the label); anything else fails the test or crashes it.
template <class File>
bool parses_or_errors(const Bytes& b) {
  try {
    touch(*File::parse(b.data(), b.size(), kLabel));
    return true;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(kLabel), std::string::npos) << e.what();
    return false;
  }
}

// ---- GGUF base file ------------------------------------------------------------------

Bytes base_gguf() {
  GgufWriter w;
  w.set_u32("general.alignment", 32);
  w.set_string("k.str", "hello");
  w.set_array_ints("k.arr", GgufType::UINT32, {1, 2, 3});
  w.set_bool("k.bool", true);
  w.set_u32("k.dup.a", 0);
  w.set_u32("k.dup.b", 1);
  std::vector<uint8_t> a(4 * 3 * 4, 1), b(8 * 4, 2), q(34, 3);
  w.add_tensor_owned("tensor.a", DType::F32, {4, 3, 1, 1}, 2, a);   // 48 bytes at 0
  w.add_tensor_owned("tensor.b", DType::F32, {8, 1, 1, 1}, 1, b);   // 32 bytes at 64
  w.add_tensor_owned("tensor.q", DType::Q8_0, {32, 1, 1, 1}, 1, q); // 34 bytes at 96
  const std::string path = tmp_file("base.gguf");
  w.write(path);
  return slurp(path);
}

// Offsets of a tensor-info's fields (name found by its bytes).
struct TensorFields {
  size_t n_dims, dims, type, offset;
};
TensorFields tensor_fields(const Bytes& b, const std::string& name) {
  TensorFields f;
  f.n_dims = after(b, name);
  const uint32_t nd = peek<uint32_t>(b, f.n_dims);
  f.dims = f.n_dims + 4;
  f.type = f.dims + 8 * nd;
  f.offset = f.type + 4;
  return f;
}
// Offset of a key's type field; the value follows 4 bytes later.
size_t key_type(const Bytes& b, const std::string& key) { return after(b, key); }

// A GGUF image with no tensors and one raw key/value, for values the writer refuses to make.
Bytes gguf_with_raw_kv(const std::string& key, const Bytes& type_and_value) {
  Bytes b = {'G', 'G', 'U', 'F'};
  auto put = [&](auto x) { const auto* p = reinterpret_cast<const uint8_t*>(&x); b.insert(b.end(), p, p + sizeof(x)); };
  put(uint32_t(3));
  put(uint64_t(0));
  put(uint64_t(1));
  put(uint64_t(key.size()));
  b.insert(b.end(), key.begin(), key.end());
  b.insert(b.end(), type_and_value.begin(), type_and_value.end());
  return b;
}

Bytes nested_arrays(int levels) {
  Bytes v;
  auto put = [&](auto x) { const auto* p = reinterpret_cast<const uint8_t*>(&x); v.insert(v.end(), p, p + sizeof(x)); };
  put(uint32_t(GgufType::ARRAY));
  for (int i = 0; i < levels - 1; ++i) {
    put(uint32_t(GgufType::ARRAY));
    put(uint64_t(1));
  }
  put(uint32_t(GgufType::UINT8));
  put(uint64_t(0));
  return v;
}

}  // namespace

// ---- GGUF ----------------------------------------------------------------------------

TEST(GgufHostile, BaseFileIsValid) {
  const Bytes b = base_gguf();
  auto f = GgufFile::parse(b.data(), b.size(), kLabel);
  EXPECT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->tensors()[1].offset, 64u);
  Bytes v2 = b;
  poke<uint32_t>(v2, 4, 2);
  EXPECT_NO_THROW(GgufFile::parse(v2.data(), v2.size(), kLabel));
}

TEST(GgufHostile, MagicAndVersion) {
  const Bytes base = base_gguf();
  Bytes b = base;
  b[0] = 'X';
  EXPECT_TRUE(gguf_rejects(b, "bad magic"));
  for (uint32_t v : {0u, 1u, 4u, 0xffffffffu}) {
    b = base;
    poke<uint32_t>(b, 4, v);
    EXPECT_TRUE(gguf_rejects(b, "unsupported GGUF version")) << v;
  }
  EXPECT_TRUE(gguf_rejects(Bytes{}, "bad magic"));
  EXPECT_TRUE(gguf_rejects(Bytes{'G', 'G'}, "bad magic"));
}

TEST(GgufHostile, TruncationAtEveryByte) {
  const Bytes base = base_gguf();
  auto f = GgufFile::parse(base.data(), base.size(), kLabel);
  const size_t data_end = f->data_offset() + 96 + 34;
  for (size_t n = 0; n < base.size(); ++n) {
    const Bytes b(base.begin(), base.begin() + static_cast<std::ptrdiff_t>(n));
    const bool ok = parses_or_errors<GgufFile>(b);
    EXPECT_EQ(ok, n >= data_end) << "prefix of " << n << " bytes";
  }
}

TEST(GgufHostile, AbsurdCounts) {
  const Bytes base = base_gguf();
  Bytes b = base;
  poke<uint64_t>(b, 8, uint64_t(1) << 60);
  EXPECT_TRUE(gguf_rejects(b, "tensor count"));
  b = base;
  poke<uint64_t>(b, 16, std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(gguf_rejects(b, "metadata count"));
  b = base;
  poke<uint64_t>(b, 16, peek<uint64_t>(b, 16) + 1);  // one key too many: tensor infos read as keys
  EXPECT_TRUE(parses_or_errors<GgufFile>(b) == false);
  b = base;
  poke<uint64_t>(b, 8, 4);  // one tensor info too many
  EXPECT_FALSE(parses_or_errors<GgufFile>(b));
}

TEST(GgufHostile, StringLengths) {
  const Bytes base = base_gguf();
  Bytes b = base;
  poke<uint64_t>(b, find(b, "k.str") - 8, base.size());
  EXPECT_TRUE(gguf_rejects(b, "runs past the end"));
  b = base;
  poke<uint64_t>(b, key_type(b, "k.str") + 4, uint64_t(1) << 62);
  EXPECT_TRUE(gguf_rejects(b, "runs past the end"));
  b = base;
  poke<uint64_t>(b, find(b, "tensor.b") - 8, std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(gguf_rejects(b, "runs past the end"));
}

TEST(GgufHostile, Arrays) {
  const Bytes base = base_gguf();
  const size_t arr = key_type(base, "k.arr") + 4;  // element type, then count
  Bytes b = base;
  poke<uint64_t>(b, arr + 4, uint64_t(1) << 61);
  EXPECT_TRUE(gguf_rejects(b, "does not fit"));
  b = base;
  poke<uint64_t>(b, arr + 4, std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(gguf_rejects(b, "does not fit"));
  b = base;
  poke<uint32_t>(b, arr, 99);
  EXPECT_TRUE(gguf_rejects(b, "unknown array element type"));
  b = base;
  poke<uint32_t>(b, arr, uint32_t(GgufType::STRING));  // elements re-read as strings
  EXPECT_FALSE(parses_or_errors<GgufFile>(b));

  auto ok = gguf_with_raw_kv("deep", nested_arrays(5));
  EXPECT_NO_THROW(GgufFile::parse(ok.data(), ok.size(), kLabel));
  EXPECT_TRUE(gguf_rejects(gguf_with_raw_kv("deep", nested_arrays(6)), "nested deeper"));
  EXPECT_TRUE(gguf_rejects(gguf_with_raw_kv("deep", nested_arrays(100000)), "nested deeper"));
}

TEST(GgufHostile, ValueTypes) {
  const Bytes base = base_gguf();
  for (uint32_t t : {13u, 255u, 0xffffffffu}) {
    Bytes b = base;
    poke<uint32_t>(b, key_type(b, "k.bool"), t);
    EXPECT_TRUE(gguf_rejects(b, "unknown value type")) << t;
  }
  Bytes b = base;
  b[key_type(b, "k.bool") + 4] = 2;
  EXPECT_TRUE(gguf_rejects(b, "neither 0 nor 1"));
}

TEST(GgufHostile, DuplicatesAndUtf8) {
  const Bytes base = base_gguf();
  Bytes b = base;
  b[find(b, "k.dup.b") + 6] = 'a';
  EXPECT_TRUE(gguf_rejects(b, "duplicate metadata key 'k.dup.a'"));
  b = base;
  b[find(b, "tensor.b") + 7] = 'a';
  EXPECT_TRUE(gguf_rejects(b, "duplicate tensor name 'tensor.a'"));
  const std::vector<std::string> bad_keys = {"k\xffstr", "\xc0\xaestr", "k\xed\xa0\x80r", "k.st\xe2"};
  for (const std::string& bad : bad_keys) {
    b = base;
    std::memcpy(b.data() + find(b, "k.str"), bad.data(), 5);
    EXPECT_TRUE(gguf_rejects(b, "not valid UTF-8"));
  }
  b = base;
  b[find(b, "tensor.q") + 1] = 0x80;
  EXPECT_TRUE(gguf_rejects(b, "not valid UTF-8"));
}

TEST(GgufHostile, Alignment) {
  const Bytes base = base_gguf();
  const size_t val = key_type(base, "general.alignment") + 4;
  for (uint32_t a : {0u, 3u, 48u, 1u << 30}) {
    Bytes b = base;
    poke<uint32_t>(b, val, a);
    EXPECT_TRUE(gguf_rejects(b, "general.alignment")) << a;
  }
  Bytes b = base;
  poke<uint32_t>(b, val - 4, uint32_t(GgufType::FLOAT32));
  EXPECT_TRUE(gguf_rejects(b, "general.alignment"));
  b = base;
  poke<uint32_t>(b, val - 4, uint32_t(GgufType::BOOL));  // a bool 1 is not an alignment
  b.erase(b.begin() + static_cast<std::ptrdiff_t>(val) + 1, b.begin() + static_cast<std::ptrdiff_t>(val) + 4);
  b[val] = 1;
  EXPECT_TRUE(gguf_rejects(b, "general.alignment"));
  b = base;
  poke<uint32_t>(b, val - 4, uint32_t(GgufType::INT32));
  poke<int32_t>(b, val, -32);
  EXPECT_TRUE(gguf_rejects(b, "general.alignment"));
  b = base;
  poke<uint32_t>(b, val, 64);  // offset 96 of tensor.q is not a multiple of 64
  EXPECT_TRUE(gguf_rejects(b, "not aligned"));
}

TEST(GgufHostile, TensorOffsets) {
  const Bytes base = base_gguf();
  const TensorFields tb = tensor_fields(base, "tensor.b");
  Bytes b = base;
  poke<uint64_t>(b, tb.offset, uint64_t(1) << 40);
  EXPECT_TRUE(gguf_rejects(b, "runs past the end"));
  b = base;
  poke<uint64_t>(b, tb.offset, std::numeric_limits<uint64_t>::max() & ~uint64_t(31));
  EXPECT_TRUE(gguf_rejects(b, "runs past the end"));
  b = base;
  poke<uint64_t>(b, tb.offset, 64 + 4);
  EXPECT_TRUE(gguf_rejects(b, "not aligned"));
  b = base;
  poke<uint64_t>(b, tb.offset, 32);  // tensor.a covers [0, 48)
  EXPECT_TRUE(gguf_rejects(b, "overlap"));
  b = base;
  poke<uint64_t>(b, tb.offset, 0);
  EXPECT_TRUE(gguf_rejects(b, "overlap"));
  b = base;
  poke<uint64_t>(b, tensor_fields(b, "tensor.q").offset, 128);  // 34 bytes from 128 pass the end
  EXPECT_TRUE(gguf_rejects(b, "runs past the end"));
}

TEST(GgufHostile, TensorShapesAndTypes) {
  const Bytes base = base_gguf();
  const TensorFields ta = tensor_fields(base, "tensor.a");
  Bytes b = base;
  poke<int64_t>(b, ta.dims, int64_t(1) << 62);
  EXPECT_TRUE(gguf_rejects(b, "overflows"));
  b = base;
  poke<int64_t>(b, ta.dims, std::numeric_limits<int64_t>::max());
  poke<int64_t>(b, ta.dims + 8, std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(gguf_rejects(b, "overflows"));
  for (int64_t d : {int64_t(0), int64_t(-5), std::numeric_limits<int64_t>::min()}) {
    b = base;
    poke<int64_t>(b, ta.dims + 8, d);
    EXPECT_TRUE(gguf_rejects(b, "of size")) << d;
  }
  for (uint32_t nd : {0u, 5u, 0xffffffffu}) {
    b = base;
    poke<uint32_t>(b, ta.n_dims, nd);
    EXPECT_TRUE(gguf_rejects(b, "dimensions (1..4 allowed)")) << nd;
  }
  for (uint32_t t : {4u, 5u, 31u, 99u, 0xffffffffu}) {
    b = base;
    poke<uint32_t>(b, ta.type, t);
    EXPECT_TRUE(gguf_rejects(b, "unknown type id")) << t;
  }
  b = base;
  poke<int64_t>(b, tensor_fields(b, "tensor.q").dims, 33);
  EXPECT_TRUE(gguf_rejects(b, "block size"));
  b = base;
  poke<int64_t>(b, ta.dims + 8, 4);  // 64 bytes from offset 0: ends exactly where tensor.b starts
  EXPECT_TRUE(parses_or_errors<GgufFile>(b));
  poke<int64_t>(b, ta.dims + 8, 5);  // 80 bytes: overlaps tensor.b
  EXPECT_TRUE(gguf_rejects(b, "overlap"));
}

TEST(GgufHostile, RandomMutationsThrowOrParse) {
  const Bytes base = base_gguf();
  std::mt19937 rng(12345);
  int parsed = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    Bytes b = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % b.size();
      switch (rng() % 6) {
        case 0: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 1: b[at] = static_cast<uint8_t>(rng()); break;
        case 2: b[at] = (rng() % 2) ? 0xff : 0x00; break;
        case 3: if (at + 8 <= b.size()) poke<uint64_t>(b, at, uint64_t(1) << (rng() % 64)); break;
        case 4: b.resize(at + 1); break;
        case 5: b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), static_cast<uint8_t>(rng())); break;
      }
    }
    parsed += parses_or_errors<GgufFile>(b);
  }
  EXPECT_GT(parsed, 0);  // some mutations only touch tensor data or padding
}

TEST(GgufHostile, OpenNamesThePath) {
  const std::string empty = tmp_file("empty.gguf");
  std::ofstream(empty).close();
  try {
    GgufFile::open(empty);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(empty), std::string::npos) << e.what();
  }
  EXPECT_THROW(GgufFile::open(std::filesystem::temp_directory_path().string()), Error);
  EXPECT_THROW(GgufFile::open("/nonexistent/trellis.gguf"), Error);
}

// ---- safetensors ---------------------------------------------------------------------

namespace {

Bytes base_st() {
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  std::vector<uint8_t> a(4 * 6, 1), b(2 * 4, 2);
  w.add_tensor_owned("a", DType::F32, SafetensorsShape::row_major({2, 3}), a);  // [0,24)
  w.add_tensor_owned("b", DType::F16, SafetensorsShape::row_major({4}), b);     // [24,32)
  const std::string path = tmp_file("base.safetensors");
  w.write(path);
  return slurp(path);
}

std::string header_of(const Bytes& b) {
  const uint64_t n = peek<uint64_t>(b, 0);
  return std::string(b.begin() + 8, b.begin() + 8 + static_cast<std::ptrdiff_t>(n));
}

// The same file with a new header text (length prefix updated, data kept).
Bytes with_header(const Bytes& base, const std::string& header) {
  const uint64_t old = peek<uint64_t>(base, 0);
  Bytes b(8);
  poke<uint64_t>(b, 0, header.size());
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), base.begin() + 8 + static_cast<std::ptrdiff_t>(old), base.end());
  return b;
}

Bytes replace_in_header(const Bytes& base, const std::string& from, const std::string& to) {
  std::string h = header_of(base);
  const size_t at = h.find(from);
  if (at == std::string::npos) throw std::logic_error("test setup: '" + from + "' not in header " + h);
  h.replace(at, from.size(), to);
  return with_header(base, h);
}

}  // namespace

TEST(SafetensorsHostile, BaseFileIsValid) {
  const Bytes b = base_st();
  EXPECT_EQ(header_of(b).substr(0, 31), R"({"__metadata__":{"format":"pt"})");
  auto f = SafetensorsFile::parse(b.data(), b.size(), kLabel);
  EXPECT_EQ(f->tensors().size(), 2u);
}

TEST(SafetensorsHostile, HeaderLength) {
  const Bytes base = base_st();
  EXPECT_TRUE(st_rejects(Bytes{}, "too small"));
  EXPECT_TRUE(st_rejects(Bytes(7, 0), "too small"));
  Bytes b = base;
  poke<uint64_t>(b, 0, base.size() - 7);
  EXPECT_TRUE(st_rejects(b, "runs past the end"));
  poke<uint64_t>(b, 0, std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(st_rejects(b, "runs past the end"));
  poke<uint64_t>(b, 0, 0);
  EXPECT_TRUE(st_rejects(b, "not valid JSON"));
  poke<uint64_t>(b, 0, peek<uint64_t>(base, 0) + 8);  // header swallows the start of the data
  EXPECT_TRUE(st_rejects(b, "not valid JSON"));
}

TEST(SafetensorsHostile, TruncationAtEveryByte) {
  const Bytes base = base_st();
  for (size_t n = 0; n < base.size(); ++n) {
    const Bytes b(base.begin(), base.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(parses_or_errors<SafetensorsFile>(b)) << "prefix of " << n << " bytes";
  }
}

TEST(SafetensorsHostile, BrokenJson) {
  const Bytes base = base_st();
  std::string h = header_of(base);
  EXPECT_TRUE(st_rejects(with_header(base, h.substr(0, h.rfind('}'))), "not valid JSON"));
  EXPECT_TRUE(st_rejects(with_header(base, "[]"), "not a JSON object"));
  EXPECT_TRUE(st_rejects(with_header(base, "\"str\""), "not a JSON object"));
  EXPECT_TRUE(st_rejects(with_header(base, std::string(100000, '[') + std::string(100000, ']')), "not a JSON object"));
  EXPECT_TRUE(st_rejects(with_header(base, std::string(100000, '[')), "not valid JSON"));
  std::string deep_obj;
  for (int i = 0; i < 50000; ++i) deep_obj += "{\"a\":";
  EXPECT_TRUE(st_rejects(with_header(base, deep_obj), "not valid JSON"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "\"a\"", "\"\xff\""), "not valid JSON"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "\"a\"", "\"\xc0\xae\""), "not valid JSON"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "{\"format\":\"pt\"}", "\"pt\""), "__metadata__ is not an object"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "\"b\":{", "\"a\":{"), "duplicate header entry 'a'"));
}

TEST(SafetensorsHostile, MissingOrMistypedFields) {
  const Bytes base = base_st();
  const char* need = "needs dtype, shape and two data_offsets";
  EXPECT_TRUE(st_rejects(replace_in_header(base, "\"dtype\":\"F16\",", ""), need));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "\"shape\":[4],", ""), need));
  EXPECT_TRUE(st_rejects(replace_in_header(base, ",\"data_offsets\":[24,32]", ""), need));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[24,32]", "[24]"), need));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[24,32]", "[24,32,40]"), need));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "\"F16\"", "16"), need));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[4]", "4"), need));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]}", "\"b\":7"), need));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[24,32]", "[\"24\",32]"), "bad data_offsets"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[24,32]", "[-8,32]"), "bad data_offsets"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[24,32]", "[24.0,32]"), "bad data_offsets"));
}

TEST(SafetensorsHostile, DtypesAndShapes) {
  const Bytes base = base_st();
  for (const char* dt : {"\"F8_E4M3\"", "\"I64\"", "\"f16\"", "\"\""}) {
    EXPECT_TRUE(st_rejects(replace_in_header(base, "\"F16\"", dt), "unsupported dtype")) << dt;
  }
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[2,3]", "[2,4]"), "need"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[2,3]", "[3,2,1,1,1]"), "dimensions"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[2,3]", "[1099511627776,1099511627776]"), "overflows"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[2,3]", "[18446744073709551615,1]"), "overflows"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[2,3]", "[99999999999999999999999,1]"), "bad shape"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[2,3]", "[-2,-3]"), "bad shape"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[2,3]", "[2.0,3]"), "bad shape"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[2,3]", "[2,0]"), "need"));
  EXPECT_TRUE(st_rejects(replace_in_header(replace_in_header(base, "[2,3]", "[0]"), "[0,24]", "[0,0]"), "empty"));
}

TEST(SafetensorsHostile, Offsets) {
  const Bytes base = base_st();
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[24,32]", "[32,24]"), "runs past the end"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[4],\"data_offsets\":[24,32]", "[8],\"data_offsets\":[24,40]"), "runs past the end"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[24,32]", "[18446744073709551608,18446744073709551615]"), "runs past the end"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[24,32]", "[16,24]"), "overlap"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[24,32]", "[0,8]"), "overlap"));
  EXPECT_TRUE(st_rejects(replace_in_header(base, "[24,32]", "[20,28]"), "overlap"));
}

TEST(SafetensorsHostile, RandomMutationsThrowOrParse) {
  const Bytes base = base_st();
  std::mt19937 rng(777);
  const std::string digits = "0123456789[]{},:\"-.eE ";
  int parsed = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    Bytes b = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % b.size();
      switch (rng() % 5) {
        case 0: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 1: b[at] = static_cast<uint8_t>(digits[rng() % digits.size()]); break;  // JSON-ish bytes
        case 2: b[at] = static_cast<uint8_t>(rng()); break;
        case 3: b.resize(at + 1); break;
        case 4: b.erase(b.begin() + static_cast<std::ptrdiff_t>(at)); if (b.empty()) b.push_back(0); break;
      }
    }
    parsed += parses_or_errors<SafetensorsFile>(b);
  }
  EXPECT_GT(parsed, 0);
}

TEST(SafetensorsHostile, OpenNamesThePath) {
  const std::string empty = tmp_file("empty.safetensors");
  std::ofstream(empty).close();
  try {
    SafetensorsFile::open(empty);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(empty), std::string::npos) << e.what();
  }
}

// Regenerates the fuzzer seeds in fuzz/corpus from writer output:
//   TRELLIS_WRITE_FUZZ_CORPUS=fuzz/corpus ./build/trellis_tests --gtest_filter=FuzzCorpus.*
TEST(FuzzCorpus, WriteSeeds) {
  const char* root = std::getenv("TRELLIS_WRITE_FUZZ_CORPUS");
  if (!root) GTEST_SKIP() << "set TRELLIS_WRITE_FUZZ_CORPUS=<dir> to regenerate the fuzz seeds";
  const std::filesystem::path g = std::filesystem::path(root) / "gguf";
  const std::filesystem::path s = std::filesystem::path(root) / "safetensors";
  std::filesystem::create_directories(g);
  std::filesystem::create_directories(s);
  auto save = [](const std::filesystem::path& p, const Bytes& b) {
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  };
  auto written = [](auto& w, const std::string& name) {
    const std::string path = tmp_file(name);
    w.write(path);
    return slurp(path);
  };
  Bytes base = base_gguf();
  save(g / "base.gguf", base);
  poke<uint32_t>(base, 4, 2);
  save(g / "base_v2.gguf", base);
  save(g / "nested.gguf", gguf_with_raw_kv("deep", nested_arrays(5)));
  {
    GgufWriter w;
    save(g / "empty.gguf", written(w, "empty.gguf"));
    w.set_alignment(64);
    w.set_u8("u8", 1);
    w.set_i8("i8", -1);
    w.set_u16("u16", 2);
    w.set_i16("i16", -2);
    w.set_i32("i32", -3);
    w.set_u64("u64", 4);
    w.set_i64("i64", -5);
    w.set_f32("f32", 0.5f);
    w.set_f64("f64", 0.25);
    w.set_array_string("strs", {"a", "bc", ""});
    w.set_array_f32("f32s", {1.0f, 2.0f});
    w.set_array_floats("f64s", GgufType::FLOAT64, {3.0});
    w.set_array_ints("bools", GgufType::BOOL, {0, 1});
    w.set_array_ints("i64s", GgufType::INT64, {-1});
    const Bytes q4k(144, 0x11), f16(2 * 8, 0x22);
    w.add_tensor_owned("q4k", DType::Q4_K, {256, 1, 1, 1}, 1, q4k);
    w.add_tensor_owned("f16", DType::F16, {2, 2, 2, 1}, 3, f16);
    save(g / "all_types.gguf", written(w, "all_types.gguf"));
  }
  save(s / "base.safetensors", base_st());
  {
    SafetensorsWriter w;
    save(s / "empty.safetensors", written(w, "empty.safetensors"));
    w.add_tensor_owned("bf", DType::BF16, SafetensorsShape::row_major({1, 2, 1, 2}), Bytes(8, 0x33));
    w.add_tensor_owned("scalar", DType::F32, SafetensorsShape::row_major({}), Bytes(4, 0x44));
    save(s / "bf16_scalar.safetensors", written(w, "bf16_scalar.safetensors"));
  }
}
