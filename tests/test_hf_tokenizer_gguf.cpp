// Hugging Face checkpoints converted to GGUF carry their tokenizer: `trellis quantize` and
// `trellis train --full` on a random-weight checkpoint with a real tokenizer from
// ../shared/vocab, then the written GGUF's own tokenizer against the reference token ids
// the Hugging Face tokenizers produced, against the tokenizer loaded from the HF files, and
// `trellis run` on the GGUF alone. Plus checkpoints whose tokenizer is missing, malformed,
// or has no exact GGUF form.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli_util.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/safetensors_writer.h"
#include "model/model.h"
#include "model/random_model.h"
#include "test_paths.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/gguf_vocab_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_model.h"
#include "tokenizer_test_util.h"

using namespace trellis;
using namespace trellis::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// ---- a random-weight Hugging Face checkpoint ------------------------------------------

struct TinyShape {
  std::string arch;  // "qwen2" (q/k/v biases) or "llama"
  int64_t vocab, hidden = 32, ff = 64, layers = 1, heads = 4, kv_heads = 2;
};

void write_json(const std::string& path, const json& j) { std::ofstream(path) << j.dump(2); }

json config_json(const TinyShape& s) {
  json c = {{"model_type", s.arch},
            {"architectures", {s.arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
            {"hidden_size", s.hidden},
            {"intermediate_size", s.ff},
            {"num_hidden_layers", s.layers},
            {"num_attention_heads", s.heads},
            {"num_key_value_heads", s.kv_heads},
            {"vocab_size", s.vocab},
            {"max_position_embeddings", 256},
            {"rms_norm_eps", 1e-6},
            {"rope_theta", 10000.0},
            {"hidden_act", "silu"},
            {"tie_word_embeddings", true},
            {"torch_dtype", "float32"}};
  return c;
}

// config.json + model.safetensors with small random weights (norms 1).
void write_random_checkpoint(const std::string& dir, const TinyShape& s) {
  fs::create_directories(dir);
  write_json(dir + "/config.json", config_json(s));
  SafetensorsWriter w;
  uint64_t seed = 1;
  auto add = [&](const std::string& name, std::vector<int64_t> dims, bool norm) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    fill_gaussian(seed++, norm ? 1.0f : 0.0f, norm ? 0.0f : 0.02f, v.data(), n);
    std::vector<uint8_t> bytes(v.size() * sizeof(float));
    std::memcpy(bytes.data(), v.data(), bytes.size());
    w.add_tensor_owned(name, DType::F32, SafetensorsShape::row_major(std::move(dims)), std::move(bytes));
  };
  const int64_t head_dim = s.hidden / s.heads, q = s.heads * head_dim, kv = s.kv_heads * head_dim;
  add("model.embed_tokens.weight", {s.vocab, s.hidden}, false);
  add("model.norm.weight", {s.hidden}, true);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {s.hidden}, true);
    add(p + "post_attention_layernorm.weight", {s.hidden}, true);
    add(p + "self_attn.q_proj.weight", {q, s.hidden}, false);
    add(p + "self_attn.k_proj.weight", {kv, s.hidden}, false);
    add(p + "self_attn.v_proj.weight", {kv, s.hidden}, false);
    add(p + "self_attn.o_proj.weight", {s.hidden, q}, false);
    if (s.arch == "qwen2") {
      add(p + "self_attn.q_proj.bias", {q}, false);
      add(p + "self_attn.k_proj.bias", {kv}, false);
      add(p + "self_attn.v_proj.bias", {kv}, false);
    }
    add(p + "mlp.gate_proj.weight", {s.ff, s.hidden}, false);
    add(p + "mlp.up_proj.weight", {s.ff, s.hidden}, false);
    add(p + "mlp.down_proj.weight", {s.hidden, s.ff}, false);
  }
  w.write(dir + "/model.safetensors");
}

