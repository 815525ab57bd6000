// trellis tokenize: text to token ids / pieces with a model's tokenizer (or a vocab-only GGUF,
// or a tokenizer directory: no weights needed).
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace trellis::cli {
namespace {

int tokenize_main(int argc, char** argv) {
  CLI::App app{"Tokenize text. -m takes a model, a vocab-only GGUF or a tokenizer directory."};
  std::string model_path, tokenizer_path, text, file;
  bool ids_only = false, pieces = false, no_bos = false, parse_special = false;
  app.add_option("-m,--model", model_path, "GGUF (model or vocab-only) or directory with tokenizer files")->required();
  app.add_option("--tokenizer", tokenizer_path, "use this tokenizer instead of the model's");
  app.add_option("text", text, "text to tokenize");
  app.add_option("-f,--file", file, "read the text from a file");
  app.add_flag("--ids", ids_only, "print only the ids, space-separated on one line");
  app.add_flag("--pieces", pieces, "print only the pieces, one per line");
  app.add_flag("--no-bos", no_bos, "do not add BOS/EOS even if the vocabulary asks for them");
  app.add_flag("--parse-special", parse_special, "recognise control tokens such as <|im_start|> in the text");
  if (int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) fail(file, ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  } else if (app.count("text") == 0) {
    fail("give the text as an argument or with --file");
  }
  auto tok = Tokenizer::load(tokenizer_path.empty() ? model_path : tokenizer_path);
  const std::vector<int32_t> ids = tok->encode(text, !no_bos, parse_special);
  if (ids_only) {
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
  } else {
    for (int32_t id : ids) {
      if (pieces) std::printf("%s\n", tok->token_text(id).c_str());
      else std::printf("%6d -> '%s'\n", id, tok->token_to_piece(id).c_str());
    }
  }
  return 0;
}

const CommandRegistrar kTokenize({"tokenize", "text to token ids with a model's tokenizer", &tokenize_main, 40});

}  // namespace
}  // namespace trellis::cli
