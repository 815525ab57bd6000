#include "tokenizer/hf_tokenizer_json.h"

#include "core/error.h"

namespace trellis {

using nlohmann::json;

namespace {

constexpr const char* kMetaspaceChar = "\xe2\x96\x81";

// The split regexes of the supported byte-level tokenizers, exactly as tokenizer.json spells them.
struct KnownRegex {
  const char* pattern;
  PreTokenizerKind kind;
};
const KnownRegex kKnownRegexes[] = {
    {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", PreTokenizerKind::Gpt2},
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     PreTokenizerKind::Llama3},
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     PreTokenizerKind::Qwen2},
};

std::string type_of(const json& j, const std::string& file, const std::string& place) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) fail(file, ": ", place, ": missing \"type\"");
  return j["type"].get<std::string>();
}

bool get_bool(const json& j, const char* key, bool def) {
  auto it = j.find(key);
  return (it == j.end() || it->is_null()) ? def : it->get<bool>();
}

std::string get_string(const json& j, const char* key, const std::string& def) {
  auto it = j.find(key);
  return (it == j.end() || it->is_null()) ? def : it->get<std::string>();
}

// The literal a Replace / Split pattern matches: {"String": s} (or {"Regex": r} when allowed).
std::string pattern_string(const json& j, const char* kind, const std::string& file, const std::string& place) {
  if (!j.contains("pattern") || !j["pattern"].is_object() || !j["pattern"].contains(kind)) {
    fail(file, ": ", place, ".pattern: only a \"", kind, "\" pattern is supported");
  }
  return j["pattern"][kind].get<std::string>();
}

void read_normalizer(const json& j, const std::string& file, const std::string& place, TokenizerModel& m) {
  if (j.is_null()) return;
  const std::string type = type_of(j, file, place);
  if (type == "Sequence") {
    const json& list = j.at("normalizers");
    for (size_t i = 0; i < list.size(); ++i) read_normalizer(list[i], file, place + ".normalizers[" + std::to_string(i) + "]", m);
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    const auto kind = type == "NFC" ? NormalizerStep::Kind::NFC
                      : type == "NFD" ? NormalizerStep::Kind::NFD
                      : type == "NFKC" ? NormalizerStep::Kind::NFKC
                                       : NormalizerStep::Kind::NFKD;
    m.normalizer.add({kind, "", ""});
  } else if (type == "Prepend") {
    m.normalizer.add({NormalizerStep::Kind::Prepend, "", j.at("prepend").get<std::string>()});
  } else if (type == "Replace") {
    m.normalizer.add({NormalizerStep::Kind::Replace, pattern_string(j, "String", file, place), j.at("content").get<std::string>()});
  } else {
    fail(file, ": ", place, ": unsupported normalizer type '", type, "'");
  }
}

// Collected while walking the pre_tokenizer section; resolved into a split rule afterwards.
struct PreTokenizerParts {
  std::optional<PreTokenizerKind> split;  // from a Split regex
  bool byte_level = false;
  bool byte_level_regex = false;          // ByteLevel with use_regex (the GPT-2 rule)
  bool digits = false;                    // Digits(individual_digits)
};