// A ChatML template, as Qwen2's tokenizer_config.json carries one (the shared copy has none).
const std::string kChatTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// Qwen2 (vocab.json + merges.txt, 151,665 tokens) in a 151,936-row checkpoint, as Qwen2.5 pads it.
std::string make_qwen2_checkpoint(const TempDir& tmp) {
  const std::string dir = tmp.file("qwen2-hf");
  write_random_checkpoint(dir, TinyShape{"qwen2", 151936});
  for (const char* f : {"vocab.json", "merges.txt"}) fs::copy_file(shared_path("vocab/qwen2/") + f, dir + "/" + f);
  json config = json::parse(read_text_file(shared_path("vocab/qwen2/tokenizer_config.json")));
  config["chat_template"] = kChatTemplate;
  write_json(dir + "/tokenizer_config.json", config);
  return dir;
}

// Llama 2 (tokenizer.json: SentencePiece-style BPE with byte fallback, 32,000 tokens).
std::string make_llama2_checkpoint(const TempDir& tmp) {
  const std::string dir = tmp.file("llama2-hf");
  write_random_checkpoint(dir, TinyShape{"llama", 32000});
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    fs::copy_file(shared_path("vocab/llama2-hf/") + f, dir + "/" + f);
  }
  return dir;
}

CliResult must_run(const std::vector<std::string>& args) {
  CliResult r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.all();
  return r;
}

// ---- what the written tokenizer must do ------------------------------------------------

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

// Every reference case encodes to the reference ids (no BOS, plain text) and decodes back.
void expect_reference_ids(const Tokenizer& tok, const std::string& inp, const std::string& out) {
  const auto cases = read_vocab_inputs(inp);
  const auto expected = read_vocab_outputs(out);
  ASSERT_EQ(cases.size(), expected.size()) << inp;
  ASSERT_GT(cases.size(), 10u) << inp;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto ids = tok.encode(cases[i], /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(show(ids), show(expected[i])) << inp << " case " << i << ": '" << cases[i] << "'";
    EXPECT_EQ(tok.decode(ids), cases[i]) << inp << " case " << i;
  }
}

// The GGUF tokenizer behaves as the one loaded from the Hugging Face files, beyond the
// reference cases: special and user-defined tokens inside text, BOS/EOS added, every
// token's type and bytes, end-of-generation ids. `made_control`: tokens a GGUF reader makes
// control tokens (llama.cpp's fill-in-the-middle list) that the HF files call not special.
void expect_same_as_hf(const Tokenizer& gguf, const Tokenizer& hf, const std::string& inp,
                       const std::set<int32_t>& made_control = {}) {
  ASSERT_GE(gguf.n_vocab(), hf.n_vocab());
  std::vector<std::string> texts = read_vocab_inputs(inp);
  std::set<int32_t> attr_differs;
  for (int32_t id = 0; id < hf.n_vocab(); ++id) {
    const uint32_t a = hf.model().vocab.at(id).attr;
    if (a & (kAttrControl | kAttrUserDefined)) texts.push_back("A" + hf.token_text(id) + " b\n" + hf.token_text(id) + "c");
    // An empty piece (a gap in the id map, or Llama 2's id 31353 in this tokenizer.json)
    // matches no text and decodes to nothing; it is written as an unused padding token.
    if (gguf.model().vocab.at(id).attr != a && !hf.token_text(id).empty()) attr_differs.insert(id);
    EXPECT_EQ(gguf.token_to_piece(id), hf.token_to_piece(id)) << id;
    EXPECT_EQ(gguf.is_end_of_generation(id), hf.is_end_of_generation(id)) << id;
  }
  EXPECT_EQ(attr_differs, made_control);
  for (int32_t id : made_control) EXPECT_EQ(gguf.model().vocab.at(id).attr, kAttrControl) << id;
  for (const std::string& t : texts) {
    EXPECT_EQ(show(gguf.encode(t, true, true)), show(hf.encode(t, true, true))) << "'" << t << "'";
    bool has_made_control = false;
    for (int32_t id : made_control) has_made_control |= t.find(hf.token_text(id)) != std::string::npos;
    if (!has_made_control) {
      EXPECT_EQ(show(gguf.encode(t, true, false)), show(hf.encode(t, true, false))) << "'" << t << "'";
    }
  }
  EXPECT_EQ(gguf.bos_id(), hf.bos_id());
  EXPECT_EQ(gguf.eos_id(), hf.eos_id());
  EXPECT_EQ(gguf.eot_id(), hf.eot_id());
  EXPECT_EQ(gguf.add_bos(), hf.add_bos());
  EXPECT_EQ(gguf.add_eos(), hf.add_eos());
  EXPECT_EQ(gguf.chat_template(), hf.chat_template());
}

