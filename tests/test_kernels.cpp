// Matmul kernels: every ISA and kernel family against the portable integer kernels (same
// quantized activations, so only float summation order may differ) and against the exact
// F32 product (within the activation quantization bound). Inputs are fresh random data; the
// seed is printed so a failure can be replayed with TRELLIS_TEST_SEED.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"
#include "core/quant.h"
#include "core/thread_pool.h"
#include "test_seed.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/matmul_kernels.h"

using namespace trellis;

namespace {

using test::test_seed;

// Values with a scale that changes from one 32-element block to the next (as in real
// activations), and an occasional outlier, so per-block scales and offsets are exercised.
std::vector<float> random_values(std::mt19937_64& rng, int64_t n) {
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  float scale = 1.f;
  for (int64_t i = 0; i < n; ++i) {
    if (i % 32 == 0) scale = std::exp(g(rng));
    v[i] = g(rng) * scale + 0.3f * scale;
    if (g(rng) > 3.f) v[i] *= 8.f;
  }
  return v;
}

struct Weights {
  std::vector<uint8_t> bytes;
  std::vector<float> deq;  // the exact values the kernels see
  TensorView view;
};

// w.view: a rows × cols matrix of `type` over w.bytes.
void set_matrix_view(Weights& w, DType type, int64_t rows, int64_t cols) {
  w.view.name = "w";
  w.view.type = type;
  w.view.ne = {cols, rows, 1, 1};
  w.view.n_dims = 2;
  w.view.data = w.bytes.data();
  w.view.nbytes = w.bytes.size();
}

Weights make_weights(std::mt19937_64& rng, DType type, int64_t rows, int64_t cols) {
  Weights w;
  const std::vector<float> src = random_values(rng, rows * cols);
  const size_t rb = row_bytes(type, cols);
  w.bytes.resize(rb * static_cast<size_t>(rows));
  w.deq.resize(src.size());
  for (int64_t r = 0; r < rows; ++r) {
    quantize_row(type, src.data() + r * cols, w.bytes.data() + r * rb, cols);
    dequantize_row(type, w.bytes.data() + r * rb, w.deq.data() + r * cols, cols);
  }
  set_matrix_view(w, type, rows, cols);
  return w;
}

int64_t block_elems(DType t) { return dtype_info(t).block_elems; }

const DType kTypes[] = {DType::F32,  DType::F16,    DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1,
                        DType::Q5_0, DType::Q5_1, DType::IQ4_NL, DType::Q4_K, DType::Q5_K, DType::Q6_K};

std::vector<Isa> isas_here() {
  std::vector<Isa> v{Isa::Scalar};
  if (detected_isa() >= Isa::Avx2) v.push_back(Isa::Avx2);
  if (detected_isa() >= Isa::Avx512) v.push_back(Isa::Avx512);
  return v;
}

// Column counts: one block, several, and (for 32-element blocks) counts that end inside the
// 16-block groups of the tiled kernels.
std::vector<int64_t> col_sizes(DType t) {
  // 1100: crosses the 1024-column K blocks, and its rows are over 2 KB (decode: four rows per
  // call); 4100: with 130 rows, chunks of two runs of four distant rows.
  // 8224 / 8448: more columns than one slice of the prefill tile kernels (the partial sums
  // of a later slice are added to the earlier ones).
  if (!is_quantized(t)) return {1, 7, 16, 33, 100, 1100, 4100};
  if (block_elems(t) == 256) return {256, 512, 768, 8448};
  // 4000: rows over 2 KB, which decode reads as distant runs. 32, 64, 96, 224, 544, 576: rows
  // whose last 512-element group of the AVX-512 prefill layout is partial, its blocks split
  // over 8, 4 or 2 lanes each (block_lanes in matmul_avx512.cpp).
  return {32, 64, 96, 224, 544, 576, 1056, 4000, 8224};
}

// Per output: S = Σ (|w| + 3·max_block|w|)·|x|, the scale of float rounding, and
// B = Σ_blocks (d_x/2)·Σ|w|, the most that int8 activation quantization (d_x = amax/127) can
// move the result. The kernels compute Σ dw·d_x·Σ(q·a) + cw·d_x·Σa with unsigned codes q and
// an offset cw of about the block's largest |w| (8·d for Q4_0, 128·d for biased Q8_0, the min
// for Q4_1 / K-quants), so their terms and rounding scale with S, not with Σ|w|·|x|.
struct Bounds {
  std::vector<double> s, b;
};

Bounds bounds(const Weights& w, const std::vector<float>& x, int64_t rows, int64_t cols, int64_t T, bool quantized) {
  Bounds out;
  out.s.resize(static_cast<size_t>(rows * T));
  out.b.resize(out.s.size());
  for (int64_t t = 0; t < T; ++t) {
    const float* xt = x.data() + t * cols;
    for (int64_t r = 0; r < rows; ++r) {
      const float* wr = w.deq.data() + r * cols;
      double s = 0, b = 0;
      for (int64_t i0 = 0; i0 < cols; i0 += 32) {
        const int64_t i1 = std::min(cols, i0 + 32);
        double amax = 0, wsum = 0, wmax = 0;
        for (int64_t i = i0; i < i1; ++i) wmax = std::max(wmax, static_cast<double>(std::fabs(wr[i])));
        if (!quantized) wmax = 0;
        for (int64_t i = i0; i < i1; ++i) {
          s += (std::fabs(static_cast<double>(wr[i])) + 3 * wmax) * std::fabs(xt[i]);
          amax = std::max(amax, static_cast<double>(std::fabs(xt[i])));
          wsum += std::fabs(wr[i]);
        }
        if (quantized) b += amax / 127.0 / 2.0 * wsum;
      }
      out.s[t * rows + r] = s;
      out.b[t * rows + r] = b;
    }
  }
  return out;
}

constexpr double kEps = 1.2e-7;  // float epsilon, rounded up

// Float rounding allowed between two kernels that see the same quantized inputs, relative to
// S (see bounds): a few roundings per 32-element block plus the summation of block results.
// Measured worst cases: 1.6·eps·sqrt(cols/32 + 1) (float weights), 0.3· (quantized); the
// factor 8 leaves margin while still flagging a single code off by one in a block that
// matters (KernelTolerance below).
double rounding_tol(int64_t cols) { return 8 * kEps * std::sqrt(static_cast<double>(cols) / 32.0 + 1.0); }

std::string describe(DType type, Isa isa, MatmulPath path, int64_t rows, int64_t cols, int64_t T) {
  return std::string(dtype_name(type)) + " isa=" + isa_name(isa) +
         (path == MatmulPath::Gemm ? " gemm" : " vecdot") + " rows=" + std::to_string(rows) +
         " cols=" + std::to_string(cols) + " T=" + std::to_string(T);
}

void check_type(DType type, ThreadPool& pool) {
  std::mt19937_64 rng(test_seed() ^ static_cast<uint64_t>(type) * 0x9E3779B97F4A7C15ull);
  const bool quantized = is_quantized(type);
  for (int64_t cols : col_sizes(type)) {
    // 6: the decode kernels take rows four at a time; 130: chunks of 8 rows (two runs of 4).
    for (int64_t rows : {1, 3, 6, 17, 33, 130}) {
      if (rows == 130 && cols < 4000) continue;
      if (cols > 8000 && rows != 17) continue;  // the slices need only a full and a partial block
      const Weights w = make_weights(rng, type, rows, cols);
      for (int64_t T : {1, 2, 5, 7, 17, 64}) {
        const std::vector<float> x = random_values(rng, T * cols);
        const Bounds bd = bounds(w, x, rows, cols, T, quantized);
        std::vector<float> ref(static_cast<size_t>(rows * T)), base(ref.size()), y(ref.size());
        matmul_reference(w.view, x.data(), T, ref.data());
        // The portable kernels: within the quantization bound of the exact product.
        matmul(w.view, x.data(), T, base.data(), pool, {Isa::Scalar, MatmulPath::VecDot});
        const double round = rounding_tol(cols);
        for (size_t i = 0; i < ref.size(); ++i) {
          ASSERT_LE(std::fabs(base[i] - ref[i]), bd.b[i] * 1.001 + round * bd.s[i] + 1e-30)
              << describe(type, Isa::Scalar, MatmulPath::VecDot, rows, cols, T) << " output " << i;
        }
        for (Isa isa : isas_here()) {
          for (MatmulPath path : {MatmulPath::VecDot, MatmulPath::Gemm}) {
            if (path == MatmulPath::Gemm && !matmul_has_gemm(type, isa)) continue;
            std::fill(y.begin(), y.end(), std::nanf(""));
            matmul(w.view, x.data(), T, y.data(), pool, {isa, path});
            for (size_t i = 0; i < ref.size(); ++i) {
              // Same quantized activations as the portable kernels: only rounding may differ.
              ASSERT_LE(std::fabs(y[i] - base[i]), round * bd.s[i] + 1e-30)
                  << describe(type, isa, path, rows, cols, T) << " output " << i << " got " << y[i]
                  << " portable " << base[i];
              ASSERT_LE(std::fabs(y[i] - ref[i]), bd.b[i] * 1.001 + 2 * round * bd.s[i] + 1e-30)
                  << describe(type, isa, path, rows, cols, T) << " output " << i;
            }
          }
        }
      }
    }
  }
}

class KernelTypes : public ::testing::TestWithParam<DType> {};

TEST_P(KernelTypes, EveryIsaAndPathMatchesReference) {
  ThreadPool pool(2);
  check_type(GetParam(), pool);
}

INSTANTIATE_TEST_SUITE_P(Kernel, KernelTypes, ::testing::ValuesIn(kTypes),
                         [](const ::testing::TestParamInfo<DType>& i) { return std::string(dtype_name(i.param)); });

// matmul_multi gives exactly what separate matmul calls give, for mixed weight types (one
// activation quantization shared by integer formats, F32 rows beside them), on the decode
// path (T < kGemmMinTokens) and on the prefill path, both where it shares one activation
// packing among the weights and where it falls back to one call per weight.
TEST(MatmulMulti, SameAsSeparateCalls) {
  std::mt19937_64 rng(test_seed() + 7);
  ThreadPool pool(2);
  const int64_t cols = 4096;
  // Mixed activation packings (one call per weight on the prefill path), and a set whose
  // prefill kernels share one packing (one pass for all), as q/k/v of a Q4_K_M file.
  const std::vector<DType> mixes[] = {{DType::Q5_0, DType::Q8_0, DType::F32, DType::Q4_K},
                                      {DType::Q4_K, DType::Q5_0, DType::Q4_0}};
  for (const std::vector<DType>& types : mixes) {
    std::vector<Weights> ws;
    for (size_t i = 0; i < types.size(); ++i) ws.push_back(make_weights(rng, types[i], 40 + 37 * static_cast<int64_t>(i), cols));
    for (int64_t T : {1, 2, 5, 13}) {
      const std::vector<float> x = random_values(rng, T * cols);
      for (Isa isa : isas_here()) {
        std::vector<std::vector<float>> sep(ws.size()), multi(ws.size());
        std::vector<MatmulOut> outs;
        for (size_t i = 0; i < ws.size(); ++i) {
          sep[i].resize(static_cast<size_t>(ws[i].view.rows() * T));
          multi[i].assign(sep[i].size(), std::nanf(""));
          matmul(ws[i].view, x.data(), T, sep[i].data(), pool, {isa, MatmulPath::Auto});
          outs.push_back({&ws[i].view, multi[i].data()});
        }
        matmul_multi(outs, x.data(), T, pool, {isa, MatmulPath::Auto});
        for (size_t i = 0; i < ws.size(); ++i) {
          for (size_t e = 0; e < sep[i].size(); ++e) {
            ASSERT_EQ(sep[i][e], multi[i][e]) << "weight " << i << " T=" << T << " isa=" << isa_name(isa) << " output " << e;
          }
        }
      }
    }
  }
}

// The rows of w (bytes and their dequantized values set) against activations of ±1, which all
// quantize to ±127 (7 tokens: all +1, all −1, alternating): on every ISA and path the result
// must match the exact product of the dequantized weights to float rounding. The extreme-code
// tests below build rows whose integer partial sums reach the largest magnitudes the kernels allow.
void expect_exact_against_unit_activations(Weights& w, DType type, int64_t rows, int64_t cols, ThreadPool& pool) {
  const int64_t T = 7;
  set_matrix_view(w, type, rows, cols);
  std::vector<float> x(static_cast<size_t>(T * cols));
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < cols; ++i) x[t * cols + i] = t % 3 == 0 ? 1.f : t % 3 == 1 ? -1.f : (i % 2 ? 1.f : -1.f);
  }
  std::vector<float> ref(static_cast<size_t>(rows * T)), y(ref.size());
  matmul_reference(w.view, x.data(), T, ref.data());
  for (Isa isa : isas_here()) {
    for (MatmulPath path : {MatmulPath::VecDot, MatmulPath::Gemm}) {
      std::fill(y.begin(), y.end(), std::nanf(""));
      matmul(w.view, x.data(), T, y.data(), pool, {isa, path});
      for (size_t i = 0; i < ref.size(); ++i) {
        ASSERT_NEAR(y[i], ref[i], 1e-5 * (std::fabs(ref[i]) + static_cast<double>(cols)))
            << describe(type, isa, path, rows, cols, T) << " output " << i;
      }
    }
  }
}

