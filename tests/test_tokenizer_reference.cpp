// Differential tests: the production merge loops (8-byte keys, bucketed queue) against direct
// transcriptions of llama.cpp's llm_tokenizer_spm / llm_tokenizer_bpe loops, on random words
// with long runs, where the bucket path and its fallback to a heap are exercised.
#include <gtest/gtest.h>

#include <map>
#include <queue>
#include <random>

#include "formats/gguf.h"
#include "test_paths.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/spm.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_model.h"

using namespace trellis;
using trellis::test::shared_path;

namespace {

// llama.cpp's SPM session, transcribed (bigrams carry left, right, score and size).
std::vector<int32_t> reference_spm(const Vocab& vocab, const std::string& text) {
  struct Sym { int prev, next; size_t start, n; };
  struct Bigram { int left, right; float score; size_t size; };
  struct Cmp {
    bool operator()(const Bigram& l, const Bigram& r) const {
      return l.score < r.score || (l.score == r.score && l.left > r.left);
    }
  };
  std::vector<Sym> syms;
  for (size_t offs = 0; offs < text.size();) {
    const size_t n = std::min(utf8_len_from_lead(uint8_t(text[offs])), text.size() - offs);
    const int idx = int(syms.size());
    syms.push_back({idx - 1, offs + n == text.size() ? -1 : idx + 1, offs, n});
    offs += n;
  }
  std::priority_queue<Bigram, std::vector<Bigram>, Cmp> q;
  std::map<std::string, std::pair<int, int>> rev;
  auto add = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    const std::string t = text.substr(syms[l].start, syms[l].n + syms[r].n);
    const int32_t id = vocab.find(t);
    if (id < 0) return;
    q.push({l, r, vocab.at(id).score, t.size()});
    rev[t] = {l, r};
  };
  for (int i = 1; i < int(syms.size()); ++i) add(i - 1, i);
  while (!q.empty()) {
    const Bigram b = q.top();
    q.pop();
    Sym& l = syms[b.left];
    Sym& r = syms[b.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = b.left;
    add(l.prev, b.left);
    add(b.left, l.next);
  }
  std::vector<int32_t> out;
  std::function<void(int)> reseg = [&](int i) {
    const std::string t = text.substr(syms[i].start, syms[i].n);
    if (int32_t id = vocab.find(t); id >= 0) return out.push_back(id);
    auto it = rev.find(t);
    if (it == rev.end()) {
      for (unsigned char c : t) out.push_back(vocab.byte_token(c));
      return;
    }
    reseg(it->second.first);
    reseg(it->second.second);
  };
  for (int i = syms.empty() ? -1 : 0; i != -1; i = syms[i].next) reseg(i);
  return out;
}

// llama.cpp's BPE loop over ids (bigrams carry left, right and the pair's text as ids).
std::vector<BpeSymbol> reference_bpe(const BpeMerges& merges, std::vector<BpeSymbol> s) {
  struct Node { int32_t id; int prev, next; uint32_t start, len; bool alive; };
  struct Big { int rank, left, right; int32_t lid, rid; };
  struct Cmp {
    bool operator()(const Big& l, const Big& r) const { return l.rank > r.rank || (l.rank == r.rank && l.left > r.left); }
  };
  std::vector<Node> n;
  for (size_t i = 0; i < s.size(); ++i) n.push_back({s[i].id, int(i) - 1, i + 1 < s.size() ? int(i) + 1 : -1, s[i].start, s[i].len, true});
  std::priority_queue<Big, std::vector<Big>, Cmp> q;
  auto add = [&](int l, int r) {
    if (l < 0 || r < 0 || n[l].id < 0 || n[r].id < 0) return;
    if (auto* m = merges.find(n[l].id, n[r].id)) q.push({m->rank, l, r, n[l].id, n[r].id});
  };
  for (int i = 0; i + 1 < int(n.size()); ++i) add(i, i + 1);
  while (!q.empty()) {
    const Big b = q.top();
    q.pop();
    Node& l = n[b.left];
    Node& r = n[b.right];
    if (!l.alive || !r.alive || l.next != b.right || l.id != b.lid || r.id != b.rid) continue;
    l.id = merges.find(l.id, r.id)->result;
    l.len += r.len;
    r.alive = false;
    l.next = r.next;
    if (r.next >= 0) n[r.next].prev = b.left;
    add(l.prev, b.left);
    add(b.left, l.next);
  }
  std::vector<BpeSymbol> out;
  for (int i = n.empty() ? -1 : 0; i != -1; i = n[i].next) out.push_back({n[i].id, n[i].start, n[i].len});
  return out;
}

// Words built from a few characters in long runs and random mixes.
std::string random_word(std::mt19937& rng, const std::vector<std::string>& alphabet) {
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1), len(1, 6000), run(1, 300);
  std::string s;
  const size_t target = len(rng);
  while (s.size() < target) {
    const std::string& c = alphabet[pick(rng)];
    const size_t k = (rng() % 4 == 0) ? run(rng) : 1;
    for (size_t i = 0; i < k; ++i) s += c;
  }
  return s;
}

