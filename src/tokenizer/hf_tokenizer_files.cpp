#include "tokenizer/hf_tokenizer_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "tokenizer/hf_tokenizer_json.h"

namespace trellis {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json parse_json_file(const std::string& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    fail(path, ": invalid JSON: ", e.what());
  }
}

// A token in tokenizer_config.json: a string, or an object with "content" (AddedToken).
std::string token_content(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return "";
}

int32_t config_token_id(const json& config, const char* key, const Vocab& vocab, const std::string& file) {
  if (!config.contains(key) || config[key].is_null()) return -1;
  const std::string text = token_content(config[key]);
  const int32_t id = vocab.find(text);
  if (id < 0) fail(file, ": ", key, ": '", text, "' is not in the vocabulary");
  return id;
}

void read_added_tokens_decoder(const json& config, const std::string& file, Vocab& vocab) {
  if (!config.contains("added_tokens_decoder")) return;
  const json& decoder = config["added_tokens_decoder"];
  if (!decoder.is_object()) fail(file, ": added_tokens_decoder: not an object");
  for (auto it = decoder.begin(); it != decoder.end(); ++it) {
    const std::string place = "added_tokens_decoder[\"" + it.key() + "\"]";
    int64_t id = -1;
    try {
      size_t used = 0;
      id = std::stoll(it.key(), &used);
      if (used != it.key().size()) id = -1;
    } catch (const std::exception&) {
    }
    if (id < 0 || id > INT32_MAX) fail(file, ": ", place, ": key is not a token id");
    const json& t = it.value();
    if (t.value("single_word", false)) fail(file, ": ", place, ".single_word: not supported");
    add_hf_added_token(vocab, static_cast<int32_t>(id), token_content(t), t.value("special", false), t.value("lstrip", false),
                       t.value("rstrip", false), file, place);
  }
}

// vocab.json + merges.txt: the byte-level BPE of GPT2Tokenizer / Qwen2Tokenizer.
void read_vocab_and_merges(const std::string& dir, const json& config, TokenizerModel& m) {
  const std::string vocab_file = (fs::path(dir) / "vocab.json").string();
  const std::string merges_file = (fs::path(dir) / "merges.txt").string();
  build_vocab_from_map(parse_json_file(vocab_file), vocab_file, "vocab", m.vocab);
  std::istringstream merges(read_file(merges_file));
  std::string line;
  size_t line_no = 0;
  while (std::getline(merges, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    std::string_view left, right;
    const std::string place = "line " + std::to_string(line_no);
    if (!split_merge_line(line, &left, &right)) fail(merges_file, ": ", place, ": '", line, "' is not two pieces separated by a space");
    add_hf_merge(m, left, right, merges_file, place);
  }
  m.algorithm = TokenizerAlgorithm::Bpe;
  m.byte_level = true;
  m.piece_style = PieceStyle::ByteLevel;
  const std::string cls = config.value("tokenizer_class", "");
  if (cls == "Qwen2Tokenizer") {
    // Qwen2Tokenizer normalizes to NFC and splits with the Qwen2 rule.
    m.normalizer.add({NormalizerStep::Kind::NFC, "", ""});
    m.pre = PreTokenizerKind::Qwen2;
  } else if (cls.empty() || cls == "GPT2Tokenizer" || cls == "GPT2TokenizerFast") {
    m.pre = PreTokenizerKind::Gpt2;
  } else {
    fail(dir, "/tokenizer_config.json: tokenizer_class: '", cls, "' is not supported with vocab.json + merges.txt");
  }
}

void read_chat_template(const std::string& dir, const json& config, const std::string& file, TokenizerModel& m) {
  if (config.contains("chat_template")) {
    const json& t = config["chat_template"];
    if (t.is_string()) {
      m.chat_template = t.get<std::string>();
    } else if (t.is_array()) {
      // A list of named templates: the "default" one is the chat template.
      for (const json& e : t) {
        if (e.is_object() && e.value("name", "") == "default") m.chat_template = e.value("template", "");
      }
    } else if (!t.is_null()) {
      fail(file, ": chat_template: neither a string nor a list of named templates");
    }
  }
  const fs::path jinja = fs::path(dir) / "chat_template.jinja";
  if (m.chat_template.empty() && fs::exists(jinja)) m.chat_template = read_file(jinja.string());
}

void apply_config(const std::string& dir, const json& config, const std::string& file, const HfPostProcessorSpecials& post,
                  TokenizerModel& m) {
  Vocab& v = m.vocab;
  v.bos = post.bos;
  v.eos = post.eos;
  v.add_bos = post.bos >= 0;
  v.add_eos = post.eos >= 0;
  if (int32_t id = config_token_id(config, "bos_token", v, file); id >= 0) v.bos = id;
  if (int32_t id = config_token_id(config, "eos_token", v, file); id >= 0) v.eos = id;
  if (int32_t id = config_token_id(config, "unk_token", v, file); id >= 0) v.unk = id;
  if (int32_t id = config_token_id(config, "pad_token", v, file); id >= 0) v.pad = id;
  if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) v.add_bos = config["add_bos_token"].get<bool>();
  if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) v.add_eos = config["add_eos_token"].get<bool>();
  if (config.contains("clean_up_tokenization_spaces") && config["clean_up_tokenization_spaces"].is_boolean()) {
    m.clean_spaces = config["clean_up_tokenization_spaces"].get<bool>();
  }
  read_chat_template(dir, config, file, m);
}

std::unique_ptr<TokenizerModel> load(const std::string& dir) {
  auto m = std::make_unique<TokenizerModel>();
  m->source = dir;
  const std::string tokenizer_json = (fs::path(dir) / "tokenizer.json").string();
  const std::string config_file = (fs::path(dir) / "tokenizer_config.json").string();
  const json config = fs::exists(config_file) ? parse_json_file(config_file) : json::object();
  if (!config.is_object()) fail(config_file, ": not a JSON object");
  HfPostProcessorSpecials post;
  std::string current = tokenizer_json;
  try {
    if (fs::exists(tokenizer_json)) {
      m->source = tokenizer_json;
      post = read_tokenizer_json(parse_json_file(tokenizer_json), tokenizer_json, *m);
    } else if (fs::exists(fs::path(dir) / "vocab.json")) {
      current = (fs::path(dir) / "vocab.json").string();
      read_vocab_and_merges(dir, config, *m);
    } else {
      fail(dir, ": no tokenizer.json or vocab.json + merges.txt");
    }
    current = config_file;
    read_added_tokens_decoder(config, config_file, m->vocab);
    apply_config(dir, config, config_file, post, *m);
  } catch (const json::exception& e) {
    // A value of the wrong JSON type deep inside a section.
    fail(current, ": unexpected value: ", e.what());
  }
  if (m->vocab.size() == 0) fail(current, ": empty vocabulary");
  // The unknown token decodes like one whatever flags the added-token lists gave it.
  if (m->vocab.unk >= 0) m->vocab.set_attr(m->vocab.unk, kAttrUnknown);
  m->vocab.finish(/*force_control=*/false);
  return m;
}

}  // namespace

std::unique_ptr<TokenizerModel> load_hf_tokenizer_model(const std::string& dir) {
  if (!fs::is_directory(dir)) fail(dir, ": not a directory");
  return load(dir);
}

}  // namespace trellis
