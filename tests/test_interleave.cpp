// The interleaved decode layout (kernels/interleave.h): the copy holds exactly the file's rows
// (read back byte for byte), its decode kernel gives the same results as the kernels on the
// file's rows, every other path on an interleaved view is unchanged, and a model loaded with
// interleaved copies produces the same logits as one without. Fresh random data per run; the
// seed is printed (replay with TRELLIS_TEST_SEED).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cli_util.h"
#include "core/quant.h"
#include "core/thread_pool.h"
#include "kernels/interleave.h"
#include "kernels/matmul.h"
#include "model/model.h"
#include "model/session.h"
#include "test_paths.h"
#include "test_seed.h"

using namespace trellis;
using test::TempDir;

namespace {

struct Matrix {
  std::vector<uint8_t> file;         // rows in the file's block layout
  std::vector<uint8_t> interleaved;  // the decode copy
  TensorView plain, with_copy;       // views without and with the copy
};

Matrix make_matrix(std::mt19937_64& rng, DType type, int64_t rows, int64_t cols) {
  Matrix m;
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> src(static_cast<size_t>(cols));
  const size_t rb = row_bytes(type, cols);
  m.file.resize(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float scale = std::exp(g(rng));
    for (auto& v : src) v = g(rng) * scale;
    quantize_row(type, src.data(), m.file.data() + r * rb, cols);
  }
  const size_t gb = interleaved_group_bytes(type, cols);
  m.interleaved.assign(interleaved_bytes(type, rows, cols), 0xAB);  // garbage the writer must overwrite
  for (int64_t g0 = 0; g0 * kInterleaveRows < rows; ++g0) {
    interleave_group(type, m.file.data(), rows, cols, g0, m.interleaved.data() + g0 * gb);
  }
  m.plain.name = "w";
  m.plain.type = type;
  m.plain.ne = {cols, rows, 1, 1};
  m.plain.n_dims = 2;
  m.plain.data = m.file.data();
  m.plain.nbytes = m.file.size();
  m.with_copy = m.plain;
  m.with_copy.interleaved = m.interleaved.data();
  return m;
}

std::vector<float> random_x(std::mt19937_64& rng, int64_t n) {
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = g(rng);
  return x;
}

// The most int8 activations (round to nearest, d = amax/127 per 32-element block) can move
// Σ w·x: each x moves by at most d/2; plus float rounding of the block sums.
double activation_error_bound(const TensorView& w, int64_t row, const float* x) {
  const int64_t n = w.ne[0];
  std::vector<float> wr(static_cast<size_t>(n));
  dequantize_tensor_row(w, row, wr.data());
  double bound = 0.0, magnitude = 0.0;
  for (int64_t b = 0; b < n; b += 32) {
    double amax = 0.0, wsum = 0.0;
    for (int64_t i = b; i < b + 32; ++i) {
      amax = std::max(amax, static_cast<double>(std::fabs(x[i])));
      wsum += std::fabs(wr[i]);
      magnitude += std::fabs(static_cast<double>(wr[i]) * x[i]);
    }
    bound += amax / 127.0 / 2.0 * wsum;
  }
  return bound + 1e-5 * magnitude + 1e-6;
}

const DType kTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::F16, DType::BF16, DType::F32};
// The unit the layout takes rows in: a block, or kFloatBlockElems elements of a float row.
int64_t block_elems(DType t) { return is_float_type(t) ? kFloatBlockElems : dtype_info(t).block_elems; }
// Row counts around the group of four; block counts around the tile of four.
const int64_t kRows[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 64, 130};
const int64_t kBlocks[] = {1, 2, 3, 4, 5, 7, 8, 9, 28};

