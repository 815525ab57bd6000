#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "test_paths.h"

using namespace trellis;
using trellis::test::shared_path;

TEST(GgufRead, Stories260K) {
  TRELLIS_REQUIRE_SHARED("models/stories260K/stories260K.gguf");
  auto f = GgufFile::open(shared_path("models/stories260K/stories260K.gguf"));
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.embedding_length"), 64);
  EXPECT_EQ(f->get_int("llama.block_count"), 5);
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens").size(), 512u);
  const TensorView* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->ne[0], 64);
  EXPECT_EQ(emb->ne[1], 512);
}

TEST(GgufRead, AllSharedVocabsParse) {
  for (const char* name : {"llama-spm", "gpt-2", "phi-3", "deepseek-llm", "falcon", "starcoder"}) {
    const std::string rel = std::string("vocab/ggml-vocab-") + name + ".gguf";
    if (!std::filesystem::exists(shared_path(rel))) GTEST_SKIP() << "missing ../shared/" << rel;
    auto f = GgufFile::open(shared_path(rel));
    EXPECT_GT(f->get_string_array("tokenizer.ggml.tokens").size(), 1000u) << name;
  }
}

// ---- GgufWriter ----------------------------------------------------------------------


namespace {

// A per-process scratch directory, removed when the test binary exits.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() : path(std::filesystem::temp_directory_path() / ("trellis_gguf_test_" + std::to_string(::getpid()))) {
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

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Deep equality of two metadata values (floats compared bit-exactly via ==).
::testing::AssertionResult same_value(const GgufValue& a, const GgufValue& b) {
  if (a.type != b.type) return ::testing::AssertionFailure() << "type " << gguf_type_name(a.type) << " vs " << gguf_type_name(b.type);
  if (a.type == GgufType::ARRAY) {
    if (a.array_type != b.array_type) return ::testing::AssertionFailure() << "array type differs";
    if (a.ints != b.ints || a.floats != b.floats || a.strings != b.strings) return ::testing::AssertionFailure() << "array elements differ";
    if (a.nested.size() != b.nested.size()) return ::testing::AssertionFailure() << "nested size differs";
    for (size_t i = 0; i < a.nested.size(); ++i) {
      auto r = same_value(a.nested[i], b.nested[i]);
      if (!r) return r << " (nested element " << i << ")";
    }
    return ::testing::AssertionSuccess();
  }
  if (a.int_value != b.int_value || a.float_value != b.float_value || a.string_value != b.string_value) {
    return ::testing::AssertionFailure() << gguf_value_to_string(a) << " vs " << gguf_value_to_string(b);
  }
  return ::testing::AssertionSuccess();
}

GgufValue nested_value() {
  // [[1, 2], ["x", "y", ""], [[0.5], []], []]
  GgufValue ints;
  ints.type = GgufType::ARRAY;
  ints.array_type = GgufType::INT16;
  ints.ints = {1, -2};
  GgufValue strs;
  strs.type = GgufType::ARRAY;
  strs.array_type = GgufType::STRING;
  strs.strings = {"x", "y", ""};
  GgufValue inner_f;
  inner_f.type = GgufType::ARRAY;
  inner_f.array_type = GgufType::FLOAT64;
  inner_f.floats = {0.5};
  GgufValue inner_empty;
  inner_empty.type = GgufType::ARRAY;
  inner_empty.array_type = GgufType::UINT8;
  GgufValue arr_of_arr;
  arr_of_arr.type = GgufType::ARRAY;
  arr_of_arr.array_type = GgufType::ARRAY;
  arr_of_arr.nested = {inner_f, inner_empty};
  GgufValue top;
  top.type = GgufType::ARRAY;
  top.array_type = GgufType::ARRAY;
  top.nested = {ints, strs, arr_of_arr, inner_empty};
  return top;
}

void set_all_types(GgufWriter& w) {
  w.set_string("general.architecture", "llama");
  w.set_string("t.string.empty", "");
  w.set_string("t.string.utf8", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80");
  w.set_u8("t.u8", 255);
  w.set_i8("t.i8", -128);
  w.set_u16("t.u16", 65535);
  w.set_i16("t.i16", -32768);
  w.set_u32("t.u32", 0xffffffffu);
  w.set_i32("t.i32", std::numeric_limits<int32_t>::min());
  w.set_u64("t.u64", std::numeric_limits<uint64_t>::max());
  w.set_i64("t.i64", std::numeric_limits<int64_t>::min());
  w.set_f32("t.f32", -1.5e-7f);
  w.set_f64("t.f64", 3.141592653589793);
  w.set_bool("t.bool.true", true);
  w.set_bool("t.bool.false", false);
  w.set_array_string("t.arr.str", {"a", "", "\xe4\xb8\xad", std::string("nul\0inside", 10)});
  w.set_array_f32("t.arr.f32", {1.0f, -0.25f, 1e30f});
  w.set_array_i32("t.arr.i32", {0, -1, 2147483647});
  w.set_array_ints("t.arr.u8", GgufType::UINT8, {0, 255});
  w.set_array_ints("t.arr.i8", GgufType::INT8, {-128, 127});
  w.set_array_ints("t.arr.u16", GgufType::UINT16, {65535});
  w.set_array_ints("t.arr.i16", GgufType::INT16, {-32768});
  w.set_array_ints("t.arr.u32", GgufType::UINT32, {4294967295ll});
  w.set_array_ints("t.arr.u64", GgufType::UINT64, {-1});
  w.set_array_ints("t.arr.i64", GgufType::INT64, {std::numeric_limits<int64_t>::max()});
  w.set_array_ints("t.arr.bool", GgufType::BOOL, {1, 0, 1});
  w.set_array_ints("t.arr.empty", GgufType::UINT32, {});
  w.set_array_floats("t.arr.f64", GgufType::FLOAT64, {1e300, -0.0});
  w.set_value("t.arr.nested", nested_value());
}

}  // namespace

TEST(GgufWriter, RoundTripsEveryValueTypeAndTensorBytes) {
  GgufWriter w;
  set_all_types(w);
  const auto f32 = random_bytes(4 * 3 * 5, 1);
  const auto f16 = random_bytes(2 * 7, 2);
  const auto q8 = random_bytes(34 * 2 * 3, 3);
  const auto q4k = random_bytes(144 * 1, 4);
  w.add_tensor("a.f32", DType::F32, {3, 5, 1, 1}, 2, f32.data());
  w.add_tensor_owned("b.f16", DType::F16, {7, 1, 1, 1}, 1, f16);
  w.add_tensor_generated("c.q8_0", DType::Q8_0, {64, 1, 3, 1}, 3,
                         [&](uint8_t* dst, size_t n) { ASSERT_EQ(n, q8.size()); std::memcpy(dst, q8.data(), n); });
  w.add_tensor("d.q4_k", DType::Q4_K, {256, 1, 1, 1}, 4, q4k.data());
  const std::string path = tmp_file("all_types.gguf");
  std::vector<std::pair<size_t, size_t>> calls;
  w.write(path, [&](size_t done, size_t total) { calls.emplace_back(done, total); });

  const size_t total = f32.size() + f16.size() + q8.size() + q4k.size();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls.back(), std::make_pair(total, total));

