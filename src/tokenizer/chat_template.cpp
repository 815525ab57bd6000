#include "tokenizer/chat_template.h"

#include <chrono>
#include <ctime>

#include "core/error.h"
#include "tokenizer/jinja_eval.h"
#include "tokenizer/jinja_parser.h"

namespace trellis {
namespace {

// HF's strftime_now(format) = datetime.now().strftime(format).
jinja::Value strftime_function(std::optional<int64_t> fixed) {
  return jinja::Value::function("strftime_now", [fixed](const jinja::CallArgs& a) -> jinja::Value {
    if (a.positional.size() != 1 || !a.positional[0].is_string() || !a.keyword.empty())
      jinja::fail_at(a.line, "strftime_now() takes one format string");
    std::tm tm{};
    if (fixed) {
      const std::time_t t = static_cast<std::time_t>(*fixed);
      gmtime_r(&t, &tm);
    } else {
      const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
      localtime_r(&t, &tm);
    }
    const std::string& fmt = a.positional[0].as_string();
    if (fmt.empty()) return jinja::Value(std::string());
    std::string buf(fmt.size() * 8 + 64, '\0');
    const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n == 0) jinja::fail_at(a.line, "strftime_now(): format produced no output or is too long");
    buf.resize(n);
    return jinja::Value(std::move(buf));
  });
}

jinja::Variables make_variables(const ChatTemplateInputs& in) {
  if (!in.extra.is_object()) fail("chat template inputs: `extra` must be a JSON object");
  jinja::Variables vars = {
      {"messages", jinja::from_json(in.messages)},
      {"add_generation_prompt", jinja::Value(in.add_generation_prompt)},
      {"bos_token", jinja::Value(in.bos_token)},
      {"eos_token", jinja::Value(in.eos_token)},
      {"tools", jinja::from_json(in.tools)},
      {"documents", jinja::Value(nullptr)},
      {"strftime_now", strftime_function(in.now_unix_seconds)},
  };
  for (auto it = in.extra.begin(); it != in.extra.end(); ++it) {
    bool replaced = false;
    for (auto& [k, v] : vars)
      if (k == it.key()) {
        v = jinja::from_json(it.value());
        replaced = true;
      }
    if (!replaced) vars.emplace_back(it.key(), jinja::from_json(it.value()));
  }
  return vars;
}

}  // namespace

ChatTemplate::ChatTemplate(const std::string& source)
    : ast_(std::make_shared<const jinja::TemplateAst>(jinja::parse_template(source))) {}

std::string ChatTemplate::render(const ChatTemplateInputs& in) const {
  return jinja::render(*ast_, make_variables(in));
}

std::string render_chat_template(const std::string& template_source, const ChatTemplateInputs& in) {
  return ChatTemplate(template_source).render(in);
}

}  // namespace trellis
