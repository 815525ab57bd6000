// Helpers shared by the sub-commands: option groups, model loading with a progress bar.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"

namespace trellis::cli {

// Runs a CLI11 app over argv; returns -1 to continue, or the exit code (0 for --help).
int parse_or_exit(CLI::App& app, int argc, char** argv);

// A progress bar on stderr that appears only if the work takes more than a moment and
// stderr is a terminal (or TRELLIS_PROGRESS=1).
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();
  void update(double fraction);
  void finish();

 private:
  std::string label_;
  double start_;
  bool shown_ = false;
  bool enabled_;
  int last_percent_ = -1;
};

// Model path + --tokenizer, loaded with a progress bar.
struct ModelOptions {
  std::string model_path;
  std::string tokenizer_path;
  void add_to(CLI::App& app, bool required = true);
  std::unique_ptr<Model> load() const;
};

// -t/--threads (default: all available cores); errors when above the core count.
int resolve_threads(int requested);

}  // namespace trellis::cli
