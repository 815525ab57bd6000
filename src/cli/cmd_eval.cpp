// trellis eval: mean negative log-likelihood and perplexity of a text.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/lora_options.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "model/evaluate.h"
#include "tokenizer/tokenizer.h"

namespace trellis::cli {
namespace {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int eval_main(int argc, char** argv) {
  CLI::App app{
      "Score a text: the text is tokenized once without BOS and cut into chunks of ctx-1 tokens (ctx for a model "
      "without BOS); each window is BOS + chunk; every token after the first of a window is scored."};
  ModelOptions model_opt;
  model_opt.add_to(app);
  std::string text_path;
  bool json = false;
  app.add_option("--text", text_path, "text file to score")->required();
  app.add_flag("--json", json, "print {\"tokens\": T, \"nll\": X, \"ppl\": Y} and nothing else on stdout");
  RuntimeOptions rt;
  rt.add_to(app, 512);
  LoraOptions lora;
  lora.add_to(app);
  if (int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;

  const std::string text = read_text_file(text_path);
  auto model = model_opt.load();
  const Tokenizer& tok = model->require_tokenizer();
  const std::vector<int32_t> tokens = tok.encode(text, false, false);
  EvalOptions opt;
  opt.ctx = rt.ctx;
  opt.bos = tok.add_bos() ? tok.bos_id() : -1;
  opt.kv_type = rt.kv_dtype();
  const auto adapters = lora.load(*model);
  opt.adapters = adapters.get();
  ThreadPool pool(resolve_threads(rt.threads));
  const EvalResult r = evaluate_nll(*model, tokens, opt, pool);
  if (json) {
    std::printf("%s\n", nlohmann::json{{"tokens", r.tokens}, {"nll", r.nll}, {"ppl", r.ppl}}.dump().c_str());
  } else {
    std::printf("scored tokens: %lld\nmean NLL: %.6f nats/token\nperplexity: %.4f\n", static_cast<long long>(r.tokens),
                r.nll, r.ppl);
  }
  return 0;
}

const CommandRegistrar kEval({"eval", "score a text: mean NLL and perplexity", &eval_main, 30});

}  // namespace
}  // namespace trellis::cli
