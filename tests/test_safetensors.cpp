#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "core/error.h"
#include "formats/safetensors.h"
#include "formats/safetensors_writer.h"
#include "test_paths.h"

using namespace trellis;
using trellis::test::shared_path;

namespace {

// A per-process scratch directory, removed when the test binary exits.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() : path(std::filesystem::temp_directory_path() / ("trellis_st_test_" + std::to_string(::getpid()))) {
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

}  // namespace

TEST(SafetensorsRead, Stories260KCheckpoint) {
  TRELLIS_REQUIRE_SHARED("models/stories260K/hf/model.safetensors");
  auto ck = SafetensorsCheckpoint::open_dir(shared_path("models/stories260K/hf"));
  const TensorView* emb = ck->find_tensor("model.embed_tokens.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->ne[0], 64);
  EXPECT_EQ(emb->ne[1], 512);
  EXPECT_EQ(ck->files()[0]->metadata().at("format"), "pt");
  // Tensors come back in data order.
  const auto& ts = ck->files()[0]->tensors();
  for (size_t i = 1; i < ts.size(); ++i) EXPECT_EQ(ts[i].data, ts[i - 1].data + ts[i - 1].nbytes);
}

TEST(SafetensorsShape, FromNeReversesGgufOrder) {
  EXPECT_EQ(SafetensorsShape::from_ne({64, 512, 1, 1}, 2).dims, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(SafetensorsShape::from_ne({2, 3, 4, 5}, 4).dims, (std::vector<int64_t>{5, 4, 3, 2}));
  EXPECT_TRUE(SafetensorsShape::from_ne({1, 1, 1, 1}, 0).dims.empty());
}

TEST(SafetensorsWriter, RoundTripsTensorsShapesAndMetadata) {
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  w.set_metadata("note", "caf\xc3\xa9 \"quoted\" \\ \n");
  const auto h16 = random_bytes(2 * 3, 1);        // F16 [3]
  const auto f32 = random_bytes(4 * 2 * 3, 2);    // F32 [2,3]
  const auto bf = random_bytes(2 * 4 * 1 * 2, 3); // BF16 [4,1,2]
  const auto sc = random_bytes(4, 4);             // F32 scalar []
  w.add_tensor("half", DType::F16, SafetensorsShape::row_major({3}), h16.data());
  w.add_tensor_owned("w.weight", DType::F32, SafetensorsShape::from_ne({3, 2, 1, 1}, 2), f32);
  w.add_tensor_generated("bf", DType::BF16, SafetensorsShape::row_major({4, 1, 2}),
                         [&](uint8_t* dst, size_t n) { ASSERT_EQ(n, bf.size()); std::memcpy(dst, bf.data(), n); });
  w.add_tensor("scalar", DType::F32, SafetensorsShape::row_major({}), sc.data());
  const std::string path = tmp_file("rt.safetensors");
  size_t last_done = 0, calls = 0;
  w.write(path, [&](size_t done, size_t total) { last_done = done; ++calls; EXPECT_LE(done, total); });
  EXPECT_EQ(calls, 4u);
  EXPECT_EQ(last_done, h16.size() + f32.size() + bf.size() + sc.size());

  auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->metadata().at("note"), "caf\xc3\xa9 \"quoted\" \\ \n");
  // 4-byte tensors first (insertion order kept within a size class).
  ASSERT_EQ(f->tensors().size(), 4u);
  const char* order[] = {"w.weight", "scalar", "half", "bf"};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f->tensors()[i].name, order[i]);
  const uint8_t* base = f->tensors()[0].data;  // data section start (header padded to 8)
  for (const auto& t : f->tensors()) {
    EXPECT_EQ((t.data - base) % dtype_info(t.type).block_bytes, 0) << t.name;
  }
  auto check = [&](const char* name, DType type, std::array<int64_t, 4> ne, int n_dims, const std::vector<uint8_t>& bytes) {
    const TensorView* t = f->find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->type, type);
    EXPECT_EQ(t->ne, ne) << name;
    EXPECT_EQ(t->n_dims, n_dims);
    ASSERT_EQ(t->nbytes, bytes.size());
    EXPECT_EQ(0, std::memcmp(t->data, bytes.data(), bytes.size())) << name;
  };
  check("half", DType::F16, {3, 1, 1, 1}, 1, h16);
  check("w.weight", DType::F32, {3, 2, 1, 1}, 2, f32);
  check("bf", DType::BF16, {2, 1, 4, 1}, 3, bf);
  check("scalar", DType::F32, {1, 1, 1, 1}, 0, sc);
}