// Q4_0, Q5_0 and Q5_1 at the edges of the integer sums: rows whose codes are all 0 or all
// but one the largest, against activations of ±1 (all quantized to ±127), so every 16-bit
// partial sum of the tile kernels reaches its largest magnitude (16·m·127 where the AVX2
// kernels fold an offset of −m·scale into them: 32512 for m = 16, Q5_0 and Q5_1). Q4_0 and
// Q5_0 (w = d·(code − m): codes 0 give −m·d, the largest +(m − 1)·d) take exactly the values
// asked for; Q5_1 (w = d·code + min) a constant row (d = 0, codes 0) and rows of one
// minimum and otherwise the maximum or the reverse. The result must match the exact product
// of the dequantized weights to float rounding on every ISA and path.
TEST(KernelLegacyQuants, ExtremeCodesAndActivationsStayExact) {
  ThreadPool pool(2);
  const int64_t cols = 96;
  for (const auto& [type, m] : {std::pair{DType::Q4_0, 8.f}, std::pair{DType::Q5_0, 16.f}, std::pair{DType::Q5_1, 16.f}}) {
    const bool offset_type = type == DType::Q5_1;
    const float top = (m - 1) / m;
    std::vector<float> src(static_cast<size_t>(4 * cols));
    for (int64_t i = 0; i < cols; ++i) {
      src[i] = 1.f;                                 // codes 0
      src[cols + i] = -1.f;                         // codes 0 (Q4_0, Q5_0: negative scale)
      if (offset_type) {
        src[2 * cols + i] = i % 32 == 0 ? 0.f : 1.f;  // one code 0, the rest 31
        src[3 * cols + i] = i % 32 == 0 ? 1.f : 0.f;  // one code 31, the rest 0
      } else {
        src[2 * cols + i] = i % 32 == 0 ? 1.f : -top;  // one code 0, the rest the largest
        src[3 * cols + i] = i % 32 == 0 ? -1.f : top;
      }
    }
    const size_t rb = row_bytes(type, cols);
    Weights w;
    w.bytes.resize(rb * 4);
    w.deq.resize(src.size());
    for (int64_t r = 0; r < 4; ++r) {
      quantize_row(type, src.data() + r * cols, w.bytes.data() + r * rb, cols);
      dequantize_row(type, w.bytes.data() + r * rb, w.deq.data() + r * cols, cols);
    }
    for (size_t i = 0; i < src.size() && !offset_type; ++i) {
      ASSERT_EQ(w.deq[i], src[i]) << dtype_name(type) << " element " << i;  // the codes intended
    }
    expect_exact_against_unit_activations(w, type, 4, cols, pool);
  }
}

