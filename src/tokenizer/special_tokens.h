// Splitting input text at special tokens before the tokenizer algorithm runs, exactly as
// llama.cpp's tokenizer_st_partition: special tokens are taken longest first, each one
// splitting every remaining text fragment at all its (non-overlapping, leftmost) occurrences.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace trellis {

struct Fragment {
  int32_t token = -1;      // a special token, or -1 for raw text
  std::string_view text;   // raw text (empty for a token)
};

class SpecialTokenMatcher {
 public:
  explicit SpecialTokenMatcher(const Vocab& vocab);
  // parse_special=false still matches user-defined tokens (only control and unknown are
  // skipped), as llama.cpp and Hugging Face do.
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t rank = -1;                                  // index into order_ when a token ends here
  };
  int32_t child(int32_t node, uint8_t byte) const;
  void insert(std::string_view text, int32_t rank);
  // Ranks (positions in the priority order) of the tokens that occur in `text`.
  std::vector<int32_t> occurring_ranks(std::string_view text, bool parse_special) const;
  static void split_on(std::vector<Fragment>& frags, int32_t id, std::string_view token, uint32_t attr);

  const Vocab& vocab_;
  std::vector<int32_t> order_;  // special ids, longest first
  std::vector<Node> nodes_;
  int32_t root_children_[256];
};

}  // namespace trellis
