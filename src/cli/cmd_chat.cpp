// trellis chat: an interactive terminal chat. The conversation is re-rendered with the
// model's chat template every turn; the KV cache keeps the prefix the new prompt shares
// with what was already computed. Ctrl-C stops the answer, not the program.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/lora_options.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "model/generator.h"
#include "model/session.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace trellis::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void on_sigint(int) { g_interrupted.store(true); }

void install_sigint_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a Ctrl-C at the prompt interrupts the read
  sigaction(SIGINT, &sa, nullptr);
}

// Feeds only what differs from the session's history, then generates the reply.
std::string answer(Session& session, const Tokenizer& tok, const std::vector<int32_t>& prompt,
                   const GenerateOptions& go) {
  int64_t keep = session.common_prefix(prompt);
  if (keep == static_cast<int64_t>(prompt.size())) keep -= 1;  // need logits after the last token
  session.rewind(keep);
  g_interrupted.store(false);
  const std::span<const int32_t> rest(prompt.data() + keep, prompt.size() - static_cast<size_t>(keep));
  const GenerateResult r = generate(session, tok, rest, go, [](std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  }, &g_interrupted);
  if (r.reason == StopReason::Interrupted) std::printf(" [stopped]");
  if (r.reason == StopReason::ContextFull) std::printf(" [context full: /reset to start over]");
  std::printf("\n");
  return r.text;
}

int chat_main(int argc, char** argv) {
  CLI::App app{"Interactive chat in the terminal. Commands: /reset (forget the conversation), /exit. "
               "Ctrl-C stops the current answer; Ctrl-D or /exit quits."};
  ModelOptions model_opt;
  model_opt.add_to(app);
  std::string system;
  int64_t n_predict = 512;
  app.add_option("--system", system, "system message");
  app.add_option("-n,--n-predict", n_predict, "most tokens per answer")->capture_default_str();
  LoraOptions lora;
  lora.add_to(app);
  SamplingOptions sampling;
  sampling.add_to(app);
  RuntimeOptions rt;
  rt.add_to(app);
  if (int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;

  const SamplerParams sp = sampling.resolve();
  auto model = model_opt.load(ModelLoadOptions{.decode_copies = true});
  const Tokenizer& tok = model->require_tokenizer();
  if (tok.chat_template().empty()) fail(model_opt.model_path, ": the model has no chat template");
  ThreadPool pool(resolve_threads(rt.threads));
  Session session(*model, pool, SessionOptions{rt.ctx, rt.kv_dtype(), 256, sp});
  const auto adapters = lora.load(*model);
  session.set_adapters(adapters.get(), adapter_set_key(adapters.get()));
  GenerateOptions go;
  go.max_new_tokens = n_predict;
  install_sigint_handler();

  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  auto reset = [&] {
    messages = nlohmann::ordered_json::array();
    if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  };
  reset();
  std::fprintf(stderr, "chat with %s (/reset, /exit; Ctrl-C stops an answer)\n", model->name().c_str());
  for (;;) {
    std::printf("> ");
    std::fflush(stdout);
    std::string line;
    g_interrupted.store(false);
    if (!std::getline(std::cin, line)) {
      if (g_interrupted.load()) {  // Ctrl-C at the prompt: a fresh prompt line
        std::cin.clear();
        std::printf("\n");
        continue;
      }
      std::printf("\n");
      break;
    }
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      reset();
      session.reset();
      std::printf("(conversation cleared)\n");
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", line}});
    const auto prompt = tokenize_chat_prompt(tok, render_chat(tok, messages, true));
    if (static_cast<int64_t>(prompt.size()) >= session.n_ctx()) {
      messages.erase(messages.end() - 1);
      std::printf("(the conversation no longer fits the context of %lld tokens: /reset)\n",
                  static_cast<long long>(session.n_ctx()));
      continue;
    }
    messages.push_back({{"role", "assistant"}, {"content", answer(session, tok, prompt, go)}});
  }
  return 0;
}

const CommandRegistrar kChat({"chat", "interactive chat in the terminal", &chat_main, 20});

}  // namespace
}  // namespace trellis::cli