// Q6_K at the edges of the integer sums: rows whose codes are all 0 (w = −32·d·sc) or all 63
// (w = +31·d·sc), sub-block scales ±1 and ±127, against activations of ±1 (quantized to ±127),
// so every 16-bit partial sum of a 16-element block reaches 8·32·127 = 32512 where the AVX2
// tile kernel folds the −32 offset into it. The blocks are written byte by byte (no
// quantizer), so the weights are exact: the result must match the exact product to float
// rounding on every ISA and path.
TEST(KernelKQuants, Q6KExtremeCodesAndActivationsStayExact) {
  ThreadPool pool(2);
  const int64_t cols = 512, rows = 6;
  const int64_t nb = cols / 256;
  Weights w;
  w.bytes.resize(static_cast<size_t>(rows * nb) * sizeof(BlockQ6_K));
  auto* blocks = reinterpret_cast<BlockQ6_K*>(w.bytes.data());
  for (int64_t r = 0; r < rows; ++r) {
    const bool top = r % 2 == 1;  // codes 63, else 0
    for (int64_t i = 0; i < nb; ++i) {
      BlockQ6_K& b = blocks[r * nb + i];
      std::memset(b.ql, top ? 0xFF : 0, sizeof b.ql);
      std::memset(b.qh, top ? 0xFF : 0, sizeof b.qh);
      for (int j = 0; j < 16; ++j) {
        const int mag = r < 2 ? 1 : r < 4 ? 127 : 1 + 9 * j;
        b.scales[j] = static_cast<int8_t>((r < 4 ? 1 : (j % 2 ? -1 : 1)) * (i % 2 ? -mag : mag));
      }
      b.d = fp32_to_fp16(1.f / 32.f);
    }
  }
  w.deq.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(DType::Q6_K, w.bytes.data() + static_cast<size_t>(r * nb) * sizeof(BlockQ6_K), w.deq.data() + r * cols, cols);
  }
  ASSERT_EQ(w.deq[0], -1.f);           // code 0, scale 1, d = 1/32: the layout intended
  ASSERT_EQ(w.deq[cols], 31.f / 32.f);  // code 63
  expect_exact_against_unit_activations(w, DType::Q6_K, rows, cols, pool);
}