TEST(TokenizerReference, SpmMatchesLlamaCppLoop) {
  TRELLIS_REQUIRE_SHARED("vocab/ggml-vocab-llama-spm.gguf");
  auto tok = Tokenizer::from_gguf(*GgufFile::open(shared_path("vocab/ggml-vocab-llama-spm.gguf")));
  const Vocab& v = tok->model().vocab;
  std::mt19937 rng(7);
  const std::vector<std::string> alphabet = {"\xe2\x96\x81", "a", "b", "e", "t", "h", "1", "0", "=", "-", "日", "本", "é"};
  for (int i = 0; i < 60; ++i) {
    const std::string w = random_word(rng, alphabet);
    std::vector<int32_t> got;
    spm_tokenize(v, w, got, "test");
    ASSERT_EQ(got, reference_spm(v, w)) << "word of " << w.size() << " bytes";
  }
}

// Word-by-word SPM (used when no piece has an inner U+2581) equals one pass over the text.
TEST(TokenizerReference, SpmWordSplitMatchesWholeText) {
  TRELLIS_REQUIRE_SHARED("vocab/ggml-vocab-llama-spm.gguf");
  auto tok = Tokenizer::from_gguf(*GgufFile::open(shared_path("vocab/ggml-vocab-llama-spm.gguf")));
  ASSERT_TRUE(tok->model().spm_split_words);
  std::mt19937 rng(5);
  const std::vector<std::string> alphabet = {" ", "  ", "a", "b", "the", "ing", "\n", "1", "日", "é", "\xe2\x96\x81", "\xff", "🦙"};
  for (int i = 0; i < 60; ++i) {
    const std::string w = random_word(rng, alphabet).substr(0, 3000);
    std::string escaped = "\xe2\x96\x81";
    for (char c : w) c == ' ' ? escaped += "\xe2\x96\x81" : escaped += c;
    ASSERT_EQ(tok->encode(w, false, false), reference_spm(tok->model().vocab, escaped)) << w;
  }
}

TEST(TokenizerReference, BpeMatchesLlamaCppLoop) {
  TRELLIS_REQUIRE_SHARED("vocab/ggml-vocab-gpt-2.gguf");
  auto tok = Tokenizer::from_gguf(*GgufFile::open(shared_path("vocab/ggml-vocab-gpt-2.gguf")));
  const TokenizerModel& m = tok->model();
  std::mt19937 rng(11);
  const std::vector<std::string> alphabet = {"a", "b", "e", "t", "h", "s", " ", "1", "0", "=", "-", "日", "é"};
  for (int i = 0; i < 60; ++i) {
    const std::string w = random_word(rng, alphabet);
    std::vector<BpeSymbol> syms;
    for (uint32_t k = 0; k < w.size(); ++k) syms.push_back({m.vocab.find(byte_to_unicode(uint8_t(w[k]))), k, 1});
    const auto expected = reference_bpe(m.merges, syms);
    bpe_merge(m.merges, syms);
    ASSERT_EQ(syms.size(), expected.size());
    for (size_t k = 0; k < syms.size(); ++k) ASSERT_EQ(syms[k].id, expected[k].id) << k;
  }
}

}  // namespace