void read_pre_tokenizer(const json& j, const std::string& file, const std::string& place, PreTokenizerParts& parts,
                        TokenizerModel& m) {
  if (j.is_null()) return;
  const std::string type = type_of(j, file, place);
  if (type == "Sequence") {
    const json& list = j.at("pretokenizers");
    for (size_t i = 0; i < list.size(); ++i) {
      read_pre_tokenizer(list[i], file, place + ".pretokenizers[" + std::to_string(i) + "]", parts, m);
    }
  } else if (type == "ByteLevel") {
    if (get_bool(j, "add_prefix_space", false)) fail(file, ": ", place, ".add_prefix_space: true is not supported");
    parts.byte_level = true;
    parts.byte_level_regex = get_bool(j, "use_regex", true);
  } else if (type == "Split") {
    const std::string regex = pattern_string(j, "Regex", file, place);
    if (get_string(j, "behavior", "") != "Isolated" || get_bool(j, "invert", false)) {
      fail(file, ": ", place, ": only Split with behavior Isolated and invert false is supported");
    }
    bool known = false;
    for (const KnownRegex& k : kKnownRegexes) {
      if (regex == k.pattern) parts.split = k.kind, known = true;
    }
    if (!known) fail(file, ": ", place, ".pattern.Regex: unsupported split pattern '", regex, "'");
  } else if (type == "Digits") {
    if (!get_bool(j, "individual_digits", false)) fail(file, ": ", place, ": only Digits with individual_digits is supported");
    parts.digits = true;
  } else if (type == "Metaspace") {
    if (get_string(j, "replacement", kMetaspaceChar) != kMetaspaceChar) fail(file, ": ", place, ".replacement: only U+2581 is supported");
    const std::string scheme = get_string(j, "prepend_scheme", get_bool(j, "add_prefix_space", true) ? "always" : "never");
    m.metaspace = true;
    m.metaspace_prepend = scheme == "always" ? PrependScheme::Always : scheme == "first" ? PrependScheme::First : PrependScheme::Never;
    if (scheme != "always" && scheme != "first" && scheme != "never") fail(file, ": ", place, ".prepend_scheme: unknown value '", scheme, "'");
    m.metaspace_split = get_bool(j, "split", true);
  } else {
    fail(file, ": ", place, ": unsupported pre_tokenizer type '", type, "'");
  }
}

void resolve_pre_tokenizer(const PreTokenizerParts& p, const std::string& file, TokenizerModel& m) {
  m.byte_level = p.byte_level;
  if (p.split && p.byte_level_regex) fail(file, ": pre_tokenizer: a Split regex together with ByteLevel use_regex is not supported");
  if (p.digits && !(p.byte_level_regex && !p.split)) fail(file, ": pre_tokenizer: Digits is supported only before ByteLevel use_regex");
  if (p.split) {
    m.pre = *p.split;
  } else if (p.byte_level_regex) {
    m.pre = p.digits ? PreTokenizerKind::Starcoder : PreTokenizerKind::Gpt2;
  }
  if (m.metaspace && (m.byte_level || m.pre)) fail(file, ": pre_tokenizer: Metaspace mixed with byte-level splitting is not supported");
}

void read_decoder(const json& j, const std::string& file, const std::string& place, TokenizerModel& m) {
  if (j.is_null()) return;
  const std::string type = type_of(j, file, place);
  if (type == "Sequence") {
    const json& list = j.at("decoders");
    for (size_t i = 0; i < list.size(); ++i) read_decoder(list[i], file, place + ".decoders[" + std::to_string(i) + "]", m);
  } else if (type == "ByteLevel") {
    m.piece_style = PieceStyle::ByteLevel;
  } else if (type == "Replace") {
    // Only U+2581 -> space, which the SPM piece style does.
    if (pattern_string(j, "String", file, place) != kMetaspaceChar || j.at("content") != " ") {
      fail(file, ": ", place, ": only Replace of U+2581 with a space is supported");
    }
  } else if (type == "ByteFallback" || type == "Fuse") {
    // Byte tokens decode to their byte; pieces are concatenated anyway.
  } else if (type == "Strip") {
    const int start = j.value("start", 0), stop = j.value("stop", 0);
    if (j.value("content", " ") != " " || start > 1 || stop != 0) fail(file, ": ", place, ": only Strip of one leading space is supported");
    m.strip_leading_space = start == 1;
  } else if (type == "Metaspace") {
    const std::string scheme = get_string(j, "prepend_scheme", get_bool(j, "add_prefix_space", true) ? "always" : "never");
    m.strip_leading_space = scheme != "never";
  } else {
    fail(file, ": ", place, ": unsupported decoder type '", type, "'");
  }
}

