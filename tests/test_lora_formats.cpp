// LoRA formats: round trips PEFT ↔ GGUF-LoRA, the real SmolLM-135M adapter against a
// random base of its shape, and bad input (each error names the file and the tensor or key).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "core/error.h"
#include "core/fp16.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/safetensors.h"
#include "formats/safetensors_writer.h"
#include "lora/adapter.h"
#include "lora/adapter_writer.h"
#include "lora/peft_config.h"
#include "lora/tensor_f32.h"
#include "lora_test_util.h"
#include "model/evaluate.h"

using namespace trellis;
using namespace trellis::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Error message of f(), or "" when it does not throw.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR_HAS(expr, ...)                                       \
  do {                                                                    \
    const std::string msg_ = error_of([&] { (void)(expr); });             \
    EXPECT_FALSE(msg_.empty()) << #expr " did not fail";                  \
    for (const std::string& part_ : {__VA_ARGS__}) {                      \
      EXPECT_NE(msg_.find(part_), std::string::npos) << "message: " << msg_ << "\nlacks: " << part_; \
    }                                                                     \
  } while (0)

HeadLayout heads_of(const Model& m) {
  return {m.hparams().n_head, m.hparams().n_head_kv, m.hparams().head_dim};
}

std::map<std::string, std::vector<uint8_t>> raw_tensors(const std::string& file) {
  auto f = SafetensorsFile::open(file);
  std::map<std::string, std::vector<uint8_t>> out;
  for (const TensorView& t : f->tensors()) out[t.name] = std::vector<uint8_t>(t.data, t.data + t.nbytes);
  return out;
}

// ---- editable PEFT copies for bad-input tests --------------------------------------------------

struct PeftCopy {
  json config;
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> tensors;  // shape (row-major), values

  static PeftCopy of(const std::string& dir) {
    PeftCopy c;
    std::ifstream in(dir + "/adapter_config.json");
    c.config = json::parse(in);
    auto f = SafetensorsFile::open(dir + "/adapter_model.safetensors");
    for (const TensorView& t : f->tensors()) {
      c.tensors[t.name] = {{t.ne[1], t.ne[0]}, tensor_to_f32(t, f->path())};
    }
    return c;
  }
  std::string write(const TempDir& tmp, const std::string& name) const {
    const std::string dir = tmp.file(name);
    fs::create_directories(dir);
    std::ofstream(dir + "/adapter_config.json") << config.dump(2);
    SafetensorsWriter w;
    for (const auto& [n, t] : tensors) {
      std::vector<uint8_t> bytes(t.second.size() * 4);
      if (!bytes.empty()) std::memcpy(bytes.data(), t.second.data(), bytes.size());
      w.add_tensor_owned(n, DType::F32, SafetensorsShape::row_major(t.first), std::move(bytes));
    }
    w.write(dir + "/adapter_model.safetensors");
    return dir;
  }
};

const std::string kQ0 = "base_model.model.model.layers.0.self_attn.q_proj";

// ---- round trips ---------------------------------------------------------------------------------