// Every ISA quantizes activations bit-identically (the comparisons above rely on it).
TEST(KernelQuantizeActs, BitIdenticalAcrossIsas) {
  std::mt19937_64 rng(test_seed() + 1);
  const int64_t n = 32 * 40;
  std::vector<float> x = random_values(rng, n);
  for (int i = 0; i < 32; ++i) x[i] = 0.f;                       // all-zero block
  for (int i = 32; i < 64; ++i) x[i] = static_cast<float>(i - 48) * 0.5f;  // exact halves: ties
  x[64] = -1e30f;                                                // huge value
  const size_t bytes = quant_row_bytes(n);
  std::vector<uint8_t> want(bytes), got(bytes);
  auto run = [&](const IsaKernels& k, std::vector<uint8_t>& buf) {
    const QuantRow q = quant_row_at(buf.data(), n);
    k.quantize_acts(x.data(), n, const_cast<int8_t*>(q.qs), const_cast<float*>(q.d), const_cast<float*>(q.ds),
                    const_cast<float*>(q.ds16));
  };
  run(scalar_kernels(), want);
  const QuantRow q = quant_row_at(want.data(), n);
  EXPECT_EQ(q.d[0], 0.f);
  EXPECT_EQ(q.qs[32], -127);  // -16 / (16/127)
  EXPECT_EQ(q.qs[64], -127);
  if (detected_isa() >= Isa::Avx2) {
    run(avx2_kernels(), got);
    EXPECT_EQ(0, std::memcmp(want.data(), got.data(), bytes)) << "avx2";
  }
  if (detected_isa() >= Isa::Avx512) {
    run(avx512_kernels(), got);
    EXPECT_EQ(0, std::memcmp(want.data(), got.data(), bytes)) << "avx512";
  }
}

