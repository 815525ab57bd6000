// Text generation on a Session: streams decoded text as it is produced, stops at
// end-of-generation tokens, stop strings, the token limit, a full context, or on request.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace trellis {

class Session;
class Tokenizer;

enum class StopReason { Length, EndOfGeneration, StopString, ContextFull, Interrupted };
const char* stop_reason_name(StopReason r);

struct GenerateOptions {
  int64_t max_new_tokens = 256;        // < 0: until the context is full
  std::vector<std::string> stop;       // stop strings (not included in the output)
  bool stop_at_end_of_generation = true;
};

struct GenerateResult {
  std::string text;
  std::vector<int32_t> tokens;         // generated tokens
  StopReason reason = StopReason::Length;
  int64_t prompt_tokens = 0;
  double prompt_seconds = 0.0;
  double generate_seconds = 0.0;
};

// Feeds `prompt` to the session (after what it already holds) and generates. `on_text`
// receives text as soon as it is complete UTF-8 and cannot be the start of a stop string.
GenerateResult generate(Session& session, const Tokenizer& tok, std::span<const int32_t> prompt,
                        const GenerateOptions& opt, const std::function<void(std::string_view)>& on_text = {},
                        const std::atomic<bool>* interrupt = nullptr);

}  // namespace trellis
