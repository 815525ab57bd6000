#include "tokenizer/bpe_trainer.h"

#include <algorithm>
#include <set>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/word_counts.h"

namespace trellis {

void check_bpe_trainer_options(const BpeTrainerOptions& o) {
  check_special_tokens(o.special_tokens);
  for (const std::string& s : o.special_tokens) {
    for (int b = 0; b < 256; ++b) {
      if (s == byte_to_unicode(static_cast<uint8_t>(b))) fail("special token '", s, "' is the text of a byte token");
    }
  }
  const int64_t min_size = 256 + static_cast<int64_t>(o.special_tokens.size());
  if (o.vocab_size < min_size) {
    fail("vocab size ", o.vocab_size, " is too small: it must hold the 256 byte tokens and the ",
         o.special_tokens.size(), " special tokens (at least ", min_size, ")");
  }
  if (o.vocab_size > kMaxBpeVocabSize) fail("vocab size ", o.vocab_size, " is too large (at most ", kMaxBpeVocabSize, ")");
  if (o.min_frequency < 1) fail("minimum pair frequency ", o.min_frequency, " must be at least 1");
}

namespace {

uint64_t pair_key(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }
int32_t key_left(uint64_t key) { return static_cast<int32_t>(key >> 32); }
int32_t key_right(uint64_t key) { return static_cast<int32_t>(key & 0xFFFFFFFFu); }

// Compares the byte strings a1+a2 and b1+b2 without building them: <0, 0 or >0.
int compare_concat(std::string_view a1, std::string_view a2, std::string_view b1, std::string_view b2) {
  const size_t na = a1.size() + a2.size(), nb = b1.size() + b2.size();
  for (size_t i = 0; i < std::min(na, nb); ++i) {
    const auto x = static_cast<unsigned char>(i < a1.size() ? a1[i] : a2[i - a1.size()]);
    const auto y = static_cast<unsigned char>(i < b1.size() ? b1[i] : b2[i - b1.size()]);
    if (x != y) return x < y ? -1 : 1;
  }
  return na < nb ? -1 : (na > nb ? 1 : 0);
}

struct Word {
  std::vector<int32_t> symbols;
  int64_t freq;
};

struct Candidate {
  int64_t count;
  uint64_t pair;
};

class Trainer {
 public:
  Trainer(const WordCounts& counts, const BpeTrainerOptions& options) : options_(options) {
    for (int b = 0; b < 256; ++b) new_token(std::string(1, static_cast<char>(b)));
    // Sorted so that the word indices (and so every container's contents) are reproducible.
    std::vector<std::pair<std::string_view, int64_t>> sorted(counts.words().begin(), counts.words().end());
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [text, freq] : sorted) {
      if (text.size() < 2) continue;  // no pair to merge
      Word w{{}, freq};
      for (unsigned char c : text) w.symbols.push_back(c);
      words_.push_back(std::move(w));
    }
    for (int32_t w = 0; w < static_cast<int32_t>(words_.size()); ++w) {
      const std::vector<int32_t>& s = words_[w].symbols;
      for (size_t i = 0; i + 1 < s.size(); ++i) add_count(pair_key(s[i], s[i + 1]), words_[w].freq, w);
    }
    heap_.reserve(pair_counts_.size());
    for (const auto& [pair, count] : pair_counts_) heap_.push_back({count, pair});
    std::make_heap(heap_.begin(), heap_.end(), lower_);
  }

  TrainedBpe run() {
    TrainedBpe out;
    const size_t target = static_cast<size_t>(options_.vocab_size) - options_.special_tokens.size();
    out.stop = BpeStop::VocabFull;
    while (tokens_.size() < target) {
      Candidate best;
      if (!pop_best(&best)) {
        out.stop = BpeStop::NoPairs;
        break;
      }
      if (best.count < options_.min_frequency) {
        out.stop = BpeStop::MinFrequency;
        break;
      }
      const int32_t left = key_left(best.pair), right = key_right(best.pair);
      std::string merged = tokens_[left] + tokens_[right];
      auto it = token_ids_.find(merged);
      const int32_t id = it != token_ids_.end() ? it->second : new_token(std::move(merged));
      out.merges.emplace_back(left, right);
      out.last_merge_count = best.count;
      merge_everywhere(left, right, id);
    }
    out.tokens = std::move(tokens_);
    out.special_tokens = options_.special_tokens;
    return out;
  }

 private:
  // Heap order: true when a should come out after b.
  struct Lower {
    const Trainer* t;
    bool operator()(const Candidate& a, const Candidate& b) const {
      if (a.count != b.count) return a.count < b.count;
      const std::string &al = t->tokens_[key_left(a.pair)], &ar = t->tokens_[key_right(a.pair)];
      const std::string &bl = t->tokens_[key_left(b.pair)], &br = t->tokens_[key_right(b.pair)];
      if (const int c = compare_concat(al, ar, bl, br); c != 0) return c > 0;
      return al.size() > bl.size();
    }
  };