// A code off by one in one weight must exceed the rounding tolerance used above. The element
// picked is the one with the largest |x| in the block contributing most to Σ|w|·|x|.
TEST(KernelTolerance, DetectsOneCodeOffByOne) {
  std::mt19937_64 rng(test_seed() + 2);
  ThreadPool pool(2);
  const int64_t cols = 1056;
  Weights w = make_weights(rng, DType::Q4_0, 1, cols);
  const std::vector<float> x = random_values(rng, cols);
  const Bounds bd = bounds(w, x, 1, cols, 1, true);
  int64_t best_blk = 0;
  double best = -1;
  for (int64_t b = 0; b < cols / 32; ++b) {
    double c = 0;
    for (int64_t i = 32 * b; i < 32 * b + 32; ++i) c += std::fabs(w.deq[i] * x[i]);
    if (c > best) best = c, best_blk = b;
  }
  int64_t j = 0;  // element within the block
  for (int64_t i = 1; i < 16; ++i) {
    if (std::fabs(x[32 * best_blk + i]) > std::fabs(x[32 * best_blk + j])) j = i;
  }
  float good = 0;
  matmul(w.view, x.data(), 1, &good, pool, {Isa::Scalar, MatmulPath::VecDot});
  w.bytes[best_blk * 18 + 2 + j] ^= 0x01;  // low nibble = element j: code ±1
  for (Isa isa : isas_here()) {
    float bad = 0;
    matmul(w.view, x.data(), 1, &bad, pool, {isa, MatmulPath::VecDot});
    EXPECT_GT(std::fabs(bad - good), 3 * rounding_tol(cols) * bd.s[0]) << isa_name(isa);
  }
}

