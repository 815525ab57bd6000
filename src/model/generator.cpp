#include "model/generator.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "model/session.h"
#include "tokenizer/tokenizer.h"

namespace trellis {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::Length: return "length";
    case StopReason::EndOfGeneration: return "end of generation";
    case StopReason::StopString: return "stop string";
    case StopReason::ContextFull: return "context full";
    case StopReason::Interrupted: return "interrupted";
  }
  return "?";
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Holds back the tail of the text that could still grow into a stop string.
class StopMatcher {
 public:
  explicit StopMatcher(const std::vector<std::string>& stops) : stops_(stops) {}

  // Adds text; returns true if a stop string completed (pending() is then cut before it).
  bool add(std::string_view s) {
    pending_ += s;
    for (const auto& stop : stops_) {
      if (stop.empty()) continue;
      const size_t at = pending_.find(stop);
      if (at != std::string::npos) {
        pending_.resize(at);
        return true;
      }
    }
    return false;
  }
  // Text that can be released now.
  std::string take_safe() {
    size_t keep = 0;
    for (const auto& stop : stops_) {
      for (size_t n = std::min(stop.size() - 1, pending_.size()); n > keep; --n) {
        if (pending_.compare(pending_.size() - n, n, stop, 0, n) == 0) {
          keep = n;
          break;
        }
      }
    }
    std::string out = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    return out;
  }
  std::string take_all() { return std::exchange(pending_, std::string()); }

 private:
  const std::vector<std::string>& stops_;
  std::string pending_;
};

}  // namespace

GenerateResult generate(Session& session, const Tokenizer& tok, std::span<const int32_t> prompt,
                        const GenerateOptions& opt, const std::function<void(std::string_view)>& on_text,
                        const std::atomic<bool>* interrupt) {
  GenerateResult r;
  r.prompt_tokens = static_cast<int64_t>(prompt.size());
  auto t0 = std::chrono::steady_clock::now();
  if (!prompt.empty()) session.feed(prompt);
  r.prompt_seconds = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();

  StreamDecoder decoder(tok, false);
  StopMatcher stops(opt.stop);
  auto emit = [&](const std::string& s) {
    if (s.empty()) return;
    r.text += s;
    if (on_text) on_text(s);
  };
  for (int64_t i = 0; opt.max_new_tokens < 0 || i < opt.max_new_tokens; ++i) {
    if (interrupt && interrupt->load()) {
      r.reason = StopReason::Interrupted;
      break;
    }
    const int32_t next = session.sample();
    if (opt.stop_at_end_of_generation && tok.is_end_of_generation(next)) {
      r.reason = StopReason::EndOfGeneration;
      break;
    }
    r.tokens.push_back(next);
    if (stops.add(decoder.push(next))) {
      r.reason = StopReason::StopString;
      emit(stops.take_all());
      r.generate_seconds = seconds_since(t0);
      return r;
    }
    emit(stops.take_safe());
    if (session.room() == 0) {
      r.reason = StopReason::ContextFull;
      break;
    }
    const int32_t one[1] = {next};
    session.feed(one);
  }
  if (stops.add(decoder.flush())) r.reason = StopReason::StopString;
  emit(stops.take_all());
  r.generate_seconds = seconds_since(t0);
  return r;
}

}  // namespace trellis