// PEFT -> GGUF-LoRA -> PEFT keeps every tensor bit for bit (llama: q/k rows are permuted on
// the way in and back); the GGUF-LoRA in between gives the reference NLL on both bases.
TEST(LoraFormats, PeftGgufPeftRoundTrip) {
  TempDir tmp("lora_rt");
  auto hf = Model::load(model_dir("llama_untied"));
  auto src = LoraAdapter::load(lora_path("llama_peft_rslora"));  // rsLoRA: folded into B in GGUF
  auto plain = LoraAdapter::load(lora_path("llama_peft"));
  write_gguf_lora(*plain, tmp.file("a.gguf"), {heads_of(*hf), ""});
  write_peft(*LoraAdapter::load(tmp.file("a.gguf")), tmp.file("back"), {heads_of(*hf), ""});
  // llama_peft has alpha_pattern (gate): its B is folded, every other tensor must come back exact.
  const auto want = raw_tensors(lora_path("llama_peft/adapter_model.safetensors"));
  const auto got = raw_tensors(tmp.file("back/adapter_model.safetensors"));
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [name, bytes] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    if (name.find("gate_proj.lora_B") == std::string::npos) {
      EXPECT_EQ(bytes, got.at(name)) << name;
    }
  }
  // Functionally identical: same NLL as the golden, on the HF base and on a GGUF base.
  const json& c = lora_goldens()["cases"]["llama_peft"]["sequences"][1];
  const auto tokens = c["tokens"].get<std::vector<int32_t>>();
  ThreadPool pool(1);
  TempDir bases("lora_rt_bases");
  auto gguf = Model::load(gguf_base("llama_untied", bases));
  for (const Model* base : {hf.get(), gguf.get()}) {
    for (const std::string& p : {tmp.file("a.gguf"), tmp.file("back")}) {
      AdapterSet set;
      set.add(LoraAdapter::load_for(p, *base));
      EXPECT_NEAR(sequence_nll(*base, tokens, pool, DType::F32, &set).nll, c["mean_nll"].get<double>(),
                  1e-4 * c["mean_nll"].get<double>()) << p;
    }
  }
  // rsLoRA adapter through GGUF: functionally the same.
  write_gguf_lora(*src, tmp.file("rs.gguf"), {heads_of(*hf), "llama"});
  AdapterSet a, b;
  a.add(LoraAdapter::load_for(lora_path("llama_peft_rslora"), *hf));
  b.add(LoraAdapter::load_for(tmp.file("rs.gguf"), *hf));
  const auto la = logits_of(*hf, tokens, &a, pool), lb = logits_of(*hf, tokens, &b, pool);
  expect_close(la.data(), lb.data(), la.size(), 1e-5, "rslora via gguf");
}

// GGUF-LoRA -> PEFT -> GGUF-LoRA reproduces the tensors and alpha exactly.
TEST(LoraFormats, GgufPeftGgufRoundTrip) {
  TempDir tmp("lora_rt2");
  auto hf = Model::load(model_dir("llama_untied"));
  write_peft(*LoraAdapter::load(lora_path("llama_lora.gguf")), tmp.file("p"), {heads_of(*hf), ""});
  write_gguf_lora(*LoraAdapter::load(tmp.file("p")), tmp.file("b.gguf"), {heads_of(*hf), ""});
  auto x = GgufFile::open(lora_path("llama_lora.gguf")), y = GgufFile::open(tmp.file("b.gguf"));
  EXPECT_EQ(x->get_float("adapter.lora.alpha"), y->get_float("adapter.lora.alpha"));
  EXPECT_EQ(y->get_string("general.architecture"), "llama");
  ASSERT_EQ(x->tensors().size(), y->tensors().size());
  for (const GgufTensorInfo& t : x->tensors()) {
    const TensorView* u = y->find_tensor(t.view.name);
    ASSERT_TRUE(u) << t.view.name;
    EXPECT_EQ(u->ne, t.view.ne);
    EXPECT_EQ(0, std::memcmp(u->data, t.view.data, t.view.nbytes)) << t.view.name;
  }
  // A qwen3 GGUF-LoRA needs no permutation, hence no base.
  EXPECT_NO_THROW(write_peft(*LoraAdapter::load(lora_path("qwen3_lora.gguf")), tmp.file("q3")));
  // A llama one does.
  EXPECT_ERROR_HAS(write_peft(*LoraAdapter::load(lora_path("llama_lora.gguf")), tmp.file("nohead")), "head counts");
}

