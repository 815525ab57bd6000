#include "model/gguf_tokenizer.h"

#include "core/error.h"
#include "model/model.h"
#include "tokenizer/gguf_vocab_writer.h"
#include "tokenizer/tokenizer.h"

namespace trellis {

std::optional<std::string> add_tokenizer_metadata(GgufWriter& w, const Model& model) {
  const std::string fallback = "; the GGUF file has no tokenizer: run it with --tokenizer";
  if (!model.tokenizer()) {
    return cat(model.path(), ": no tokenizer (tokenizer.json, or vocab.json + merges.txt)", fallback);
  }
  try {
    set_gguf_vocab_metadata(w, model.tokenizer()->model(), model.hparams().n_vocab);
  } catch (const Error& e) {
    return cat(e.what(), fallback);
  }
  return std::nullopt;
}

}  // namespace trellis
