#include "train/dataset.h"

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace trellis {

int64_t Example::n_labels() const {
  int64_t n = 0;
  for (size_t i = 1; i < labels.size(); ++i) n += labels[i];
  return n;
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, ": cannot open the data file");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void append(Example& e, const std::vector<int32_t>& toks, bool label) {
  e.tokens.insert(e.tokens.end(), toks.begin(), toks.end());
  e.labels.insert(e.labels.end(), toks.size(), label ? 1 : 0);
}

void append_eos(Example& e, const Tokenizer& tok) {
  if (tok.eos_id() >= 0) append(e, {tok.eos_id()}, true);
}

std::string get_string(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) fail("\"", key, "\" must be a string");
  return it->get<std::string>();
}

Example from_text(const nlohmann::json& j, const Tokenizer& tok) {
  Example e;
  append(e, tok.encode(get_string(j, "text"), true, false), true);
  append_eos(e, tok);
  return e;
}

// Tokenizes prompt+completion as one text when the prompt's tokens are a prefix of it (so
// the boundary tokenizes as it would at inference), else the two parts separately.
Example from_prompt_completion(const nlohmann::json& j, const Tokenizer& tok, bool train_on_inputs) {
  const std::string prompt = get_string(j, "prompt"), completion = get_string(j, "completion");
  if (completion.empty()) fail("\"completion\" is empty: nothing to learn from");
  const auto p = tok.encode(prompt, true, false);
  const auto full = tok.encode(prompt + completion, true, false);
  Example e;
  if (full.size() > p.size() && std::equal(p.begin(), p.end(), full.begin())) {
    append(e, p, train_on_inputs);
    append(e, std::vector<int32_t>(full.begin() + static_cast<std::ptrdiff_t>(p.size()), full.end()), true);
  } else {
    append(e, p, train_on_inputs);
    append(e, tok.encode(completion, false, false), true);
  }
  append_eos(e, tok);
  return e;
}

std::string render(const ChatTemplate& t, const nlohmann::ordered_json& msgs, bool gen_prompt, const Tokenizer& tok) {
  ChatTemplateInputs in;
  in.messages = msgs;
  in.add_generation_prompt = gen_prompt;
  in.bos_token = tok.bos_text();
  in.eos_token = tok.eos_text();
  in.now_unix_seconds = 0;  // deterministic data
  return t.render(in);
}

// The character spans [begin, end) of the assistant turns in `full`: for assistant turn i,
// from the end of the conversation before it rendered with the generation prompt to the end of
// the conversation through it.
std::vector<std::pair<size_t, size_t>> assistant_spans(const ChatTemplate& t, const nlohmann::ordered_json& om,
                                                       const std::string& full, const Tokenizer& tok) {
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t i = 0; i < om.size(); ++i) {
    if (om[i]["role"] != "assistant") continue;
    nlohmann::ordered_json before(om.begin(), om.begin() + static_cast<std::ptrdiff_t>(i));
    nlohmann::ordered_json upto(om.begin(), om.begin() + static_cast<std::ptrdiff_t>(i + 1));
    const std::string a = i == 0 ? std::string() : render(t, before, true, tok);
    const std::string b = render(t, upto, false, tok);
    if (full.compare(0, b.size(), b) != 0 || b.compare(0, a.size(), a) != 0 || a.size() > b.size()) {
      fail("the chat template does not render conversations incrementally; cannot locate assistant turn ", i);
    }
    spans.emplace_back(a.size(), b.size());
  }
  return spans;
}

// The token index at which full[0, chars) ends in `toks` (the tokenization of all of `full`):
// the length of the prefix's own tokenization when it is a prefix of `toks` — then the prompt
// an inference run would tokenize is exactly what training sees — else nullopt (a token
// straddles the boundary).
std::optional<size_t> token_boundary(const Tokenizer& tok, const std::string& full, size_t chars,
                                     const std::vector<int32_t>& toks) {
  if (chars == 0) return 0;
  if (chars == full.size()) return toks.size();
  const auto pre = tok.encode(std::string_view(full).substr(0, chars), false, true);
  if (pre.size() > toks.size() || !std::equal(pre.begin(), pre.end(), toks.begin())) return std::nullopt;
  return pre.size();
}