TEST(LoraFormats, PeftConfigPatterns) {
  EXPECT_TRUE(peft_pattern_matches("q_proj", "model.layers.0.self_attn.q_proj"));
  EXPECT_FALSE(peft_pattern_matches("proj", "model.layers.0.self_attn.q_proj"));
  EXPECT_TRUE(peft_pattern_matches("layers.1.self_attn.q_proj", "model.layers.1.self_attn.q_proj"));
  EXPECT_FALSE(peft_pattern_matches("layers.1.self_attn.q_proj", "model.layers.11.self_attn.q_proj"));
  const PeftConfig c = PeftConfig::parse(
      R"({"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "model.layers.3.mlp.up_proj"],
          "layers_to_transform": [1], "rank_pattern": {"layers.1.self_attn.q_proj": 2, "q_proj": 3},
          "new_key_from_the_future": [1, 2]})",
      "cfg");
  EXPECT_TRUE(c.targets("model.layers.1.self_attn.q_proj"));
  EXPECT_FALSE(c.targets("model.layers.0.self_attn.q_proj"));
  EXPECT_TRUE(c.targets("model.layers.3.mlp.up_proj"));  // an exact name bypasses layers_to_transform
  EXPECT_EQ(c.rank_for("model.layers.1.self_attn.q_proj"), 2);  // first matching key in file order
  EXPECT_EQ(c.rank_for("model.layers.2.self_attn.q_proj"), 3);
  EXPECT_EQ(c.rank_for("model.layers.2.self_attn.k_proj"), 4);
  const PeftConfig all = PeftConfig::parse(R"({"r": 2, "target_modules": "all-linear"})", "cfg");
  EXPECT_TRUE(all.targets("model.layers.7.mlp.down_proj"));
  EXPECT_EQ(all.lora_alpha, 8.0);  // PEFT's default
}

// ---- the real SmolLM-135M adapter ----------------------------------------------------------------

// A random-weight llama GGUF with SmolLM-135M's shapes (Q4_0 weights: 76 MB, written quickly).
std::string smollm_base(const TempDir& tmp) {
  GgufWriter w;
  const std::string a = "llama";
  w.set_string("general.architecture", a);
  w.set_string("general.name", "random-smollm-shape");
  w.set_u32(a + ".context_length", 2048);
  w.set_u32(a + ".embedding_length", 576);
  w.set_u32(a + ".block_count", 30);
  w.set_u32(a + ".feed_forward_length", 1536);
  w.set_u32(a + ".attention.head_count", 9);
  w.set_u32(a + ".attention.head_count_kv", 3);
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_f32(a + ".rope.freq_base", 10000.0f);
  auto random_q4 = [](uint8_t* dst, size_t n) {
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i += 18) {  // block: fp16 scale + 16 bytes of nibbles
      const uint16_t d = fp32_to_fp16(0.01f);
      std::memcpy(dst + i, &d, 2);
      for (int j = 0; j < 16; j += 8) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        std::memcpy(dst + i + 2 + j, &s, 8);
      }
    }
  };
  auto ones = [](uint8_t* dst, size_t n) {
    for (size_t i = 0; i < n; i += 4) {
      const float one = 1.0f;
      std::memcpy(dst + i, &one, 4);
    }
  };
  auto mat = [&](const std::string& name, int64_t in, int64_t out) {
    w.add_tensor_generated(name, DType::Q4_0, {in, out, 1, 1}, 2, random_q4);
  };
  mat("token_embd.weight", 576, 49152);
  w.add_tensor_generated("output_norm.weight", DType::F32, {576, 1, 1, 1}, 1, ones);
  for (int l = 0; l < 30; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    w.add_tensor_generated(b + "attn_norm.weight", DType::F32, {576, 1, 1, 1}, 1, ones);
    w.add_tensor_generated(b + "ffn_norm.weight", DType::F32, {576, 1, 1, 1}, 1, ones);
    mat(b + "attn_q.weight", 576, 576);
    mat(b + "attn_k.weight", 576, 192);
    mat(b + "attn_v.weight", 576, 192);
    mat(b + "attn_output.weight", 576, 576);
    mat(b + "ffn_gate.weight", 576, 1536);
    mat(b + "ffn_up.weight", 576, 1536);
    mat(b + "ffn_down.weight", 1536, 576);
  }
  const std::string path = tmp.file("smollm_random.gguf");
  w.write(path);
  return path;
}

