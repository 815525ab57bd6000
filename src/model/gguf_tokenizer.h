// A model's tokenizer on its way into a GGUF file written from it (quantize, train --full,
// lora merge): the GGUF tokenizer.* keys of tokenizer/gguf_vocab_writer.h, padded to the
// model's vocabulary, or a warning for the user when there is nothing exact to write.
#pragma once
#include <optional>
#include <string>

namespace trellis {

class GgufWriter;
class Model;

// Sets the tokenizer keys on `w`. Returns a warning instead, writing nothing, when the model
// has no tokenizer or one without an exact GGUF form: the weights are still worth
// converting, and the output then runs with --tokenizer.
std::optional<std::string> add_tokenizer_metadata(GgufWriter& w, const Model& model);

}  // namespace trellis
