// Merging adapters into a base: W' = W + Σᵢ sᵢ · scaleᵢ · Bᵢ·Aᵢ for every adapted weight,
// written as a GGUF model. Each merged row is dequantized, updated in F32 and requantized,
// one tensor at a time as the file is written (no full copy of the model in memory).
// The base may be a GGUF file (its metadata, tokenizer included, is copied) or a Hugging Face
// directory (metadata from its config; llama Q/K rows permuted into GGUF order). With an empty
// set this is a plain conversion.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "formats/gguf_writer.h"
#include "lora/adapter_set.h"
#include "model/model.h"

namespace trellis {

struct MergeOptions {
  // Element type of every 2-D weight in the output; nullopt keeps each tensor's type.
  // A tensor whose rows do not fit the type's blocks keeps a float type (noted).
  std::optional<DType> type;
};

// Fills `out` (metadata and tensor producers). `base` and the adapters must outlive
// out.write(). Adapters must have been loaded for this base (LoraAdapter::load_for).
// Returns notes for the user (fallback types, a tokenizer that could not be carried over).
std::vector<std::string> build_merged_gguf(const Model& base, const AdapterSet& set, const MergeOptions& opt,
                                           GgufWriter& out);

std::vector<std::string> write_merged_gguf(const Model& base, const AdapterSet& set, const std::string& path,
                                           const MergeOptions& opt = {}, GgufWriter::Progress progress = {});

}  // namespace trellis
