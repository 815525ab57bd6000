#include "tokenizer/vocab.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"

namespace trellis {

uint32_t token_attr_from_gguf_type(int64_t type) {
  switch (type) {
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return kAttrUndefined;
  }
}

void Vocab::add(std::string text, float score, uint32_t attr, const std::string& source, const std::string& place) {
  const int32_t id = size();
  auto [it, inserted] = index_.emplace(text, id);
  if (!inserted) fail(source, ": ", place, ": duplicate piece '", text, "' (ids ", it->second, " and ", id, ")");
  tokens_.push_back(TokenData{std::move(text), score, attr});
}

void Vocab::fill_placeholder(int32_t id, std::string text, uint32_t attr, const std::string& source,
                             const std::string& place) {
  auto [it, inserted] = index_.emplace(text, id);
  if (!inserted) fail(source, ": ", place, ": duplicate piece '", text, "' (ids ", it->second, " and ", id, ")");
  tokens_[id] = TokenData{std::move(text), 0.0f, attr};
}

namespace {

// Texts that mark the end of a turn, in the order of preference for eot_id.
const char* const kEotTexts[] = {"<|eot_id|>", "<|im_end|>",   "<|end|>",
                                 "<end_of_turn>", "<|endoftext|>", "<EOT>",
                                 "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>"};
// Texts llama.cpp treats as end of generation.
const char* const kEogTexts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                 "<|endoftext|>", "<|eom_id|>", "<EOT>"};
// Fill-in-the-middle tokens that also end generation.
const char* const kFimEogTexts[] = {"<|fim_pad|>", "<fim-pad>", "<PAD>", "<|fim_repo|>", "<|repo_name|>",
                                    "<fim-repo>", "<REPO>", "<|file_sep|>"};

// Other fill-in-the-middle tokens (forced to control for GGUF vocabs, not end of generation).
const char* const kFimTexts[] = {"<|fim_prefix|>", "<fim-prefix>", "<PRE>", "<|fim_suffix|>", "<fim-suffix>",
                                 "<SUF>", "<|fim_middle|>", "<fim-middle>", "<MID>",
                                 "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>",
                                 "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>",
                                 "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>"};

}  // namespace

void Vocab::finish(bool force_control) {
  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    byte_ids_[b] = find(buf);
  }

  auto make_control = [&](int32_t id) {
    if (force_control && !(tokens_[id].attr & kAttrControl)) tokens_[id].attr = kAttrControl;
  };
  if (eot < 0) {
    for (const char* t : kEotTexts) {
      if (int32_t id = find(t); id >= 0) {
        eot = id;
        break;
      }
    }
  }
  if (eom < 0) eom = find("<|eom_id|>");
  if (eot >= 0) make_control(eot);
  if (eom >= 0) make_control(eom);

  for (const char* t : kFimTexts) {
    if (int32_t id = find(t); id >= 0) make_control(id);
  }
  eog_.clear();
  for (const char* t : kFimEogTexts) {
    if (int32_t id = find(t); id >= 0) {
      eog_.insert(id);
      make_control(id);
    }
  }
  for (const char* t : kEogTexts) {
    if (int32_t id = find(t); id >= 0) {
      eog_.insert(id);
      make_control(id);
    }
  }
  for (int32_t id : {eos, eot, eom}) {
    if (id >= 0) eog_.insert(id);
  }

  specials_.clear();
  for (int32_t id = 0; id < size(); ++id) {
    if (tokens_[id].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) specials_.push_back(id);
  }
  std::stable_sort(specials_.begin(), specials_.end(),
                   [&](int32_t a, int32_t b) { return tokens_[a].text.size() > tokens_[b].text.size(); });
}

}  // namespace trellis
