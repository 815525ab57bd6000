// The vocabulary shared by every tokenizer algorithm: pieces, scores, attributes, the
// piece -> id index and the special-token ids. Loaders fill it; `finish()` derives the rest.
#pragma once
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace trellis {

// Token attributes (llama.cpp's llama_token_attr bits; GGUF token types map onto them).
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,  // a special token that swallows whitespace on its left
  kAttrRstrip = 1u << 8,  // ... and on its right
};

// GGUF `tokenizer.ggml.token_type` value -> attribute (unknown values -> undefined).
uint32_t token_attr_from_gguf_type(int64_t type);

struct TokenData {
  std::string text;
  float score = 0.0f;
  uint32_t attr = kAttrNormal;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Vocab {
 public:
  // Appends a token; throws Error("<source>: <place>: duplicate piece ...") on a repeat.
  void add(std::string text, float score, uint32_t attr, const std::string& source, const std::string& place);
  // Appends an unused placeholder with no text (a gap in a Hugging Face id map).
  void add_placeholder() { tokens_.push_back(TokenData{std::string(), 0.0f, kAttrUnused}); }
  bool is_placeholder(int32_t id) const { return tokens_[id].text.empty(); }
  // Gives a placeholder its text (throws on a duplicate piece like add()).
  void fill_placeholder(int32_t id, std::string text, uint32_t attr, const std::string& source, const std::string& place);
  void set_attr(int32_t id, uint32_t attr) { tokens_[id].attr = attr; }

  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  bool valid(int32_t id) const { return id >= 0 && id < size(); }
  const TokenData& at(int32_t id) const { return tokens_[id]; }
  int32_t find(std::string_view text) const {
    auto it = index_.find(text);
    return it == index_.end() ? -1 : it->second;
  }
  // Id of `<0xNN>` (SentencePiece byte fallback), or -1.
  int32_t byte_token(uint8_t byte) const { return byte_ids_[byte]; }

  // Special ids (-1 when absent) and flags, set by the loaders.
  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, pad = -1;
  bool add_bos = false, add_eos = false;

  // Derives EOT / end-of-generation ids from well-known texts, the byte-token table and the
  // special-token list used when matching. `force_control`: turn end-of-turn and FIM tokens
  // that are not control-typed into control tokens, as llama.cpp does for GGUF vocabs (a
  // Hugging Face vocab keeps its own special / non-special flags).
  void finish(bool force_control);
  const std::set<int32_t>& eog_ids() const { return eog_; }
  // Control / user-defined / unknown tokens, longest text first (ties by id).
  const std::vector<int32_t>& special_tokens() const { return specials_; }

 private:
  std::vector<TokenData> tokens_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> index_;
  int32_t byte_ids_[256] = {};
  std::set<int32_t> eog_;
  std::vector<int32_t> specials_;
};

}  // namespace trellis
