// Turning a model (Hugging Face checkpoint or GGUF) into a GGUF file of a chosen tensor type.
// The work is split in two: a plan (metadata, and for every tensor its GGUF name, shape,
// type and a function producing its rows as floats) and the writing of a plan, which
// quantizes one tensor at a time, rows in parallel, inside GgufWriter's generated-tensor
// callback, so memory stays bounded by the largest tensor. Random-weight models
// (random_model.h) reuse the same plan/writer with random row sources.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "formats/gguf_writer.h"
#include "model/arch.h"
#include "model/hparams.h"

namespace trellis {

class Model;
class ThreadPool;

// What `trellis quantize ... TYPE` asks for: one type for the weight matrices, plus the
// per-tensor rules llama.cpp applies for that file type (a few tensors get more bits).
struct QuantScheme {
  enum class Mix { None, K_M };  // K_M: Q4_K_M / Q5_K_M rules
  std::string name;              // as given, upper case: "Q4_K_M", "Q8_0", ...
  DType base = DType::F32;       // type of most weight matrices
  Mix mix = Mix::None;
  uint32_t file_type = 0;        // llama_ftype value written to general.file_type
  bool pure = false;             // every 2-D tensor in `base`: no output/mix rules
};

// Parses a scheme name (case-insensitive). Throws Error listing the valid names.
QuantScheme parse_quant_scheme(const std::string& name);
std::vector<std::string> quant_scheme_names();

// llama.cpp's "use_more_bits": the first and last eighth of the layers, and every third
// layer in between, get a bigger type for attn_v and ffn_down in the K_M mixes.
bool use_more_bits(int64_t layer, int64_t n_layer);

// The type llama.cpp would fall back to when a row of `row_len` elements does not fill
// whole blocks of `wanted` (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, IQ4_NL -> Q5_0),
// F16 when that does not fit either. Returns `wanted` when it fits.
DType fallback_type(DType wanted, int64_t row_len);

// What the type rules need to know about the model as a whole.
struct ModelTraits {
  int64_t n_layer = 0;
  int64_t n_gqa = 1;          // n_head / n_head_kv
  bool has_output = true;     // false when the output projection is tied to token_embd
};

struct TypeChoice {
  DType wanted;   // what the scheme's rules asked for
  DType type;     // what gets written (after the block-size fallback)
  bool fallback() const { return wanted != type; }
};

// Type for one tensor by its GGUF name and shape (llama.cpp's llama_tensor_get_type for
// the schemes Trellis supports). 1-D tensors and norms stay F32.
TypeChoice choose_tensor_type(const QuantScheme& s, const std::string& gguf_name, const std::array<int64_t, 4>& ne,
                              int n_dims, const ModelTraits& traits);

// Fills `dst` with row `row` of a tensor (ne[0] floats). Called from several threads at
// once, so it must not mutate shared state.
using RowSource = std::function<void(int64_t row, float* dst)>;

struct TensorPlan {
  std::string name;             // GGUF name
  std::array<int64_t, 4> ne{1, 1, 1, 1};
  int n_dims = 1;
  TypeChoice choice{DType::F32, DType::F32};
  RowSource rows;
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
};

struct ConvertPlan {
  GgufWriter metadata;          // keys only; tensors are added when writing
  std::vector<TensorPlan> tensors;
  std::vector<std::string> warnings;  // for the user, e.g. a tokenizer that was not written
};

// Row index in a Hugging Face Q/K projection that holds row `dst_row` of the GGUF tensor
// permuted for interleaved RoPE (llama.cpp's convert `permute`: reshape(n_head, 2,
// head_dim/2, in) then swap axes 1 and 2).
int64_t hf_row_for_interleaved(int64_t dst_row, int64_t n_rows, int64_t n_head);

// Llama 3.1 RoPE scaling as llama.cpp's converter stores it: per-pair frequency divisors
// (rope_dim / 2 values) for a `rope_freqs.weight` tensor.
std::vector<float> llama3_rope_freq_divisors(const Hparams& hp);

// Writes the architecture metadata llama.cpp's reader expects (general.*, <arch>.*).
void set_model_metadata(GgufWriter& w, const ArchSpec& arch, const Hparams& hp, const std::string& name,
                        const QuantScheme& scheme);

// Which data to write for one of the model's tensors (e.g. the trained F32 copy after full
// fine-tuning); the returned view must have the same shape and outlive writing the plan.
using TensorSubstitute = std::function<const TensorView&(const TensorView&)>;

// Plan for converting a loaded model: from a Hugging Face checkpoint, GGUF names, metadata,
// the tokenizer (model/gguf_tokenizer.h) and (for llama) Q/K permutation; from a GGUF, all
// tensors and metadata copied, with general.file_type updated (and the model's tokenizer
// added when the file has none, e.g. one given with --tokenizer). With `substitute`, each tensor's rows come from its substitute.
ConvertPlan plan_conversion(const Model& model, const QuantScheme& scheme, const TensorSubstitute& substitute = {});

// Counts of tensors that fell back, per (wanted, written) pair, for reporting.
struct FallbackSummary {
  DType wanted, type;
  int count = 0;
  std::vector<int64_t> row_lengths;   // distinct row lengths that caused it
  std::vector<std::string> examples;  // first few tensor names
};
std::vector<FallbackSummary> summarize_fallbacks(const ConvertPlan& plan);
// "Q4_K 12, Q6_K 3, F32 11": tensors per written type, in type-id order.
std::string type_counts(const ConvertPlan& plan);

// Writes the plan atomically to `path`, quantizing rows in parallel on `pool`.
// progress(done_bytes, total_bytes) as in GgufWriter::write.
void write_plan(const ConvertPlan& plan, const std::string& path, ThreadPool& pool,
                const GgufWriter::Progress& progress = {});

}  // namespace trellis
