// trellis run: generate text from a prompt, streamed as it is produced.
#include <cstdio>
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

int run_main(int argc, char** argv) {
  CLI::App app{"Generate text from a prompt, streaming it to stdout (statistics go to stderr)."};
  ModelOptions model_opt;
  model_opt.add_to(app);
  std::string prompt, system;
  int64_t n_predict = 128;
  bool chat = false, no_bos = false, quiet = false;
  std::vector<std::string> stops;
  app.add_option("-p,--prompt", prompt, "the prompt")->required();
  app.add_option("-n,--n-predict", n_predict, "tokens to generate (-1 = until the context is full)")->capture_default_str();
  app.add_flag("--chat", chat, "wrap the prompt in the model's chat template as a user message");
  app.add_option("--system", system, "system message (with --chat)");
  app.add_option("--stop", stops, "stop when this text appears (repeatable)");
  app.add_flag("--no-bos", no_bos, "do not add the BOS token (plain prompts)");
  app.add_flag("-q,--quiet", quiet, "no statistics on stderr");
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
  std::vector<int32_t> ids;
  if (chat) {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
    messages.push_back({{"role", "user"}, {"content", prompt}});
    ids = tokenize_chat_prompt(tok, render_chat(tok, messages, true));
  } else {
    ids = tok.encode(prompt, !no_bos, false);
  }
  if (ids.empty()) fail("the prompt is empty after tokenization");

  ThreadPool pool(resolve_threads(rt.threads));
  SessionOptions so{rt.ctx, rt.kv_dtype(), 256, sp};
  Session session(*model, pool, so);
  const auto adapters = lora.load(*model);
  session.set_adapters(adapters.get(), adapter_set_key(adapters.get()));
  GenerateOptions go;
  go.max_new_tokens = n_predict;
  go.stop = stops;
  if (!chat) std::fputs(prompt.c_str(), stdout);
  const GenerateResult r = generate(session, tok, ids, go, [](std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  if (!quiet) {
    std::fprintf(stderr, "[prompt: %lld tokens, %.1f t/s | generated: %zu tokens, %.1f t/s | stop: %s | seed %llu]\n",
                 static_cast<long long>(r.prompt_tokens), r.prompt_tokens / std::max(r.prompt_seconds, 1e-9),
                 r.tokens.size(), r.tokens.size() / std::max(r.generate_seconds, 1e-9), stop_reason_name(r.reason),
                 static_cast<unsigned long long>(sp.seed));
  }
  return 0;
}

const CommandRegistrar kRun({"run", "generate text from a prompt", &run_main, 10});

}  // namespace
}  // namespace trellis::cli