// TemplateProcessing: a special token before the sequence is BOS, one after it is EOS.
HfPostProcessorSpecials read_post_processor(const json& j, const std::string& file, const Vocab& vocab) {
  HfPostProcessorSpecials s;
  if (j.is_null() || get_string(j, "type", "") != "TemplateProcessing" || !j.contains("single")) return s;
  bool seen_sequence = false;
  for (const json& item : j["single"]) {
    if (item.contains("Sequence")) {
      seen_sequence = true;
    } else if (item.contains("SpecialToken")) {
      const int32_t id = vocab.find(item["SpecialToken"].at("id").get<std::string>());
      if (id < 0) fail(file, ": post_processor.single: special token '", item["SpecialToken"]["id"], "' is not in the vocabulary");
      (seen_sequence ? s.eos : s.bos) = id;
    }
  }
  return s;
}

void read_merges(const json& merges, const std::string& file, TokenizerModel& m) {
  if (!merges.is_array()) fail(file, ": model.merges: not an array");
  m.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string place = "model.merges[" + std::to_string(i) + "]";
    const json& e = merges[i];
    if (e.is_string()) {
      std::string_view left, right;
      const std::string& line = e.get_ref<const std::string&>();
      if (!split_merge_line(line, &left, &right)) fail(file, ": ", place, ": '", line, "' is not two pieces separated by a space");
      add_hf_merge(m, left, right, file, place);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      add_hf_merge(m, e[0].get<std::string>(), e[1].get<std::string>(), file, place);
    } else {
      fail(file, ": ", place, ": expected \"a b\" or [\"a\", \"b\"]");
    }
  }
}

void read_bpe_model(const json& model, const std::string& file, TokenizerModel& m) {
  const std::string type = type_of(model, file, "model");
  if (type != "BPE") fail(file, ": model.type: unsupported model type '", type, "' (only BPE)");
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"].get<double>() > 0.0) {
    fail(file, ": model.dropout: BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (!get_string(model, key, "").empty()) fail(file, ": model.", key, ": not supported");
  }
  if (!model.contains("vocab")) fail(file, ": model.vocab: missing");
  build_vocab_from_map(model["vocab"], file, "model.vocab", m.vocab);
  m.byte_fallback = get_bool(model, "byte_fallback", false);
  m.fuse_unk = get_bool(model, "fuse_unk", false);
  m.ignore_merges = get_bool(model, "ignore_merges", false);
  if (const std::string unk = get_string(model, "unk_token", ""); !unk.empty()) {
    m.vocab.unk = m.vocab.find(unk);
    if (m.vocab.unk < 0) fail(file, ": model.unk_token: '", unk, "' is not in the vocabulary");
  }
}

void read_added_tokens(const json& list, const std::string& file, Vocab& vocab) {
  if (list.is_null()) return;
  if (!list.is_array()) fail(file, ": added_tokens: not an array");
  for (size_t i = 0; i < list.size(); ++i) {
    const json& t = list[i];
    const std::string place = "added_tokens[" + std::to_string(i) + "]";
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") || !t["content"].is_string()) {
      fail(file, ": ", place, ": needs an integer \"id\" and a string \"content\"");
    }
    if (get_bool(t, "single_word", false)) fail(file, ": ", place, ".single_word: not supported");
    const int64_t id = t["id"].get<int64_t>();
    if (id < 0 || id > INT32_MAX) fail(file, ": ", place, ".id: ", id, " is out of range");
    add_hf_added_token(vocab, static_cast<int32_t>(id), t["content"].get<std::string>(), get_bool(t, "special", false),
                       get_bool(t, "lstrip", false), get_bool(t, "rstrip", false), file, place);
  }
}

// Marks `<0xNN>` pieces as byte tokens so that decoding turns them into bytes.
void mark_byte_tokens(Vocab& v) {
  static const char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char piece[7] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>', 0};
    if (int32_t id = v.find(piece); id >= 0 && (v.at(id).attr & kAttrNormal)) v.set_attr(id, kAttrByte);
  }
}

}  // namespace

