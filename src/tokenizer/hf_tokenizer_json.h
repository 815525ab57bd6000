// The sections of a Hugging Face tokenizer.json (model, added_tokens, normalizer,
// pre_tokenizer, decoder, post_processor) read into a TokenizerModel.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/tokenizer_model.h"

namespace trellis {

// What tokenizer.json says about BOS/EOS through its post-processor (-1: nothing).
struct HfPostProcessorSpecials {
  int32_t bos = -1;
  int32_t eos = -1;
};

// Fills vocab, merges, normalizer, pre-tokenizer and decoding style of `m` from `root`
// (the parsed tokenizer.json at `file`).
HfPostProcessorSpecials read_tokenizer_json(const nlohmann::json& root, const std::string& file, TokenizerModel& m);

// Vocab helpers shared with the vocab.json + merges.txt loader.
// `pieces`: piece -> id; ids must be unique and non-negative; gaps become unused tokens.
void build_vocab_from_map(const nlohmann::json& pieces, const std::string& file, const std::string& place, Vocab& vocab);
// Registers one added token (special -> control, otherwise user-defined), extending the
// vocabulary when its id is past the end.
void add_hf_added_token(Vocab& vocab, int32_t id, const std::string& content, bool special, bool lstrip,
                        bool rstrip, const std::string& file, const std::string& place);
// Adds one merge of two pieces; both pieces and their concatenation must be in the vocabulary.
void add_hf_merge(TokenizerModel& m, std::string_view left, std::string_view right, const std::string& file,
                  const std::string& place);

}  // namespace trellis
