// `--lora PATH[:scale]` for the commands that run a model (run, chat, eval, lora merge):
// repeatable; each adapter is loaded, validated against the model and brought into its
// Q/K layout. Warnings (e.g. a different base model name) go to stderr.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "lora/adapter_set.h"
#include "model/model.h"

namespace trellis::cli {

struct LoraSpec {
  std::string path;
  float scale = 1.0f;
};

// "PATH", or "PATH:SCALE" when the text after the last ':' is a number and the whole
// string is not itself an existing path. Throws Error on a non-finite scale.
LoraSpec parse_lora_spec(const std::string& spec);

struct LoraOptions {
  std::vector<std::string> specs;
  void add_to(CLI::App& app, bool required = false);
  bool empty() const { return specs.empty(); }
  // nullptr when no --lora was given.
  std::unique_ptr<AdapterSet> load(const Model& model) const;
};

}  // namespace trellis::cli
