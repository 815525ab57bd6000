// Incremental detokenization for streaming generated text.
#pragma once
#include <cstdint>
#include <string>

namespace trellis {

class Tokenizer;

// Streaming decode: feed ids one at a time, get back only complete UTF-8 characters. The
// concatenation of all push() results and flush() equals decode(all ids).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool render_special = true);
  std::string push(int32_t id);
  std::string flush();

 private:
  std::string take_ready(bool final);

  const Tokenizer& tok_;
  bool render_special_;
  bool first_ = true;
  std::string raw_;      // decoded bytes not yet through the clean-up pass
  std::string pending_;  // cleaned bytes held back: an incomplete UTF-8 character
};

}  // namespace trellis
