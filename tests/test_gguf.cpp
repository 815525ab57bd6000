#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"
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