TEST(Interleave, SizesFollowTheLayout) {
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0}) {
    const size_t block = row_bytes(t, 32);
    const size_t header = t == DType::Q4_1 || t == DType::Q5_1 ? 64 : 32;  // scales (and minimums) apart
    for (int64_t nb : kBlocks) {
      const size_t tiles = static_cast<size_t>((nb + 3) / 4);
      EXPECT_EQ(interleaved_group_bytes(t, 32 * nb), tiles * header + static_cast<size_t>(nb) * 4 * (block - header / 16));
      if (nb % 4 == 0) {
        EXPECT_EQ(interleaved_group_bytes(t, 32 * nb), 4 * row_bytes(t, 32 * nb));
      }
    }
    EXPECT_EQ(interleaved_bytes(t, 9, 64), 3 * interleaved_group_bytes(t, 64));
  }
  // Q4_K: 4 rows × 144 bytes per super-block, plus 16 bytes of unpacked scales and mins.
  EXPECT_EQ(interleaved_group_bytes(DType::Q4_K, 512), 2 * (4 * row_bytes(DType::Q4_K, 256) + 16));
  EXPECT_EQ(interleaved_group_bytes(DType::Q5_K, 512), 2 * (4 * row_bytes(DType::Q5_K, 256) + 16));  // + the 5th bits, as many
  // Floats: the four rows' bytes exactly, for rows of a multiple of 64 elements only.
  EXPECT_EQ(interleaved_group_bytes(DType::F16, 896), 4 * row_bytes(DType::F16, 896));
  EXPECT_EQ(interleaved_group_bytes(DType::F32, 128), 4 * row_bytes(DType::F32, 128));
  EXPECT_TRUE(interleave_supported(DType::F16, 896));
  EXPECT_FALSE(interleave_supported(DType::F16, 900));
  EXPECT_FALSE(interleave_supported(DType::Q6_K, 256));
  EXPECT_FALSE(interleave_preferred(DType::Q4_0, 64, Isa::Scalar));
  if (detected_isa() >= Isa::Avx2) {
    EXPECT_TRUE(interleave_preferred(DType::Q4_K, 256, Isa::Avx2));
  }
}

TEST(Interleave, RowsReadBackByteForByte) {
  std::mt19937_64 rng(test::test_seed());
  for (DType t : kTypes) {
    for (int64_t rows : kRows) {
      for (int64_t nb : kBlocks) {
        const int64_t n = block_elems(t) * nb;
        Matrix m = make_matrix(rng, t, rows, n);
        std::vector<uint8_t> row(m.plain.row_stride());
        for (int64_t r = 0; r < rows; ++r) {
          deinterleave_row(t, m.interleaved.data(), n, r, row.data());
          ASSERT_EQ(0, std::memcmp(row.data(), m.plain.row(r), row.size()))
              << dtype_name(t) << " rows " << rows << " blocks " << nb << " row " << r;
          std::vector<float> a(static_cast<size_t>(n)), b(a.size());
          dequantize_tensor_row(m.with_copy, r, a.data());
          dequantize_tensor_row(m.plain, r, b.data());
          ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
        }
      }
    }
  }
}

// A broken copy (one scale of the last row changed) must be caught by the comparison below:
// the kernel on the copy gives what the kernels give on the broken rows read back from it.
TEST(Interleave, DecodeKernelSeesACorruptedScale) {
  if (!interleave_preferred(DType::Q8_0, 64, detected_isa())) GTEST_SKIP() << "no interleaved kernel on this CPU";
  std::mt19937_64 rng(test::test_seed());
  ThreadPool pool(1);
  Matrix m = make_matrix(rng, DType::Q8_0, 4, 64);
  m.interleaved[2 * 13] ^= 0x40;  // scale entry 4·3 + 1: row 3, block 1
  std::vector<float> x = random_x(rng, 64), w3(64);
  // Block 1 of x follows the signs of row 3 there, so that block's share of row 3 (and the
  // change of its scale) is large against float rounding.
  dequantize_tensor_row(m.plain, 3, w3.data());
  for (int i = 32; i < 64; ++i) x[i] = std::copysign(std::fabs(x[i]), w3[i]);
  std::vector<uint8_t> broken_file = m.file;
  deinterleave_row(DType::Q8_0, m.interleaved.data(), 64, 3, broken_file.data() + 3 * row_bytes(DType::Q8_0, 64));
  TensorView broken = m.plain;
  broken.data = broken_file.data();
  std::vector<float> a(4), b(4), c(4);
  const MatmulOptions opt{.isa = detected_isa()};
  matmul(m.with_copy, x.data(), 1, a.data(), pool, opt);
  matmul(m.plain, x.data(), 1, b.data(), pool, opt);
  matmul(broken, x.data(), 1, c.data(), pool, opt);
  // AVX-512 sums in the same order on both layouts, AVX2 does not: equal within rounding.
  double size3 = 0;
  for (int i = 0; i < 64; ++i) size3 += std::fabs(w3[i] * x[i]);
  const double rounding = 1e-5 * size3;
  EXPECT_NEAR(a[3], c[3], rounding);
  EXPECT_GT(std::fabs(a[3] - b[3]), 100 * rounding);
  EXPECT_NEAR(a[0], b[0], 1e-5 * (std::fabs(b[0]) + 1.0));
}