// Id of an added token in a tokenizer_config.json's added_tokens_decoder, read from the file.
int64_t config_added_id(const json& config, const std::string& content) {
  for (auto& [id, t] : config["added_tokens_decoder"].items()) {
    if (t["content"] == content) return std::stoll(id);
  }
  return -1;
}

int64_t merge_lines(const std::string& merges_txt) {
  std::istringstream in(read_text_file(merges_txt));
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty() && line.rfind("#version", 0) != 0;
  return n;
}

// ---- quantize: Qwen2, byte-level BPE -> gpt2 / qwen2 -----------------------------------

TEST(HfTokenizerGguf, Qwen2QuantizedGgufCarriesTheTokenizer) {
  TRELLIS_REQUIRE_SHARED("vocab/qwen2/vocab.json");
  TempDir tmp;
  const std::string dir = make_qwen2_checkpoint(tmp), out = tmp.file("qwen2.gguf");
  const CliResult r = must_run({"quantize", dir, out, "Q8_0"});
  EXPECT_EQ(r.all().find("warning"), std::string::npos) << r.all();

  auto f = GgufFile::open(out);
  const json config = json::parse(read_text_file(dir + "/tokenizer_config.json"));
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "qwen2");
  const auto tokens = f->get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 151936u);  // one per embedding row, as llama.cpp wants
  EXPECT_EQ(tokens[151935], "[PAD151935]");
  const std::vector<double> types = f->get_number_array("tokenizer.ggml.token_type");
  EXPECT_EQ(types[151935], 5);  // unused
  EXPECT_EQ(types[config_added_id(config, "<|im_start|>")], 3);  // control
  EXPECT_EQ(types[100], 1);                                      // a vocab.json piece: normal
  EXPECT_EQ(static_cast<int64_t>(f->get_string_array("tokenizer.ggml.merges").size()),
            merge_lines(shared_path("vocab/qwen2/merges.txt")));
  EXPECT_EQ(f->get_int("tokenizer.ggml.eos_token_id"), config_added_id(config, "<|endoftext|>"));
  EXPECT_EQ(f->get_int("tokenizer.ggml.padding_token_id"), config_added_id(config, "<|vision_pad|>"));
  EXPECT_FALSE(f->has("tokenizer.ggml.bos_token_id"));  // bos_token is null
  EXPECT_FALSE(f->get_bool("tokenizer.ggml.add_bos_token", true));
  EXPECT_FALSE(f->get_bool("tokenizer.ggml.add_eos_token", true));
  EXPECT_EQ(f->get_string("tokenizer.ggml.normalizer"), "NFC");
  EXPECT_EQ(f->get_string("tokenizer.chat_template"), kChatTemplate);

  auto gguf_tok = Tokenizer::from_gguf(*f);
  expect_reference_ids(*gguf_tok, shared_path("vocab/qwen2/qwen2.inp"), shared_path("vocab/qwen2/qwen2.out"));
  auto hf_tok = Tokenizer::from_hf_dir(dir);
  // Qwen2.5 calls its fill-in-the-middle tokens not special; GGUF readers (llama.cpp, and
  // Trellis as llama.cpp) make them control tokens.
  std::set<int32_t> made_control;
  for (const char* t : {"<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"}) {
    made_control.insert(static_cast<int32_t>(config_added_id(config, t)));
  }
  EXPECT_EQ(types[*made_control.begin()], 3);
  expect_same_as_hf(*gguf_tok, *hf_tok, shared_path("vocab/qwen2/qwen2.inp"), made_control);
  // NFC: "e" + combining acute is one precomposed character for both.
  EXPECT_EQ(gguf_tok->encode("cafe\xcc\x81", false, false), gguf_tok->encode("caf\xc3\xa9", false, false));

  // The file runs on its own: no --tokenizer.
  const CliResult run = must_run({"run", "-m", out, "-p", "Hello world", "-n", "3", "--temp", "0", "-t", "1"});
  EXPECT_EQ(run.all().find("--tokenizer"), std::string::npos) << run.all();
  must_run({"run", "-m", out, "--chat", "-p", "Hi", "-n", "2", "--temp", "0", "-t", "1"});
}

