// Hugging Face chat templates: renders a model's `chat_template` (a Jinja2 template from
// tokenizer_config.json or GGUF metadata) the way transformers' apply_chat_template does,
// byte for byte, using Trellis's Jinja2-subset engine (src/tokenizer/jinja_*).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace trellis {

namespace jinja {
struct TemplateAst;
}

struct ChatTemplateInputs {
  // Ordered JSON keeps object keys in input order, which `tojson` output depends on
  // (Python dicts keep insertion order). A plain nlohmann::json converts implicitly, but its
  // keys arrive sorted.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  bool add_generation_prompt = true;
  std::string bos_token, eos_token;
  // Tool schemas; HF passes tools=None when there are none, and so does this.
  nlohmann::ordered_json tools = nullptr;
  // More template variables (enable_thinking, date_string, custom special tokens, ...);
  // they override the ones above.
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  // Pins strftime_now()'s clock (seconds since the epoch, formatted as UTC); unset means
  // the local time now, as HF does.
  std::optional<int64_t> now_unix_seconds;
};

// A parsed chat template: parse once, render many.
class ChatTemplate {
 public:
  // Throws Error ("template line N: ...") on syntax errors and unsupported statements.
  explicit ChatTemplate(const std::string& source);
  // Throws Error on runtime errors (unsupported filters/methods, undefined values used where
  // jinja2 raises) and with raise_exception()'s message verbatim.
  std::string render(const ChatTemplateInputs& in) const;

 private:
  std::shared_ptr<const jinja::TemplateAst> ast_;
};

// Renders an HF-style chat template. Throws Error on syntax errors, unsupported constructs
// and raise_exception.
std::string render_chat_template(const std::string& template_source, const ChatTemplateInputs& in);

}  // namespace trellis
