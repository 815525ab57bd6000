// The Hugging Face normalizers the supported tokenizers use: Unicode normal forms, Prepend
// and Replace of a literal string, in a sequence. Applied to each text fragment between
// special tokens, as `tokenizers` does.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace trellis {

struct NormalizerStep {
  enum class Kind { NFC, NFD, NFKC, NFKD, Prepend, Replace };
  Kind kind;
  std::string pattern;  // Replace: literal to find
  std::string content;  // Prepend: prefix; Replace: replacement
};

class Normalizer {
 public:
  void add(NormalizerStep step) { steps_.push_back(std::move(step)); }
  bool empty() const { return steps_.empty(); }
  const std::vector<NormalizerStep>& steps() const { return steps_; }
  std::string apply(std::string_view text) const;

 private:
  std::vector<NormalizerStep> steps_;
};

// Unicode normalization through utf8proc. Text that is not valid UTF-8 is returned unchanged
// (a Rust `str` could not hold it, so there is no reference behaviour to follow).
std::string unicode_normalize(std::string_view text, NormalizerStep::Kind form);

}  // namespace trellis