// For the 32-element formats the AVX-512 interleaved kernel performs the same integer sums and
// float steps, in the same order, as the four-row kernel on the file's rows: the results are
// identical, not just close (Q4_K's kernels and AVX2's one-row file kernels differ in float
// order: within rounding). The
// file-row kernels are checked against the exact product in test_kernels.cpp; here both are
// also held to the activation quantization bound around a double-precision product.
TEST(Interleave, DecodeMatchesFileLayoutKernels) {
  std::mt19937_64 rng(test::test_seed());
  ThreadPool pool(2);
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (isa > detected_isa()) continue;
    for (DType t : kTypes) {
      for (int64_t rows : kRows) {
        for (int64_t nb : {1, 3, 4, 5, 9, 28, 152}) {
          if (((t == DType::Q4_K || t == DType::Q5_K) && nb > 19) || (is_float_type(t) && nb > 76)) continue;
          const int64_t n = block_elems(t) * nb;
          Matrix m = make_matrix(rng, t, rows, n);
          for (int64_t tokens : {1, 3}) {
            const std::vector<float> x = random_x(rng, n * tokens);
            std::vector<float> a(static_cast<size_t>(rows * tokens)), b(a.size()), ref(a.size());
            const MatmulOptions opt{.isa = isa, .path = MatmulPath::VecDot};
            matmul(m.with_copy, x.data(), tokens, a.data(), pool, opt);
            matmul(m.plain, x.data(), tokens, b.data(), pool, opt);
            matmul_reference(m.plain, x.data(), tokens, ref.data());
            for (size_t i = 0; i < a.size(); ++i) {
              const int64_t tok = static_cast<int64_t>(i) / rows, row = static_cast<int64_t>(i) % rows;
              const double bound = activation_error_bound(m.plain, row, x.data() + tok * n);
              // Only AVX-512 has file-row four-row kernels; float rows over 2 KB take one with another
              // float order on the file's rows.
              const bool long_float = is_float_type(t) && m.plain.row_stride() > 2048;
              if (t == DType::Q4_K || t == DType::Q5_K || isa != Isa::Avx512 || long_float) {
                ASSERT_NEAR(a[i], b[i], 1e-5 * bound * 127.0 * 2.0 + 1e-6);  // float order only
              } else {
                ASSERT_EQ(a[i], b[i]) << isa_name(isa) << " " << dtype_name(t) << " rows " << rows << " n " << n
                                      << " tokens " << tokens << " out " << i;
              }
              ASSERT_NEAR(a[i], ref[i], bound);
            }
          }
        }
      }
    }
  }
}

// Prefill packs its tiles from rows read back from the copy: identical to packing the file's.
// (An ISA without a tile kernel for the type takes the decode kernels instead, which
// DecodeMatchesFileLayoutKernels covers.)
TEST(Interleave, PrefillFromTheCopyIsUnchanged) {
  std::mt19937_64 rng(test::test_seed());
  ThreadPool pool(2);
  for (DType t : kTypes) {
    if (!matmul_has_gemm(t, active_isa())) continue;
    // Blocks of 16 or 32 rows (AVX-512 float tiles): partial groups, partial blocks, two blocks.
    for (int64_t rows : {5, 17, 45, 64}) {
      const int64_t n = block_elems(t) * 9;
      Matrix m = make_matrix(rng, t, rows, n);
      const int64_t tokens = 40;
      const std::vector<float> x = random_x(rng, n * tokens);
      std::vector<float> a(static_cast<size_t>(rows * tokens)), b(a.size());
      const MatmulOptions opt{.isa = std::nullopt, .path = MatmulPath::Gemm};
      matmul(m.with_copy, x.data(), tokens, a.data(), pool, opt);
      matmul(m.plain, x.data(), tokens, b.data(), pool, opt);
      ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << dtype_name(t) << " rows " << rows;
    }
  }
}

