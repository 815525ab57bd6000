// `trellis inspect`: text and JSON reports on GGUF files and Hugging Face directories.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "test_paths.h"

using namespace trellis::test;
using nlohmann::json;

namespace {

TEST(Inspect, Stories260KText) {
  TRELLIS_REQUIRE_SHARED("models/stories260K/stories260K.gguf");
  const CliResult r = run_cli({"inspect", shared_path("models/stories260K/stories260K.gguf")});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  for (const char* want : {"architecture:  llama", "embedding_length       64", "block_count            5",
                           "head_count             8", "head_count_kv          4", "feed_forward_length    172",
                           "vocab_size             512", "bos_token_id           1", "eos_token_id           2",
                           "chat template: none", "blk.4.ffn_down.weight", "292800 params"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
}

TEST(Inspect, Stories260KJson) {
  TRELLIS_REQUIRE_SHARED("models/stories260K/stories260K.gguf");
  const CliResult r = run_cli({"inspect", "--json", shared_path("models/stories260K/stories260K.gguf")});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const json j = json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["hparams"]["embedding_length"], 64);
  EXPECT_EQ(j["hparams"]["head_count_kv"], 4);
  EXPECT_EQ(j["hparams"]["rms_norm_eps"], 1e-5);
  EXPECT_EQ(j["tokenizer"]["model"], "llama");
  EXPECT_EQ(j["tokenizer"]["vocab_size"], 512);
  EXPECT_EQ(j["chat_template"], false);
  EXPECT_EQ(j["tensors"].size(), 48u);
  EXPECT_EQ(j["totals"]["params"], 292800);
  EXPECT_DOUBLE_EQ(j["totals"]["bits_per_weight"].get<double>(), 32.0);
  EXPECT_EQ(j["metadata"]["general.architecture"], "llama");
}

TEST(Inspect, HfDirectoryJson) {
  const CliResult r = run_cli({"inspect", "--json", data_path("models/qwen2_tied_f16")});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const json j = json::parse(r.out);
  EXPECT_EQ(j["format"], "huggingface");
  EXPECT_EQ(j["architecture"], "qwen2");
  EXPECT_EQ(j["hparams"]["tied_embeddings"], true);
  EXPECT_TRUE(j["tensor_types"].contains("F16"));
  bool has_bias = false;
  for (const auto& t : j["tensors"]) has_bias |= t["name"] == "model.layers.0.self_attn.q_proj.bias";
  EXPECT_TRUE(has_bias);
}

TEST(Inspect, GeneratedQuantizedModel) {
  TempDir tmp;
  ASSERT_EQ(run_cli({"gen-model", "--shape", "tiny", "--layers", "1", "--type", "Q4_K_M", "-o", tmp.file("m.gguf")}).exit_code, 0);
  const CliResult r = run_cli({"inspect", "--json", tmp.file("m.gguf")});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const json j = json::parse(r.out);
  EXPECT_EQ(j["file_type"], 15);
  EXPECT_TRUE(j["tensor_types"].contains("Q4_K"));
  EXPECT_TRUE(j["tensor_types"].contains("Q6_K"));
  const double bpw = j["totals"]["bits_per_weight"];
  EXPECT_GT(bpw, 4.5);
  EXPECT_LT(bpw, 7.0);
}

TEST(Inspect, VocabOnlyFile) {
  TRELLIS_REQUIRE_SHARED("vocab/ggml-vocab-gpt-2.gguf");
  const CliResult r = run_cli({"inspect", "--json", shared_path("vocab/ggml-vocab-gpt-2.gguf")});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const json j = json::parse(r.out);
  EXPECT_EQ(j["vocab_only"], true);
  EXPECT_EQ(j["tokenizer"]["vocab_size"], 50257);
}

TEST(Inspect, BadInputsGiveOneLineErrors) {
  TempDir tmp;
  std::ofstream(tmp.file("junk.gguf")) << "GGUFjunk";
  for (const std::string& path : {tmp.file("missing.gguf"), tmp.file("junk.gguf"), tmp.path()}) {
    const CliResult r = run_cli({"inspect", path});
    EXPECT_NE(r.exit_code, 0) << path;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  }
}

}  // namespace