TEST(LoraSmolLM, LoadsValidatesAndRoundTrips) {
  const std::string rel = "adapters/smollm135m-medical-lora";
  TRELLIS_REQUIRE_SHARED(rel + "/adapter_model.safetensors");
  const std::string dir = shared_path(rel);
  auto a = LoraAdapter::load(dir);
  EXPECT_EQ(a->targets().size(), 60u);
  EXPECT_EQ(a->meta().arch, "llama");
  EXPECT_EQ(a->meta().base_model, "HuggingFaceTB/SmolLM-135M-Instruct");
  for (const LoraTarget& t : a->targets()) {
    EXPECT_TRUE(t.ref.proj == Projection::Q || t.ref.proj == Projection::V);
    EXPECT_EQ(t.rank, 16);
    EXPECT_FLOAT_EQ(t.scale, 2.0f);
  }
  TempDir tmp("lora_smollm");
  auto base = Model::load(smollm_base(tmp));
  std::vector<std::string> warnings;
  auto bound = LoraAdapter::load_for(dir, *base, &warnings);
  ASSERT_EQ(warnings.size(), 1u);  // shapes fit, the name differs
  EXPECT_NE(warnings[0].find("SmolLM-135M-Instruct"), std::string::npos);
  EXPECT_EQ(bound->meta().qk_layout, RopeStyle::Interleaved);
  // One decode step with the adapter runs on the quantized base.
  AdapterSet set;
  set.add(std::move(bound));
  ThreadPool pool(1);
  KVCache cache(base->hparams(), 4);
  Forward fwd(*base, pool, 2, 1);
  const std::vector<int32_t> t{1, 2};
  SequenceInput in{&cache, t, false, &set};
  EXPECT_NO_THROW(fwd.run({&in, 1}));
  // PEFT -> GGUF-LoRA -> PEFT, bit for bit.
  write_gguf_lora(*a, tmp.file("smol.gguf"), {heads_of(*base), ""});
  auto g = LoraAdapter::load_for(tmp.file("smol.gguf"), *base);
  EXPECT_EQ(g->fingerprint(), LoraAdapter::load_for(dir, *base)->fingerprint());
  write_peft(*LoraAdapter::load(tmp.file("smol.gguf")), tmp.file("smol_peft"), {heads_of(*base), ""});
  EXPECT_EQ(raw_tensors(dir + "/adapter_model.safetensors"), raw_tensors(tmp.file("smol_peft/adapter_model.safetensors")));
  const PeftConfig back = PeftConfig::read(tmp.file("smol_peft/adapter_config.json"));
  EXPECT_EQ(back.r, 16);
  EXPECT_EQ(back.lora_alpha, 32.0);
  EXPECT_TRUE(back.targets("model.layers.29.self_attn.v_proj"));
  EXPECT_FALSE(back.targets("model.layers.0.self_attn.k_proj"));
  // A base of another shape is refused, naming the tensor.
  auto small = Model::load(model_dir("llama_untied"));
  EXPECT_ERROR_HAS(LoraAdapter::load_for(dir, *small), "smollm135m-medical-lora", "model.layers.0.self_attn.q_proj");
}

// ---- bad input ------------------------------------------------------------------------------------