void gen_model(const std::string& type, const std::string& path) {
  const test::CliResult r = test::run_cli({"gen-model", "--shape", "tiny", "--type", type, "-o", path});
  ASSERT_EQ(r.exit_code, 0) << r.all();
}

// Whole model: greedy decoding with the decode copies (interleaved, or a plain copy for Q6_K)
// gives bit-identical logits (within float rounding where Q4_K or Q5_K tensors are present, and for
// F32, whose long rows take a kernel with another float order on the file's rows).
TEST(Interleave, ModelLogitsUnchanged) {
  TempDir tmp;
  for (const char* type : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K_M", "Q5_K_M", "F16", "F32", "Q6_K"}) {
    const std::string path = tmp.file(std::string("tiny-") + type + ".gguf");
    gen_model(type, path);
    auto plain = Model::load(path);
    auto fast = Model::load(path, "", {}, ModelLoadOptions{.decode_copies = true});
    EXPECT_EQ(plain->interleaved_bytes(), 0u);
    EXPECT_EQ(plain->decode_copy_bytes(), 0u);
    // Every matrix is copied (page-rounded), so the copies hold at least the matrices' bytes.
    EXPECT_GE(fast->decode_copy_bytes(), fast->layer(0).w_up.nbytes * 3 * fast->hparams().n_layer);
    const DType up_type = fast->layer(0).w_up.type;
    const int64_t up_cols = fast->layer(0).w_up.ne[0];
    if (!interleave_preferred(up_type, up_cols, active_isa())) {
      // A plain copy: the view reads it instead of the file, with the same bytes.
      EXPECT_EQ(fast->layer(0).w_up.interleaved, nullptr);
      EXPECT_NE(fast->layer(0).w_up.data, plain->layer(0).w_up.data);
      EXPECT_EQ(0, std::memcmp(fast->layer(0).w_up.data, plain->layer(0).w_up.data, plain->layer(0).w_up.nbytes));
      EXPECT_EQ(fast->output().data, fast->tok_embd().data);  // tied: one copy
    } else {
      EXPECT_GE(fast->interleaved_bytes(), fast->layer(0).w_up.nbytes);
      EXPECT_NE(fast->layer(0).w_up.interleaved, nullptr);
      EXPECT_EQ(fast->output().interleaved, fast->tok_embd().interleaved);  // tied: one copy
    }
    ThreadPool pool(2);
    Session a(*plain, pool), b(*fast, pool);
    std::vector<int32_t> prompt{1, 17, 300, 5, 999, 42, 7, 8};
    const int64_t vocab = plain->hparams().n_vocab;
    const float* la = a.feed(prompt);
    const float* lb = b.feed(prompt);
    // Q4_K's and Q5_K's kernels (and every AVX2 interleaved kernel) differ from the file-row ones in
    // float order; a last-bit difference can flip the rounding of an int8 activation in the
    // next product, so the logits drift by more than rounding (the kernels themselves agree
    // within rounding: DecodeMatchesFileLayoutKernels).
    // F32: the file-row kernel for rows over 2 KB (ffn_down here) sums in another order.
    const bool exact = std::string(type) != "Q4_K_M" && std::string(type) != "Q5_K_M" && std::string(type) != "F32" &&
                       (active_isa() == Isa::Avx512 || !interleave_preferred(up_type, up_cols, active_isa()));
    for (int step = 0; step < 6; ++step) {
      if (exact) {
        ASSERT_EQ(0, std::memcmp(la, lb, static_cast<size_t>(vocab) * sizeof(float))) << type << " step " << step;
      } else {
        float scale = 0.f;
        for (int64_t i = 0; i < vocab; ++i) scale = std::max(scale, std::fabs(la[i]));
        for (int64_t i = 0; i < vocab; ++i) ASSERT_NEAR(la[i], lb[i], 2e-2f * (1.f + scale)) << type << " step " << step;
      }
      const int32_t next = static_cast<int32_t>(std::max_element(la, la + vocab) - la);
      la = a.feed(std::span<const int32_t>(&next, 1));
      lb = b.feed(std::span<const int32_t>(&next, 1));
    }
  }
}

}  // namespace