// Renders the conversation once and tokenizes it whole (SentencePiece would otherwise add a
// word-start space to every separately tokenized assistant turn). Assistant turns are located
// as text spans, mapped to token boundaries, and labelled up to and including their last
// end-of-generation token (<|im_end|>, <|eot_id|>, <|end|>, </s>...): what the template adds
// after it (a newline) is never generated, so it is context. When a token straddles a turn
// boundary, the pieces are tokenized separately instead.
Example from_messages(const nlohmann::json& j, const Tokenizer& tok, bool train_on_inputs) {
  const auto& msgs = j.at("messages");
  if (!msgs.is_array() || msgs.empty()) fail("\"messages\" must be a non-empty array");
  nlohmann::ordered_json om = nlohmann::ordered_json::array();
  bool has_assistant = false;
  for (const auto& m : msgs) {
    if (!m.is_object()) fail("each message must be an object with \"role\" and \"content\"");
    const std::string role = get_string(m, "role");
    om.push_back({{"role", role}, {"content", get_string(m, "content")}});
    has_assistant |= role == "assistant";
  }
  if (!has_assistant) fail("conversation has no assistant turn: nothing to learn from");
  if (tok.chat_template().empty()) fail("the model has no chat template, which \"messages\" examples need");
  const ChatTemplate t(tok.chat_template());
  const std::string full = render(t, om, false, tok);
  const auto spans = assistant_spans(t, om, full, tok);

  std::vector<int32_t> toks = tok.encode(full, false, true);
  std::vector<std::pair<size_t, size_t>> token_spans;
  for (const auto& [c0, c1] : spans) {
    const auto t0 = token_boundary(tok, full, c0, toks), t1 = token_boundary(tok, full, c1, toks);
    if (!t0 || !t1) break;
    token_spans.emplace_back(*t0, *t1);
  }
  if (token_spans.size() != spans.size()) {  // a token straddles a boundary: tokenize the pieces
    toks.clear();
    token_spans.clear();
    size_t at = 0;
    auto add = [&](size_t from, size_t to) {
      const auto p = tok.encode(std::string_view(full).substr(from, to - from), false, true);
      toks.insert(toks.end(), p.begin(), p.end());
    };
    for (const auto& [c0, c1] : spans) {
      add(at, c0);
      const size_t t0 = toks.size();
      add(c0, c1);
      token_spans.emplace_back(t0, toks.size());
      at = c1;
    }
    add(at, full.size());
  }
  Example e;
  e.tokens = toks;
  e.labels.assign(toks.size(), train_on_inputs ? 1 : 0);
  for (const auto& [t0, t1] : token_spans) {
    size_t end = t1;
    for (size_t k = t1; k > t0; --k) {
      if (tok.is_end_of_generation(toks[k - 1])) {
        end = k;
        break;
      }
    }
    std::fill(e.labels.begin() + static_cast<std::ptrdiff_t>(t0), e.labels.begin() + static_cast<std::ptrdiff_t>(end), 1);
  }
  return e;
}

void truncate(Example& e, int64_t ctx) {
  e.tokens.resize(static_cast<size_t>(ctx));
  e.labels.resize(static_cast<size_t>(ctx));
}

std::vector<Example> text_windows(const std::string& text, const Tokenizer& tok, int64_t ctx) {
  const auto ids = tok.encode(text, false, false);
  const bool bos = tok.add_bos() && tok.bos_id() >= 0;
  const int64_t chunk = bos ? ctx - 1 : ctx;
  if (chunk < 1) fail("--ctx ", ctx, " is too small");
  std::vector<Example> out;
  for (size_t i = 0; i < ids.size(); i += static_cast<size_t>(chunk)) {
    Example e;
    if (bos) append(e, {tok.bos_id()}, false);
    const size_t end = std::min(ids.size(), i + static_cast<size_t>(chunk));
    append(e, std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(i), ids.begin() + static_cast<std::ptrdiff_t>(end)), true);
    if (e.tokens.size() >= 2) out.push_back(std::move(e));
  }
  return out;
}

void note(DatasetStats& s, const std::string& msg) {
  if (s.messages.size() < 20) s.messages.push_back(msg);
}

}  // namespace