TEST(LoraBadInput, PeftTensors) {
  TempDir tmp("lora_bad");
  const PeftCopy good = PeftCopy::of(lora_path("llama_peft"));
  auto base = Model::load(model_dir("llama_untied"));
  EXPECT_NO_THROW(LoraAdapter::load_for(good.write(tmp, "good"), *base));

  PeftCopy c = good;  // B without A
  c.tensors.erase(kQ0 + ".lora_A.weight");
  EXPECT_ERROR_HAS(LoraAdapter::load(c.write(tmp, "half")), "adapter_model.safetensors", "model.layers.0.self_attn.q_proj");

  c = good;  // a whole selected module missing
  c.tensors.erase(kQ0 + ".lora_A.weight");
  c.tensors.erase(kQ0 + ".lora_B.weight");
  EXPECT_ERROR_HAS(LoraAdapter::load(c.write(tmp, "missing")), "missing", "model.layers.0.self_attn.q_proj");

  c = good;  // the last layer missing: only the base can tell
  for (const char* p : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
                        "mlp.up_proj", "mlp.down_proj"}) {
    for (const char* h : {".lora_A.weight", ".lora_B.weight"}) c.tensors.erase(std::string("base_model.model.model.layers.1.") + p + h);
  }
  EXPECT_NO_THROW(LoraAdapter::load(c.write(tmp, "short")));
  EXPECT_ERROR_HAS(LoraAdapter::load_for(tmp.file("short"), *base), "missing", "model.layers.1.self_attn.q_proj");

  c = good;  // an extra tensor for an unsupported module
  c.tensors["base_model.model.lm_head.lora_A.weight"] = {{4, 32}, std::vector<float>(128, 0.1f)};
  EXPECT_ERROR_HAS(LoraAdapter::load(c.write(tmp, "extra")), "lm_head");

  c = good;  // an extra tensor for a module the config does not select
  c.config["target_modules"] = json::array({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj"});
  EXPECT_ERROR_HAS(LoraAdapter::load(c.write(tmp, "unselected")), "down_proj", "target_modules");

  c = good;  // a layer the base lacks
  c.tensors["base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight"] = good.tensors.at(kQ0 + ".lora_A.weight");
  c.tensors["base_model.model.model.layers.7.self_attn.q_proj.lora_B.weight"] = good.tensors.at(kQ0 + ".lora_B.weight");
  c.config["layers_to_transform"] = json::array({0, 1, 7});
  c.config["target_modules"] = json::array({"q_proj"});
  c.tensors.erase("base_model.model.model.layers.0.mlp.up_proj.lora_A.weight");  // keep the test about layer 7
  EXPECT_ERROR_HAS(LoraAdapter::load(c.write(tmp, "layer7")), "does not select");

  c = good;  // A/B rank mismatch
  c.tensors[kQ0 + ".lora_B.weight"] = {{32, 3}, std::vector<float>(96, 0.1f)};
  EXPECT_ERROR_HAS(LoraAdapter::load(c.write(tmp, "rank")), "model.layers.0.self_attn.q_proj", "rank");

  c = good;  // rank disagrees with the config
  c.config["r"] = 5;
  EXPECT_ERROR_HAS(LoraAdapter::load(c.write(tmp, "cfgrank")), "rank", "adapter_config.json");

  c = good;  // shape does not fit the base
  c.tensors[kQ0 + ".lora_B.weight"] = {{40, 4}, std::vector<float>(160, 0.1f)};
  EXPECT_NO_THROW(LoraAdapter::load(c.write(tmp, "shape")));
  EXPECT_ERROR_HAS(LoraAdapter::load_for(tmp.file("shape"), *base), "model.layers.0.self_attn.q_proj", "[40 x 32]");

  c = good;  // NaN
  c.tensors[kQ0 + ".lora_A.weight"].second[3] = std::nanf("");
  EXPECT_ERROR_HAS(LoraAdapter::load(c.write(tmp, "nan")), "model.layers.0.self_attn.q_proj", "NaN");
  c = good;  // Inf
  c.tensors[kQ0 + ".lora_B.weight"].second[0] = INFINITY;
  EXPECT_ERROR_HAS(LoraAdapter::load(c.write(tmp, "inf")), "lora_B", "Inf");

  c = good;  // rank 0
  c.tensors[kQ0 + ".lora_A.weight"] = {{0, 32}, {}};
  c.tensors[kQ0 + ".lora_B.weight"] = {{32, 0}, {}};
  EXPECT_ERROR_HAS(LoraAdapter::load(c.write(tmp, "rank0")), "model.layers.0.self_attn.q_proj");

}

TEST(LoraBadInput, PeftConfig) {
  TempDir tmp("lora_badcfg");
  const PeftCopy good = PeftCopy::of(lora_path("llama_peft"));
  auto with = [&](const std::string& name, auto edit) {
    PeftCopy c = good;
    edit(c.config);
    return c.write(tmp, name);
  };
  EXPECT_ERROR_HAS(LoraAdapter::load(with("r0", [](json& j) { j["r"] = 0; })), "adapter_config.json", "r must be positive");
  EXPECT_ERROR_HAS(LoraAdapter::load(with("a0", [](json& j) { j["lora_alpha"] = 0; })), "adapter_config.json", "lora_alpha");
  EXPECT_ERROR_HAS(LoraAdapter::load(with("aneg", [](json& j) { j["alpha_pattern"] = {{"q_proj", -1}}; })), "alpha_pattern");
  EXPECT_ERROR_HAS(LoraAdapter::load(with("dora", [](json& j) { j["use_dora"] = true; })), "DoRA");
  EXPECT_ERROR_HAS(LoraAdapter::load(with("bias", [](json& j) { j["bias"] = "all"; })), "adapter_config.json", "bias");
  EXPECT_ERROR_HAS(LoraAdapter::load(with("regex", [](json& j) { j["target_modules"] = "(unclosed"; })), "target_modules");
  const std::string fifo = with("fifo", [](json& j) { j["fan_in_fan_out"] = true; });
  EXPECT_EQ(LoraAdapter::load(fifo)->meta().warnings.size(), 1u);  // warned, not fatal
  const std::string bad_json = good.write(tmp, "notjson");
  std::ofstream(bad_json + "/adapter_config.json") << "{\"r\": 4,";
  EXPECT_ERROR_HAS(LoraAdapter::load(bad_json), "adapter_config.json", "JSON");
  EXPECT_ERROR_HAS(LoraAdapter::load(tmp.file("nowhere")), "nowhere");
  fs::create_directories(tmp.file("empty"));
  EXPECT_ERROR_HAS(LoraAdapter::load(tmp.file("empty")), "adapter_config.json");
}

TEST(LoraBadInput, TruncatedSafetensors) {
  TempDir tmp("lora_trunc");
  const std::string dir = PeftCopy::of(lora_path("llama_peft")).write(tmp, "t");
  const std::string st = dir + "/adapter_model.safetensors";
  fs::resize_file(st, fs::file_size(st) - 100);
  EXPECT_ERROR_HAS(LoraAdapter::load(dir), "adapter_model.safetensors");
}

TEST(LoraBadInput, GgufLora) {
  TempDir tmp("lora_badgguf");
  auto base = Model::load(model_dir("qwen3_untied"));
  EXPECT_ERROR_HAS(LoraAdapter::load_for(lora_path("llama_lora.gguf"), *base), "llama_lora.gguf", "architecture");
  auto src = GgufFile::open(lora_path("qwen3_lora.gguf"));
  auto rewrite = [&](const std::string& name, auto edit_kv, auto keep_tensor) {
    GgufWriter w;
    for (const std::string& k : src->key_order()) w.set_value(k, *src->find(k));
    edit_kv(w);
    for (const GgufTensorInfo& t : src->tensors()) {
      if (keep_tensor(t.view.name)) w.add_tensor(t.view);
    }
    w.write(tmp.file(name));
    return tmp.file(name);
  };
  auto all = [](const std::string&) { return true; };
  const std::string model_type = rewrite("model.gguf", [](GgufWriter& w) { w.set_string("general.type", "model"); }, all);
  EXPECT_ERROR_HAS(LoraAdapter::load(model_type), "model.gguf", "general.type");
  const std::string neg = rewrite("neg.gguf", [](GgufWriter& w) { w.set_f32("adapter.lora.alpha", -2.0f); }, all);
  EXPECT_ERROR_HAS(LoraAdapter::load(neg), "neg.gguf", "adapter.lora.alpha");
  const std::string half = rewrite("half.gguf", [](GgufWriter&) {},
                                   [](const std::string& n) { return n != "blk.1.ffn_up.weight.lora_b"; });
  EXPECT_ERROR_HAS(LoraAdapter::load(half), "half.gguf", "blk.1.ffn_up.weight");
  // Zero alpha means "no scaling" for llama.cpp: scale 1.
  const std::string zero = rewrite("zero.gguf", [](GgufWriter& w) { w.set_f32("adapter.lora.alpha", 0.0f); }, all);
  EXPECT_FLOAT_EQ(LoraAdapter::load(zero)->targets()[0].scale, 1.0f);
  // A model file is not an adapter, and an adapter is not a model.
  EXPECT_ERROR_HAS(Model::load(lora_path("qwen3_lora.gguf")), "adapter");
}

}  // namespace
