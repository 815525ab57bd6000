// trellis template: render a conversation with the model's chat template.
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace trellis::cli {
namespace {

int template_main(int argc, char** argv) {
  CLI::App app{"Print the prompt the model's chat template renders for a conversation."};
  std::string model_path, tokenizer_path, messages_path;
  bool no_gen = false;
  std::vector<std::string> vars;
  app.add_option("-m,--model", model_path, "GGUF (model or vocab-only) or directory with tokenizer files")->required();
  app.add_option("--tokenizer", tokenizer_path, "use this tokenizer (and its template) instead of the model's");
  app.add_option("--messages", messages_path, "JSON file: [{\"role\": ..., \"content\": ...}, ...] or {\"messages\": [...]}")
      ->required();
  app.add_flag("--no-generation-prompt", no_gen, "do not append the assistant prompt");
  app.add_option("--var", vars, "extra template variable NAME=JSON (e.g. enable_thinking=false), repeatable");
  if (int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;

  std::ifstream in(messages_path);
  if (!in) fail(messages_path, ": cannot open");
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(messages_path, ": not valid JSON: ", e.what());
  }
  if (j.is_object() && j.contains("messages")) j = j["messages"];
  if (!j.is_array()) fail(messages_path, ": expected an array of messages");
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  for (const auto& v : vars) {
    const size_t eq = v.find('=');
    if (eq == std::string::npos || eq == 0) fail("--var expects NAME=JSON, got '", v, "'");
    try {
      extra[v.substr(0, eq)] = nlohmann::ordered_json::parse(v.substr(eq + 1));
    } catch (const nlohmann::json::exception&) {
      extra[v.substr(0, eq)] = v.substr(eq + 1);  // a bare word is a string
    }
  }
  auto tok = Tokenizer::load(tokenizer_path.empty() ? model_path : tokenizer_path);
  const std::string out = render_chat(*tok, j, !no_gen, extra);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

const CommandRegistrar kTemplate({"template", "render a conversation with the model's chat template", &template_main, 45});

}  // namespace
}  // namespace trellis::cli
