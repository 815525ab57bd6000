#include "tokenizer/chat_format.h"

#include "core/error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace trellis {

std::string render_chat(const Tokenizer& tok, const nlohmann::ordered_json& messages, bool add_generation_prompt,
                        const nlohmann::ordered_json& extra) {
  const std::string& source = tok.chat_template();
  if (source.empty()) fail("the model has no chat template (tokenizer.chat_template / chat_template)");
  ChatTemplateInputs in;
  in.messages = messages;
  in.add_generation_prompt = add_generation_prompt;
  in.bos_token = tok.bos_text();
  in.eos_token = tok.eos_text();
  in.extra = extra;
  return render_chat_template(source, in);
}

std::vector<int32_t> tokenize_chat_prompt(const Tokenizer& tok, const std::string& prompt) {
  std::vector<int32_t> ids = tok.encode(prompt, true, true);
  // Templates that write bos_token themselves would otherwise get a second BOS.
  if (ids.size() >= 2 && tok.bos_id() >= 0 && ids[0] == tok.bos_id() && ids[1] == tok.bos_id()) {
    ids.erase(ids.begin());
  }
  return ids;
}

}  // namespace trellis