// ---- quantize: Llama 2, SentencePiece-style BPE -> llama with scores ------------------

TEST(HfTokenizerGguf, Llama2QuantizedGgufCarriesTheTokenizer) {
  TRELLIS_REQUIRE_SHARED("vocab/llama2-hf/tokenizer.json");
  TempDir tmp;
  const std::string dir = make_llama2_checkpoint(tmp), out = tmp.file("llama2.gguf");
  const CliResult r = must_run({"quantize", dir, out, "Q8_0"});
  EXPECT_EQ(r.all().find("warning"), std::string::npos) << r.all();

  auto f = GgufFile::open(out);
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "llama");
  const auto tokens = f->get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 32000u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[3], "<0x00>");
  const std::vector<double> types = f->get_number_array("tokenizer.ggml.token_type");
  EXPECT_EQ(types[0], 2);    // unknown
  EXPECT_EQ(types[1], 3);    // <s>: control
  EXPECT_EQ(types[2], 3);    // </s>
  EXPECT_EQ(types[3], 6);    // <0x00>: byte
  EXPECT_EQ(types[258], 6);  // <0xFF>
  EXPECT_EQ(types[300], 1);
  // Scores follow the merge order of tokenizer.json: an earlier merge's piece scores higher.
  const json tj = json::parse(read_text_file(dir + "/tokenizer.json"));
  const std::vector<double> scores = f->get_number_array("tokenizer.ggml.scores");
  ASSERT_EQ(scores.size(), 32000u);
  auto piece_of_merge = [&](size_t i) {
    std::string m = tj["model"]["merges"][i].get<std::string>();
    return m.erase(m.find(' '), 1);
  };
  auto id_of = [&](const std::string& piece) { return tj["model"]["vocab"][piece].get<int64_t>(); };
  EXPECT_GT(scores[id_of(piece_of_merge(0))], scores[id_of(piece_of_merge(1))]);
  EXPECT_GT(scores[id_of(piece_of_merge(1))], scores[id_of(piece_of_merge(1000))]);
  EXPECT_EQ(f->get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(f->get_int("tokenizer.ggml.eos_token_id"), 2);
  EXPECT_EQ(f->get_int("tokenizer.ggml.unknown_token_id"), 0);
  EXPECT_EQ(f->get_int("tokenizer.ggml.padding_token_id"), 0);  // pad_token "<unk>"
  EXPECT_TRUE(f->get_bool("tokenizer.ggml.add_bos_token", false));
  EXPECT_FALSE(f->get_bool("tokenizer.ggml.add_eos_token", true));
  EXPECT_TRUE(f->get_bool("tokenizer.ggml.add_space_prefix", false));
  EXPECT_FALSE(f->has("tokenizer.chat_template"));  // the config has none

  auto gguf_tok = Tokenizer::from_gguf(*f);
  EXPECT_EQ(gguf_tok->model().algorithm, TokenizerAlgorithm::Spm);
  expect_reference_ids(*gguf_tok, shared_path("vocab/llama2-hf/llama2.inp"), shared_path("vocab/llama2-hf/llama2.out"));
  auto hf_tok = Tokenizer::from_hf_dir(dir);
  expect_same_as_hf(*gguf_tok, *hf_tok, shared_path("vocab/llama2-hf/llama2.inp"));
  must_run({"run", "-m", out, "-p", "Once upon a time", "-n", "3", "--temp", "0", "-t", "1"});
}

// ---- train --full writes through the same path ----------------------------------------