void build_vocab_from_map(const json& pieces, const std::string& file, const std::string& place, Vocab& vocab) {
  if (!pieces.is_object()) fail(file, ": ", place, ": not an object of piece -> id");
  std::vector<const std::string*> by_id;
  for (auto it = pieces.begin(); it != pieces.end(); ++it) {
    if (!it.value().is_number_integer()) fail(file, ": ", place, ": id of '", it.key(), "' is not an integer");
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= static_cast<int64_t>(pieces.size()) * 2 + 1024) {
      fail(file, ": ", place, ": id ", id, " of '", it.key(), "' is out of range");
    }
    if (static_cast<size_t>(id) >= by_id.size()) by_id.resize(id + 1, nullptr);
    if (by_id[id]) fail(file, ": ", place, ": id ", id, " is used by both '", *by_id[id], "' and '", it.key(), "'");
    by_id[id] = &it.key();
  }
  for (size_t id = 0; id < by_id.size(); ++id) {
    if (by_id[id]) {
      vocab.add(*by_id[id], 0.0f, kAttrNormal, file, place + "['" + *by_id[id] + "']");
    } else {
      vocab.add_placeholder();
    }
  }
}

void add_hf_added_token(Vocab& vocab, int32_t id, const std::string& content, bool special, bool lstrip, bool rstrip,
                        const std::string& file, const std::string& place) {
  if (content.empty()) fail(file, ": ", place, ": empty content");
  uint32_t attr = special ? kAttrControl : kAttrUserDefined;
  if (lstrip) attr |= kAttrLstrip;
  if (rstrip) attr |= kAttrRstrip;
  while (vocab.size() <= id) vocab.add_placeholder();
  if (vocab.is_placeholder(id)) {
    vocab.fill_placeholder(id, content, attr, file, place);
  } else if (vocab.at(id).text != content) {
    fail(file, ": ", place, ": id ", id, " is '", content, "' but the vocabulary has '", vocab.at(id).text, "' there");
  } else {
    vocab.set_attr(id, attr);
  }
}

void add_hf_merge(TokenizerModel& m, std::string_view left, std::string_view right, const std::string& file,
                  const std::string& place) {
  const int32_t l = m.vocab.find(left), r = m.vocab.find(right);
  if (l < 0 || r < 0) {
    fail(file, ": ", place, ": merge '", left, " ", right, "' names a piece that is not in the vocabulary");
  }
  const int32_t result = m.vocab.find(std::string(left) + std::string(right));
  if (result < 0) fail(file, ": ", place, ": merged piece '", left, right, "' is not in the vocabulary");
  m.merges.add(l, r, result);
}

HfPostProcessorSpecials read_tokenizer_json(const json& root, const std::string& file, TokenizerModel& m) {
  if (!root.is_object()) fail(file, ": not a JSON object");
  if (!root.contains("model")) fail(file, ": model: missing");
  m.algorithm = TokenizerAlgorithm::Bpe;
  read_bpe_model(root["model"], file, m);
  if (root.contains("added_tokens")) read_added_tokens(root["added_tokens"], file, m.vocab);
  if (m.vocab.unk >= 0) m.vocab.set_attr(m.vocab.unk, kAttrUnknown);
  if (m.byte_fallback) mark_byte_tokens(m.vocab);
  read_merges(root["model"].contains("merges") ? root["model"]["merges"] : json::array(), file, m);
  if (root.contains("normalizer")) read_normalizer(root["normalizer"], file, "normalizer", m);
  PreTokenizerParts parts;
  if (root.contains("pre_tokenizer")) read_pre_tokenizer(root["pre_tokenizer"], file, "pre_tokenizer", parts, m);
  resolve_pre_tokenizer(parts, file, m);
  m.piece_style = m.byte_level ? PieceStyle::ByteLevel : PieceStyle::Spm;
  if (root.contains("decoder")) read_decoder(root["decoder"], file, "decoder", m);
  if (m.byte_level != (m.piece_style == PieceStyle::ByteLevel)) {
    fail(file, ": decoder: ByteLevel decoding must go with a ByteLevel pre_tokenizer");
  }
  return root.contains("post_processor") ? read_post_processor(root["post_processor"], file, m.vocab) : HfPostProcessorSpecials{};
}

}  // namespace trellis
