// Helpers shared by the sub-commands: option groups, model loading with a progress bar.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "sampling/sampler.h"

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
  std::unique_ptr<Model> load(const ModelLoadOptions& options = {}) const;
};

// --temp, --top-k, --top-p, --min-p, penalties, --seed.
struct SamplingOptions {
  SamplerParams params;
  bool seed_given = false;
  void add_to(CLI::App& app);
  SamplerParams resolve() const;  // a random seed when none was given
};

// --ctx, --kv-type, -t/--threads shared by the commands that run a model.
struct RuntimeOptions {
  int64_t ctx = 0;
  std::string kv_type = "f16";
  int threads = 0;
  void add_to(CLI::App& app, int64_t default_ctx_hint = 0);
  DType kv_dtype() const;
};

// -t/--threads (default: all available cores); errors when above the core count.
int resolve_threads(int requested);

}  // namespace trellis::cli