TEST(HfTokenizerGguf, FullTrainingOutputCarriesTheTokenizer) {
  TRELLIS_REQUIRE_SHARED("vocab/qwen2/vocab.json");
  TempDir tmp;
  const std::string dir = make_qwen2_checkpoint(tmp);
  {
    std::ofstream data(tmp.file("data.txt"));
    for (int i = 0; i < 8; ++i) data << "The seed grows into a tree. ";
  }
  const CliResult r = must_run({"train", "--full", "-m", dir, "--data", tmp.file("data.txt"), "--ctx", "32", "--steps",
                                "1", "-t", "1", "--no-plot", "-o", tmp.file("out")});
  EXPECT_EQ(r.all().find("warning"), std::string::npos) << r.all();
  auto f = GgufFile::open(tmp.file("out/model.gguf"));
  auto tok = Tokenizer::from_gguf(*f);
  expect_reference_ids(*tok, shared_path("vocab/qwen2/qwen2.inp"), shared_path("vocab/qwen2/qwen2.out"));
  EXPECT_EQ(tok->chat_template(), kChatTemplate);
  must_run({"run", "-m", tmp.file("out/model.gguf"), "-p", "The seed", "-n", "2", "--temp", "0", "-t", "1"});
}

// ---- GGUF vocabularies written again read back the same ---------------------------------

class GgufVocabRewrite : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufVocabRewrite, MatchesReferenceIds) {
  const std::string base = std::string("vocab/ggml-vocab-") + GetParam() + ".gguf";
  TRELLIS_REQUIRE_SHARED(base);
  auto original = Tokenizer::from_gguf(*GgufFile::open(shared_path(base)));
  TempDir tmp;
  GgufWriter w;
  set_gguf_vocab_metadata(w, original->model(), 0);
  w.write(tmp.file("vocab.gguf"));
  auto tok = Tokenizer::from_gguf(*GgufFile::open(tmp.file("vocab.gguf")));
  const auto cases = read_vocab_inputs(shared_path(base + ".inp"));
  const auto expected = read_vocab_outputs(shared_path(base + ".out"));
  ASSERT_EQ(cases.size(), expected.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(show(tok->encode(cases[i], false, false)), show(expected[i])) << base << " case " << i;
  }
  expect_same_as_hf(*tok, *original, shared_path(base + ".inp"));
}

INSTANTIATE_TEST_SUITE_P(HfTokenizerGguf, GgufVocabRewrite,
                         ::testing::Values("llama-spm", "gpt-2", "deepseek-llm", "falcon", "starcoder"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = (c == '-') ? '_' : c;
                           return n;
                         });

// ---- lora merge from a Hugging Face base carries the tokenizer too ---------------------

// GPT-2's byte-level rules over the 256 byte characters alone (fits a 256-row fixture).
std::string byte_level_tokenizer_json() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_to_unicode(static_cast<uint8_t>(b))] = b;
  const json tj = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}},
                   {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
                   {"decoder", {{"type", "ByteLevel"}}}};
  return tj.dump();
}

TEST(HfTokenizerGguf, MergedAdapterGgufCarriesTheTokenizer) {
  TempDir tmp;
  const std::string dir = tmp.file("base");
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(data_path("models/llama_untied/") + f, dir + "/" + f);
  std::ofstream(dir + "/tokenizer.json") << byte_level_tokenizer_json();
  const CliResult r = must_run({"lora", "merge", "-m", dir, "--lora", data_path("lora/llama_peft"), "-o", tmp.file("m.gguf"),
                                "--type", "F32"});
  EXPECT_EQ(r.all().find("tokenizer"), std::string::npos) << r.all();
  auto f = GgufFile::open(tmp.file("m.gguf"));
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "gpt-2");
  auto gguf_tok = Tokenizer::from_gguf(*f);
  auto hf_tok = Tokenizer::from_hf_dir(dir);
  const std::string text = "Hello, world! 123 \xc3\xa9t\xc3\xa9";
  EXPECT_EQ(gguf_tok->encode(text, false, false), hf_tok->encode(text, false, false));
  EXPECT_EQ(gguf_tok->encode(text, false, false).size(), text.size());  // one token per byte
  EXPECT_EQ(gguf_tok->decode(gguf_tok->encode(text, false, false)), text);
}

// ---- bad tokenizers ---------------------------------------------------------------------