// Layout of the reference implementation, built by hand.
TEST(SafetensorsWriter, TinyFileMatchesHandBuiltBytes) {
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  const float v[2] = {1.0f, -2.0f};
  w.add_tensor("w", DType::F32, SafetensorsShape::row_major({2}), v);
  const std::string path = tmp_file("tiny.safetensors");
  w.write(path);
  std::string json = R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  ASSERT_EQ(json.size(), 85u);
  json += "   ";  // padded with spaces to a multiple of 8
  std::vector<uint8_t> e(8);
  const uint64_t n = json.size();
  std::memcpy(e.data(), &n, 8);
  e.insert(e.end(), json.begin(), json.end());
  const auto* p = reinterpret_cast<const uint8_t*>(v);
  e.insert(e.end(), p, p + 8);
  EXPECT_EQ(slurp(path), e);
  EXPECT_EQ(w.header_bytes(), std::vector<uint8_t>(e.begin(), e.end() - 8));
}

// Files written by the reference implementation come out byte-identical after a passthrough.
TEST(SafetensorsWriter, PassthroughOfReferenceFilesIsByteIdentical) {
  for (const char* rel : {"models/stories260K/hf/model.safetensors",
                          "adapters/smollm135m-medical-lora/adapter_model.safetensors"}) {
    if (!std::filesystem::exists(shared_path(rel))) GTEST_SKIP() << "missing ../shared/" << rel;
    auto f = SafetensorsFile::open(shared_path(rel));
    SafetensorsWriter w;
    for (const auto& [k, v] : f->metadata()) w.set_metadata(k, v);
    for (const auto& t : f->tensors()) w.add_tensor(t.name, t.type, SafetensorsShape::from_ne(t.ne, t.n_dims), t.data);
    const std::string path = tmp_file("passthrough.safetensors");
    w.write(path);
    EXPECT_TRUE(slurp(path) == slurp(shared_path(rel))) << rel;
  }
}

TEST(SafetensorsWriter, RejectsInvalidInput) {
  SafetensorsWriter w;
  const float x[4] = {};
  w.add_tensor("t", DType::F32, SafetensorsShape::row_major({4}), x);
  EXPECT_THROW(w.add_tensor("t", DType::F32, SafetensorsShape::row_major({4}), x), Error);
  EXPECT_THROW(w.add_tensor("__metadata__", DType::F32, SafetensorsShape::row_major({4}), x), Error);
  EXPECT_THROW(w.add_tensor("", DType::F32, SafetensorsShape::row_major({4}), x), Error);
  EXPECT_THROW(w.add_tensor("q", DType::Q8_0, SafetensorsShape::row_major({32}), x), Error);
  EXPECT_THROW(w.add_tensor("z", DType::F32, SafetensorsShape::row_major({0}), x), Error);
  EXPECT_THROW(w.add_tensor("z", DType::F32, SafetensorsShape::row_major({-1}), x), Error);
  EXPECT_THROW(w.add_tensor("z", DType::F32, SafetensorsShape::row_major({1, 1, 1, 1, 1}), x), Error);
  EXPECT_THROW(w.add_tensor("z", DType::F32, SafetensorsShape::row_major({1 << 30, 1 << 30}), x), Error);
  EXPECT_THROW(w.add_tensor_owned("z", DType::F32, SafetensorsShape::row_major({4}), std::vector<uint8_t>(3)), Error);
  EXPECT_EQ(w.tensor_count(), 1u);
  w.add_tensor("bad\xff", DType::F32, SafetensorsShape::row_major({4}), x);
  const std::string path = tmp_file("bad_utf8.safetensors");
  try {
    w.write(path);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SafetensorsWriter, FailedWriteLeavesOldFile) {
  const std::string path = tmp_file("atomic.safetensors");
  const float x[2] = {1, 2};
  SafetensorsWriter ok;
  ok.add_tensor("a", DType::F32, SafetensorsShape::row_major({2}), x);
  ok.write(path);
  const auto before = slurp(path);
  SafetensorsWriter bad;
  bad.add_tensor_generated("a", DType::F32, SafetensorsShape::row_major({2}),
                           [](uint8_t*, size_t) { fail("producer failed"); });
  EXPECT_THROW(bad.write(path), Error);
  EXPECT_EQ(slurp(path), before);
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
    n += e.path().filename().string().find(".tmp.") != std::string::npos;
  }
  EXPECT_EQ(n, 0u);
}