  auto f = GgufFile::open(path);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  ASSERT_EQ(f->key_order().size(), w.metadata().size());
  for (size_t i = 0; i < w.metadata().size(); ++i) {
    const auto& [key, val] = w.metadata()[i];
    EXPECT_EQ(f->key_order()[i], key);
    ASSERT_TRUE(f->has(key)) << key;
    EXPECT_TRUE(same_value(*f->find(key), val)) << key;
  }
  EXPECT_EQ(static_cast<uint64_t>(f->get_int("t.u64")), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(f->get_float("t.f32"), static_cast<double>(-1.5e-7f));

  const std::vector<std::pair<const char*, const std::vector<uint8_t>*>> expect = {
      {"a.f32", &f32}, {"b.f16", &f16}, {"c.q8_0", &q8}, {"d.q4_k", &q4k}};
  ASSERT_EQ(f->tensors().size(), 4u);
  for (size_t i = 0; i < expect.size(); ++i) {
    const auto& info = f->tensors()[i];
    EXPECT_EQ(info.view.name, expect[i].first);
    EXPECT_EQ(info.offset % 32, 0u);
    ASSERT_EQ(info.view.nbytes, expect[i].second->size());
    EXPECT_EQ(0, std::memcmp(info.view.data, expect[i].second->data(), info.view.nbytes)) << info.view.name;
  }
  const TensorView* c = f->find_tensor("c.q8_0");
  EXPECT_EQ(c->n_dims, 3);
  EXPECT_EQ(c->ne, (std::array<int64_t, 4>{64, 1, 3, 1}));
  EXPECT_EQ(f->find_tensor("d.q4_k")->n_dims, 4);
  EXPECT_EQ(std::filesystem::file_size(path) % 32, 0u);
}

TEST(GgufWriter, HonoursCustomAlignment) {
  for (uint32_t align : {1u, 8u, 64u, 4096u}) {
    GgufWriter w;
    w.set_alignment(align);
    const auto a = random_bytes(4 * 3, 5), b = random_bytes(2 * 5, 6);
    w.add_tensor("a", DType::F32, {3, 1, 1, 1}, 1, a.data());
    w.add_tensor("b", DType::F16, {5, 1, 1, 1}, 1, b.data());
    const std::string path = tmp_file("align.gguf");
    w.write(path);
    auto f = GgufFile::open(path);
    EXPECT_EQ(f->alignment(), align);
    EXPECT_EQ(f->data_offset() % align, 0u);
    EXPECT_EQ(f->tensors()[1].offset, (12 + align - 1) / align * align);
    EXPECT_EQ(0, std::memcmp(f->find_tensor("b")->data, b.data(), b.size()));
    EXPECT_EQ(std::filesystem::file_size(path) % align, 0u);
  }
}

// The whole file of a tiny case, built by hand from the GGUF v3 spec.
TEST(GgufWriter, TinyFileMatchesHandBuiltBytes) {
  GgufWriter w;
  w.set_u32("n", 7);
  w.set_array_string("s", {"ab"});
  const float vals[3] = {1.0f, 2.0f, -3.0f};
  w.add_tensor("t", DType::F32, {3, 1, 1, 1}, 1, vals);
  w.add_tensor("u", DType::F32, {1, 1, 1, 1}, 1, vals);
  const std::string path = tmp_file("tiny.gguf");
  w.write(path);

  std::vector<uint8_t> e;
  auto put = [&](auto x) { const auto* p = reinterpret_cast<const uint8_t*>(&x); e.insert(e.end(), p, p + sizeof(x)); };
  auto str = [&](const std::string& s) { put(uint64_t(s.size())); e.insert(e.end(), s.begin(), s.end()); };
  e.insert(e.end(), {'G', 'G', 'U', 'F'});
  put(uint32_t(3));                                // version
  put(uint64_t(2));                                // tensors
  put(uint64_t(2));                                // kv
  str("n"); put(uint32_t(4)); put(uint32_t(7));    // UINT32
  str("s"); put(uint32_t(9)); put(uint32_t(8)); put(uint64_t(1)); str("ab");  // ARRAY of STRING
  str("t"); put(uint32_t(1)); put(int64_t(3)); put(uint32_t(0)); put(uint64_t(0));
  str("u"); put(uint32_t(1)); put(int64_t(1)); put(uint32_t(0)); put(uint64_t(32));
  ASSERT_EQ(e.size(), 24u + 17 + 35 + 33 + 33);
  e.resize(160, 0);                                // pad header to 32
  for (float v : vals) put(v);                     // t at data offset 0
  e.resize(160 + 32, 0);                           // pad to u's offset 32
  put(vals[0]);
  e.resize(160 + 64, 0);                           // file ends aligned
  EXPECT_EQ(slurp(path), e);
  EXPECT_EQ(w.header_bytes(), std::vector<uint8_t>(e.begin(), e.begin() + 142));
}

TEST(GgufWriter, PassthroughOfRealModelIsByteIdentical) {
  TRELLIS_REQUIRE_SHARED("models/stories260K/stories260K.gguf");
  const std::string src = shared_path("models/stories260K/stories260K.gguf");
  auto f = GgufFile::open(src);
  GgufWriter w;
  for (const auto& key : f->key_order()) w.set_value(key, *f->find(key));
  for (const auto& t : f->tensors()) w.add_tensor(t.view);
  const std::string path = tmp_file("passthrough.gguf");
  w.write(path);
  auto g = GgufFile::open(path);
  ASSERT_EQ(g->key_order(), f->key_order());
  for (const auto& key : f->key_order()) EXPECT_TRUE(same_value(*g->find(key), *f->find(key))) << key;
  ASSERT_EQ(g->tensors().size(), f->tensors().size());
  for (size_t i = 0; i < f->tensors().size(); ++i) {
    const TensorView& a = f->tensors()[i].view;
    const TensorView& b = g->tensors()[i].view;
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.ne, b.ne);
    EXPECT_EQ(a.type, b.type);
    ASSERT_EQ(a.nbytes, b.nbytes);
    EXPECT_EQ(0, std::memcmp(a.data, b.data, a.nbytes)) << a.name;
  }
  if (f->version() == 3) {
    // Same layout rules as llama.cpp's writer, so the whole file comes out identical.
    EXPECT_TRUE(slurp(src) == slurp(path));
  }
}