// A checkpoint of a fixture model (256-token vocabulary) with the given tokenizer.json.
std::string fixture_with_tokenizer(const TempDir& tmp, const std::string& tokenizer_json) {
  const std::string dir = tmp.file("hf");
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(data_path("models/llama_tied/") + f, dir + "/" + f);
  if (!tokenizer_json.empty()) std::ofstream(dir + "/tokenizer.json") << tokenizer_json;
  return dir;
}

// No tokenizer files: the weights convert, with a warning that says how to run the file.
TEST(HfTokenizerGguf, MissingTokenizerConvertsWeightsWithAWarning) {
  TempDir tmp;
  const std::string dir = fixture_with_tokenizer(tmp, ""), out = tmp.file("m.gguf");
  const CliResult r = must_run({"quantize", dir, out, "F32"});
  EXPECT_NE(r.err.find("warning: "), std::string::npos) << r.all();
  EXPECT_NE(r.err.find("no tokenizer"), std::string::npos) << r.all();
  EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.all();
  EXPECT_FALSE(GgufFile::open(out)->has("tokenizer.ggml.model"));
  const CliResult run = run_cli({"run", "-m", out, "-p", "hi", "-n", "1"});
  EXPECT_EQ(run.exit_code, 1) << run.all();
  EXPECT_NE(run.err.find("no tokenizer"), std::string::npos) << run.all();
}

// A broken tokenizer.json stops the conversion with one clear line; nothing is written.
TEST(HfTokenizerGguf, MalformedTokenizerJsonFailsClearly) {
  for (const std::string bad : {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0", "{\"version\": \"1.0\"}",
                                "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}}}"}) {
    TempDir tmp;
    const std::string dir = fixture_with_tokenizer(tmp, bad), out = tmp.file("m.gguf");
    const CliResult r = run_cli({"quantize", dir, out, "F32"});
    EXPECT_EQ(r.exit_code, 1) << bad << "\n" << r.all();
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.all();
    EXPECT_NE(r.err.find("tokenizer.json"), std::string::npos) << r.all();
    EXPECT_EQ(count_lines(r.err), 1) << r.all();
    EXPECT_FALSE(fs::exists(out));
  }
}

// A tokenizer Trellis runs but GGUF cannot carry exactly (here an added token that strips
// the whitespace before it) is left out with a warning naming the reason.
TEST(HfTokenizerGguf, TokenizerWithoutGgufFormConvertsWeightsWithAWarning) {
  const json tj = {
      {"model", {{"type", "BPE"}, {"vocab", {{"<unk>", 0}, {"a", 1}, {"b", 2}, {"ab", 3}, {"<x>", 4}}}, {"merges", {"a b"}}}},
      {"added_tokens",
       {{{"id", 4}, {"content", "<x>"}, {"special", true}, {"lstrip", true}, {"rstrip", false}, {"single_word", false}}}}};
  TempDir tmp;
  const std::string dir = fixture_with_tokenizer(tmp, tj.dump()), out = tmp.file("m.gguf");
  ASSERT_NE(Model::load(dir)->tokenizer(), nullptr);  // Trellis itself runs it
  const CliResult r = must_run({"quantize", dir, out, "F32"});
  EXPECT_NE(r.err.find("warning: "), std::string::npos) << r.all();
  EXPECT_NE(r.err.find("cannot be written as a GGUF vocabulary"), std::string::npos) << r.all();
  EXPECT_NE(r.err.find("lstrip"), std::string::npos) << r.all();
  EXPECT_FALSE(GgufFile::open(out)->has("tokenizer.ggml.tokens"));
}

// The writer checks everything before it sets a key.
TEST(HfTokenizerGguf, WriterLeavesTheFileUntouchedOnError) {
  TokenizerModel m;
  m.source = "t";
  m.algorithm = TokenizerAlgorithm::Bpe;
  m.vocab.add("a", 0.0f, kAttrNormal, "t", "a");
  m.vocab.add("<x>", 0.0f, kAttrControl | kAttrRstrip, "t", "x");
  m.vocab.finish(false);
  GgufWriter w;
  w.set_string("general.name", "x");
  EXPECT_THROW(set_gguf_vocab_metadata(w, m, 0), Error);
  EXPECT_EQ(w.metadata().size(), 1u);
}

}  // namespace