Example example_from_json(const std::string& line, const Tokenizer& tok, bool train_on_inputs) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    fail("malformed JSON (", e.what(), ")");
  }
  if (!j.is_object()) fail("expected a JSON object");
  Example e;
  if (j.contains("messages")) {
    e = from_messages(j, tok, train_on_inputs);
  } else if (j.contains("prompt") || j.contains("completion")) {
    e = from_prompt_completion(j, tok, train_on_inputs);
  } else if (j.contains("text")) {
    e = from_text(j, tok);
  } else {
    fail("expected a \"text\", \"prompt\"/\"completion\" or \"messages\" field");
  }
  if (e.tokens.size() < 2 || e.n_labels() == 0) fail("example has no token to learn");
  return e;
}

std::vector<Example> load_examples(const std::string& path, const Tokenizer& tok, const DatasetOptions& opt,
                                   DatasetStats& stats) {
  const std::string data = read_file(path);
  if (data.find_first_not_of(" \t\r\n") == std::string::npos) fail(path, ": the data file is empty");
  std::vector<Example> out;
  if (ends_with(path, ".txt")) {
    out = text_windows(data, tok, opt.ctx);
    stats.lines = std::count(data.begin(), data.end(), '\n');
  } else if (ends_with(path, ".jsonl") || ends_with(path, ".json")) {
    std::istringstream in(data);
    std::string line;
    while (std::getline(in, line)) {
      ++stats.lines;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = path + ":" + std::to_string(stats.lines);
      try {
        Example e = example_from_json(line, tok, opt.train_on_inputs);
        e.where = where;
        out.push_back(std::move(e));
      } catch (const Error& err) {
        if (opt.on_bad_line == BadLinePolicy::Stop) fail(where, ": ", err.what(), " (--on-bad-line skip to skip such lines)");
        ++stats.skipped;
        note(stats, where + ": skipped: " + err.what());
      }
    }
  } else {
    fail(path, ": unknown data format (expected .txt, .jsonl or .json)");
  }
  for (Example& e : out) {
    if (static_cast<int64_t>(e.tokens.size()) > opt.ctx) {
      if (opt.on_too_long == TooLongPolicy::Error) {
        fail(e.where.empty() ? path : e.where, ": example of ", e.tokens.size(), " tokens is longer than --ctx ", opt.ctx);
      }
      truncate(e, opt.ctx);
      ++stats.truncated;
    }
  }
  std::erase_if(out, [](const Example& e) { return e.n_labels() == 0; });
  if (out.empty()) fail(path, ": no usable training example");
  stats.examples = static_cast<int64_t>(out.size());
  for (const Example& e : out) {
    stats.tokens += static_cast<int64_t>(e.tokens.size());
    stats.labels += e.n_labels();
  }
  return out;
}

std::vector<std::vector<int32_t>> pack_examples(const std::vector<Example>& ex, int64_t ctx, bool packing) {
  std::vector<std::vector<int32_t>> windows;
  int64_t used = 0;
  for (size_t i = 0; i < ex.size(); ++i) {
    const auto n = static_cast<int64_t>(ex[i].tokens.size());
    if (!packing || windows.empty() || used + n > ctx) {
      windows.emplace_back();
      used = 0;
    }
    windows.back().push_back(static_cast<int32_t>(i));
    used += n;
  }
  return windows;
}

void append_window(const std::vector<Example>& ex, const std::vector<int32_t>& window, TrainBatch& batch) {
  for (int32_t i : window) batch.add_segment(ex[i].tokens, ex[i].labels);
}

std::string show_example(const Example& e, const Tokenizer& tok, size_t max_tokens) {
  std::string out;
  bool open = false;
  for (size_t i = 0; i < e.tokens.size() && i < max_tokens; ++i) {
    const bool label = i > 0 && e.labels[i];
    if (!label && !open) out += "[", open = true;
    if (label && open) out += "]", open = false;
    std::string piece = tok.token_to_piece(e.tokens[i]);
    for (size_t at; (at = piece.find("\xe2\x96\x81")) != std::string::npos;) piece.replace(at, 3, " ");  // SPM space
    out += piece;
  }
  if (open) out += "]";
  if (e.tokens.size() > max_tokens) out += " ...";
  return out;
}

}  // namespace trellis