TEST(GgufWriter, RejectsInvalidInputWithClearErrors) {
  GgufWriter w;
  const float x[4] = {};
  auto throws_with = [](auto fn, const std::string& needle) {
    try {
      fn();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "no Error thrown; expected one mentioning " << needle;
  };
  throws_with([&] { w.set_alignment(0); }, "general.alignment");
  throws_with([&] { w.set_alignment(3); }, "general.alignment");
  throws_with([&] { w.set_u64("general.alignment", uint64_t(1) << 40); }, "general.alignment");
  throws_with([&] { w.set_string("", "x"); }, "empty metadata key");
  throws_with([&] { w.set_u32("bad\xff", 1); }, "UTF-8");
  throws_with([&] { w.set_array_ints("k", GgufType::UINT8, {256}); }, "does not fit");
  throws_with([&] { w.set_array_ints("k", GgufType::STRING, {1}); }, "not an integer type");
  throws_with([&] { w.set_array_floats("k", GgufType::INT32, {1}); }, "not a float type");
  GgufValue bad;
  bad.type = GgufType::UINT16;
  bad.int_value = -1;
  throws_with([&] { w.set_value("k", bad); }, "does not fit");
  bad.type = static_cast<GgufType>(13);
  throws_with([&] { w.set_value("k", bad); }, "unknown value type");
  GgufValue mixed;
  mixed.type = GgufType::ARRAY;
  mixed.array_type = GgufType::STRING;
  mixed.ints = {1};
  throws_with([&] { w.set_value("k", mixed); }, "do not match");
  GgufValue deep;
  deep.type = GgufType::ARRAY;
  deep.array_type = GgufType::UINT8;
  for (int i = 0; i < 5; ++i) {
    GgufValue up;
    up.type = GgufType::ARRAY;
    up.array_type = GgufType::ARRAY;
    up.nested = {deep};
    deep = up;
  }
  w.set_value("deep.ok", deep.nested[0]);  // 5 levels of arrays: the reader's limit
  throws_with([&] { w.set_value("deep.bad", deep); }, "nested deeper");

  w.add_tensor("t", DType::F32, {4, 1, 1, 1}, 1, x);
  throws_with([&] { w.add_tensor("t", DType::F32, {4, 1, 1, 1}, 1, x); }, "duplicate tensor 't'");
  throws_with([&] { w.add_tensor("z", DType::F32, {4, 1, 1, 1}, 0, x); }, "dimensions");
  throws_with([&] { w.add_tensor("z", DType::F32, {4, 1, 1, 1}, 5, x); }, "dimensions");
  throws_with([&] { w.add_tensor("z", DType::F32, {4, 0, 1, 1}, 2, x); }, "size 0");
  throws_with([&] { w.add_tensor("z", DType::F32, {4, 2, 1, 1}, 1, x); }, "beyond");
  throws_with([&] { w.add_tensor("z", DType::F32, {int64_t(1) << 40, int64_t(1) << 40, 1, 1}, 2, x); }, "overflows");
  throws_with([&] { w.add_tensor("z", DType::Q8_0, {33, 1, 1, 1}, 1, x); }, "block size");
  throws_with([&] { w.add_tensor("z", static_cast<DType>(4), {32, 1, 1, 1}, 1, x); }, "unknown type id");
  throws_with([&] { w.add_tensor(std::string(64, 'n'), DType::F32, {4, 1, 1, 1}, 1, x); }, "longer than");
  throws_with([&] { w.add_tensor_owned("z", DType::F32, {4, 1, 1, 1}, 1, std::vector<uint8_t>(15)); }, "needs 16");
  EXPECT_EQ(w.tensor_count(), 1u);
  EXPECT_EQ(w.find("deep.bad"), nullptr);
}

TEST(GgufWriter, ResettingAKeyKeepsItsPositionAndRemoveWorks) {
  GgufWriter w;
  w.set_u32("a", 1);
  w.set_u32("b", 2);
  w.set_string("a", "now a string");
  ASSERT_EQ(w.metadata().size(), 2u);
  EXPECT_EQ(w.metadata()[0].first, "a");
  EXPECT_EQ(w.metadata()[0].second.type, GgufType::STRING);
  EXPECT_TRUE(w.remove("a"));
  EXPECT_FALSE(w.remove("a"));
  EXPECT_EQ(w.find("b")->int_value, 2);
}

TEST(GgufWriter, FailedWriteLeavesOldFileAndNoTempFiles) {
  const std::string path = tmp_file("atomic.gguf");
  {
    GgufWriter w;
    w.set_string("version", "old");
    w.write(path);
  }
  const auto before = slurp(path);
  GgufWriter w;
  w.set_string("version", "new");
  w.add_tensor_generated("t", DType::F32, {4, 1, 1, 1}, 1, [](uint8_t*, size_t) { fail("producer gave up"); });
  EXPECT_THROW(w.write(path), Error);
  EXPECT_EQ(slurp(path), before);
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
    EXPECT_EQ(e.path().filename().string().find("atomic.gguf.tmp"), std::string::npos) << e.path();
  }
  try {
    GgufWriter().write("/nonexistent-dir-trellis/x.gguf");
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir-trellis/x.gguf"), std::string::npos) << e.what();
  }
}
