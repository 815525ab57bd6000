// Random-weight models at real shapes, for benchmarks and tests: the same tensors, names
// and metadata as a converted model, with weights drawn from a fast seeded generator
// (deterministic for a seed, whatever the thread count) and quantized on the fly.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/arch.h"
#include "model/convert.h"
#include "model/hparams.h"

namespace trellis {

class GgufFile;

// A named shape: "smollm2-135m", "qwen2.5-0.5b", "tiny".
struct ShapePreset {
  std::string name;
  std::string arch;  // default architecture for the shape
  Hparams hp;
};
const ShapePreset& shape_preset(const std::string& name);  // throws Error listing the names
std::vector<std::string> shape_preset_names();

struct RandomModelSpec {
  const ArchSpec* arch = nullptr;
  Hparams hp;                          // validated by plan_random_model
  QuantScheme scheme;
  uint64_t seed = 0;
  std::string name;                    // general.name
  float weight_std = 0.02f;            // matrices and biases ~ N(0, std); norms ~ 1 + N(0, std)
  const GgufFile* tokenizer_from = nullptr;  // copies its tokenizer.* keys when set
  // Writes a self-contained SentencePiece-style vocabulary of the 256 byte tokens plus
  // <unk>, <s>, </s> (and a ChatML-style chat template), so a model made on a machine
  // without any other files can still run on text.
  bool byte_vocab = false;
};

// The plan for a random model (write it with write_plan). Throws Error for inconsistent
// shapes, or a tokenizer with more tokens than the vocabulary.
ConvertPlan plan_random_model(const RandomModelSpec& spec);

// Approximately N(0, 1) values from a 64-bit state (sum of four 16-bit uniforms, scaled):
// cheap enough to fill hundreds of millions of weights in a second or two.
void fill_gaussian(uint64_t seed, float mean, float std, float* dst, int64_t n);

}  // namespace trellis