TEST(KernelDispatch, OverrideIsClampedAndRestored) {
  const Isa before = active_isa();
  EXPECT_LE(before, detected_isa());
  set_isa_override(Isa::Scalar);
  EXPECT_EQ(active_isa(), Isa::Scalar);
  set_isa_override(Isa::Avx512);
  EXPECT_EQ(active_isa(), detected_isa());
  set_isa_override(before);
  EXPECT_EQ(active_isa(), before);
  std::cout << "[kernels] detected " << isa_name(detected_isa()) << ", active " << isa_name(active_isa()) << "\n";
}

// Steady state: the default entry point picks the tiled kernel for prefill and gives the
// same numbers as forcing it.
TEST(MatmulAuto, SameAsExplicitPaths) {
  std::mt19937_64 rng(test_seed() + 3);
  ThreadPool pool(2);
  const Weights w = make_weights(rng, DType::Q8_0, 40, 512);
  for (int64_t T : {int64_t{1}, kGemmMinTokens, int64_t{9}}) {
    const std::vector<float> x = random_values(rng, T * 512);
    std::vector<float> a(static_cast<size_t>(40 * T)), b(a.size());
    matmul(w.view, x.data(), T, a.data(), pool);
    const MatmulPath p = T >= kGemmMinTokens && matmul_has_gemm(DType::Q8_0, active_isa()) ? MatmulPath::Gemm
                                                                                              : MatmulPath::VecDot;
    matmul(w.view, x.data(), T, b.data(), pool, {std::nullopt, p});
    EXPECT_EQ(a, b) << "T=" << T;
  }
}

}  // namespace
