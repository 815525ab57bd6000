// Training a GPT-2-style byte-level BPE vocabulary from word counts (word_counts.h).
//
// Every word starts as its bytes (token ids 0..255 are the bytes 0..255). Each step merges
// the most frequent adjacent pair of tokens everywhere it occurs, left to right without
// overlaps, and records the merge. A pair's frequency is the sum over words of (word count
// x occurrences of the pair in the word), overlapping occurrences included ("a a a" holds
// (a, a) twice).
//
// Ties are broken by the bytes of the merged token, lexicographically smallest first
// (bytes compared as unsigned), then by the shorter left part (("a", "bc") before
// ("ab", "c")). That is a total order on distinct pairs, so the result depends only on the
// word counts, never on hash or insertion order.
//
// A merge whose result equals an existing token (("ab", "c") after ("a", "bc")) is recorded
// but reuses that token's id, so the vocabulary never holds two tokens with the same bytes.
// Training stops when the vocabulary is full (256 bytes + learned tokens + special tokens =
// vocab_size), when no pair is left, or when the best pair occurs fewer than min_frequency
// times.
//
// Incremental: pair counts and a pair -> words index are updated only for the words a merge
// touches, and the best pair comes from a max-heap whose stale entries are skipped (or
// re-queued at their current count) when they reach the top. The cost of a merge is the
// length of the words that contain the pair.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace trellis {

class WordCounts;
class Tokenizer;

constexpr int64_t kMaxBpeVocabSize = int64_t{1} << 20;

struct BpeTrainerOptions {
  int64_t vocab_size = 4096;  // total tokens: 256 bytes + learned tokens + special tokens
  int64_t min_frequency = 2;  // stop when the most frequent pair occurs fewer times than this
  // Placed after the learned tokens, in this order; the first is BOS and EOS.
  std::vector<std::string> special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
};

// Throws Error for a vocab size outside [256 + specials, kMaxBpeVocabSize], a minimum
// frequency below 1, or empty / repeated / single-byte special tokens.
void check_bpe_trainer_options(const BpeTrainerOptions& options);

enum class BpeStop { VocabFull, NoPairs, MinFrequency };

struct TrainedBpe {
  std::vector<std::string> tokens;                 // raw bytes of ids 0..N-1 (0..255: the bytes)
  std::vector<std::pair<int32_t, int32_t>> merges;  // (left id, right id), rank order
  std::vector<std::string> special_tokens;         // ids N, N+1, ...
  BpeStop stop = BpeStop::VocabFull;
  int64_t last_merge_count = 0;  // frequency of the last pair merged (0 with no merges)

  int64_t vocab_size() const { return static_cast<int64_t>(tokens.size() + special_tokens.size()); }
};

// Throws Error when there is no word to train on, or when a learned token's text (in the
// byte-to-Unicode form the vocabulary stores) equals a special token.
TrainedBpe train_bpe(const WordCounts& words, const BpeTrainerOptions& options);

// Bytes per token when `tok` encodes the counted words (the training text without its
// special tokens): the compression the vocabulary reaches on its own training text.
double bpe_bytes_per_token(const Tokenizer& tok, const WordCounts& words);

}  // namespace trellis