  int32_t new_token(std::string bytes) {
    const auto id = static_cast<int32_t>(tokens_.size());
    token_ids_.emplace(bytes, id);
    tokens_.push_back(std::move(bytes));
    return id;
  }

  // Adds `delta` to a pair's count; a word that gains the pair joins its index.
  void add_count(uint64_t pair, int64_t delta, int32_t word) {
    int64_t& c = pair_counts_[pair];
    c += delta;
    if (c == 0) {
      pair_counts_.erase(pair);
      return;
    }
    if (delta > 0) {
      std::vector<int32_t>& ws = pair_words_[pair];
      if (ws.empty() || ws.back() != word) ws.push_back(word);
    }
  }

  int64_t count_of(uint64_t pair) const {
    auto it = pair_counts_.find(pair);
    return it == pair_counts_.end() ? 0 : it->second;
  }

  // The pair with the highest current count (ties as documented), or false when none is left.
  // Every pair's count is at most its best queued entry: gains are queued when they happen,
  // losses only when a stale entry reaches the top.
  bool pop_best(Candidate* out) {
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), lower_);
      const Candidate c = heap_.back();
      heap_.pop_back();
      const int64_t now = count_of(c.pair);
      if (now == c.count) {
        *out = c;
        return true;
      }
      if (now > 0 && now < c.count) push({now, c.pair});
    }
    return false;
  }

  void push(const Candidate& c) {
    heap_.push_back(c);
    std::push_heap(heap_.begin(), heap_.end(), lower_);
  }

  void merge_everywhere(int32_t left, int32_t right, int32_t id) {
    std::vector<int32_t> ws;
    if (auto node = pair_words_.extract(pair_key(left, right)); !node.empty()) ws = std::move(node.mapped());
    std::sort(ws.begin(), ws.end());
    ws.erase(std::unique(ws.begin(), ws.end()), ws.end());
    gained_.clear();
    for (int32_t w : ws) merge_in_word(w, left, right, id);
    std::sort(gained_.begin(), gained_.end());
    gained_.erase(std::unique(gained_.begin(), gained_.end()), gained_.end());
    for (uint64_t pair : gained_) {
      if (const int64_t c = count_of(pair); c > 0) push({c, pair});
    }
  }

  // Rewrites one word in place, left to right; each merge updates the counts of the pairs
  // it destroys and creates in the word as it stands at that moment.
  void merge_in_word(int32_t w, int32_t left, int32_t right, int32_t id) {
    std::vector<int32_t>& s = words_[w].symbols;
    const int64_t f = words_[w].freq;
    const size_t n = s.size();
    size_t j = 0;
    for (size_t i = 0; i < n;) {
      if (i + 1 < n && s[i] == left && s[i + 1] == right) {
        add_count(pair_key(left, right), -f, w);
        if (j > 0) {
          add_count(pair_key(s[j - 1], left), -f, w);
          gain(pair_key(s[j - 1], id), f, w);
        }
        if (i + 2 < n) {
          add_count(pair_key(right, s[i + 2]), -f, w);
          gain(pair_key(id, s[i + 2]), f, w);
        }
        s[j++] = id;
        i += 2;
      } else {
        s[j++] = s[i++];
      }
    }
    s.resize(j);
  }

  void gain(uint64_t pair, int64_t f, int32_t w) {
    add_count(pair, f, w);
    gained_.push_back(pair);
  }

  const BpeTrainerOptions& options_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> token_ids_;
  std::vector<Word> words_;
  std::unordered_map<uint64_t, int64_t> pair_counts_;
  std::unordered_map<uint64_t, std::vector<int32_t>> pair_words_;
  std::vector<Candidate> heap_;
  std::vector<uint64_t> gained_;
  Lower lower_{this};
};

}  // namespace

TrainedBpe train_bpe(const WordCounts& words, const BpeTrainerOptions& options) {
  check_bpe_trainer_options(options);
  if (words.word_total() == 0) fail("no text to train on (the input is empty or only special tokens)");
  TrainedBpe out = Trainer(words, options).run();
  const std::set<std::string_view> specials(out.special_tokens.begin(), out.special_tokens.end());
  for (const std::string& t : out.tokens) {
    if (specials.count(bytes_to_unicode(t))) {
      fail("special token '", bytes_to_unicode(t), "' is also a token learned from the text; choose another text for it");
    }
  }
  return out;
}

double bpe_bytes_per_token(const Tokenizer& tok, const WordCounts& words) {
  int64_t bytes = 0, tokens = 0;
  for (const auto& [word, freq] : words.words()) {
    bytes += static_cast<int64_t>(word.size()) * freq;
    tokens += static_cast<int64_t>(tok.encode(word, /*add_special=*/false, /*parse_special=*/false).size()) * freq;
  }
  return tokens ? static_cast<double>(bytes) / static_cast<double>(tokens) : 0.0;
}

}  // namespace trellis
