// Helpers shared by the LoRA tests: temporary directories, fixture paths, GGUF copies of the
// Hugging Face fixture bases, NLL/logits of one sequence under an adapter set.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "lora/adapter_set.h"
#include "lora/merge.h"
#include "model/forward.h"
#include "model/model.h"
#include "test_paths.h"

namespace trellis::test {

// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int n = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("trellis_" + tag + "_" + std::to_string(getpid()) + "_" + std::to_string(n++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string lora_path(const std::string& rel) { return data_path("lora/" + rel); }
inline std::string model_dir(const std::string& name) { return data_path("models/" + name); }

inline const nlohmann::json& lora_goldens() {
  static const nlohmann::json g = [] {
    std::ifstream in(lora_path("goldens.json"));
    return nlohmann::json::parse(in);
  }();
  return g;
}

// The HF fixture `name` converted to an F32/F16 GGUF file (llama Q/K rows permuted) in `dir`,
// cached per process.
inline std::string gguf_base(const std::string& name, const TempDir& dir) {
  const std::string out = dir.file(name + ".gguf");
  if (!std::filesystem::exists(out)) {
    auto hf = Model::load(model_dir(name));
    write_merged_gguf(*hf, AdapterSet{}, out);
  }
  return out;
}

// Logits for every position of `tokens`, one prefill.
inline std::vector<float> logits_of(const Model& m, const std::vector<int32_t>& tokens, const AdapterSet* set,
                                    ThreadPool& pool) {
  const auto n = static_cast<int64_t>(tokens.size());
  KVCache cache(m.hparams(), n);
  Forward fwd(m, pool, n, n);
  SequenceInput in{&cache, tokens, true, set};
  fwd.run({&in, 1});
  return std::vector<float>(fwd.logits(0), fwd.logits(0) + n * m.hparams().n_vocab);
}

inline double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::abs(x)));
  return m;
}

inline void expect_close(const float* got, const float* want, size_t n, double rel, const std::string& what) {
  double scale = 0;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, static_cast<double>(std::abs(want[i])));
  for (size_t i = 0; i < n; ++i) {
    ASSERT_NEAR(got[i], want[i], rel * scale) << what << " element " << i;
  }
}

}  // namespace trellis::test
