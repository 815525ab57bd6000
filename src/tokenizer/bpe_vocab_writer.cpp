#include "tokenizer/bpe_vocab_writer.h"

#include <algorithm>

#include "formats/gguf_writer.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/byte_unicode.h"

namespace trellis {

namespace {
constexpr int32_t kTypeNormal = 1, kTypeControl = 3;
}

const std::string& chatml_template() {
  static const std::string t =
      "{% for message in messages %}"
      "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
      "{% endfor %}"
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  return t;
}

void set_bpe_vocab_metadata(GgufWriter& w, const TrainedBpe& bpe) {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  tokens.reserve(static_cast<size_t>(bpe.vocab_size()));
  for (const std::string& t : bpe.tokens) {
    tokens.push_back(bytes_to_unicode(t));
    types.push_back(kTypeNormal);
  }
  for (const std::string& s : bpe.special_tokens) {
    tokens.push_back(s);
    types.push_back(kTypeControl);
  }
  std::vector<std::string> merges;
  merges.reserve(bpe.merges.size());
  for (const auto& [l, r] : bpe.merges) merges.push_back(tokens[l] + " " + tokens[r]);
  auto special_id = [&](const std::string& text) -> int64_t {
    auto it = std::find(bpe.special_tokens.begin(), bpe.special_tokens.end(), text);
    if (it == bpe.special_tokens.end()) return -1;
    return static_cast<int64_t>(bpe.tokens.size() + (it - bpe.special_tokens.begin()));
  };

  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "gpt-2");
  w.set_array_string("tokenizer.ggml.tokens", std::move(tokens));
  w.set_array_i32("tokenizer.ggml.token_type", types);
  w.set_array_string("tokenizer.ggml.merges", std::move(merges));
  if (!bpe.special_tokens.empty()) {
    const auto first = static_cast<uint32_t>(bpe.tokens.size());
    w.set_u32("tokenizer.ggml.bos_token_id", first);
    w.set_u32("tokenizer.ggml.eos_token_id", first);
    w.set_bool("tokenizer.ggml.add_bos_token", true);
    w.set_bool("tokenizer.ggml.add_eos_token", false);
  }
  w.set_bool("tokenizer.ggml.clean_spaces", false);
  const int64_t im_start = special_id("<|im_start|>"), im_end = special_id("<|im_end|>");
  if (im_end >= 0) w.set_u32("tokenizer.ggml.eot_token_id", static_cast<uint32_t>(im_end));
  if (im_start >= 0 && im_end >= 0) w.set_string("tokenizer.chat_template", chatml_template());
}

void write_bpe_vocab(const TrainedBpe& bpe, const std::string& name, const std::string& path) {
  GgufWriter w;
  w.set_string("general.name", name);
  set_bpe_vocab_metadata(w, bpe);
  w.write(path);
}

}  // namespace trellis
