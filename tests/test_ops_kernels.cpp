// Element-wise kernels of the forward pass (rmsnorm, SwiGLU's silu·mul, RoPE, residual add):
// every ISA against the scalar reference and against float64, on fresh random inputs with odd
// lengths. The seed is printed so a failure can be replayed with TRELLIS_TEST_SEED.
#include <gtest/gtest.h>

#include "test_seed.h"

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "kernels/cpu_features.h"
#include "kernels/ops.h"
#include "kernels/ops_kernels.h"

using namespace trellis;

namespace {

using test::test_seed;

struct Variant {
  Isa isa;
  const OpsKernels* k;
};

std::vector<Variant> variants() {
  std::vector<Variant> v{{Isa::Scalar, &ops_scalar()}};
  if (detected_isa() >= Isa::Avx2) v.push_back({Isa::Avx2, &ops_avx2()});
  if (detected_isa() >= Isa::Avx512) v.push_back({Isa::Avx512, &ops_avx512()});
  return v;
}

std::vector<float> random_values(std::mt19937_64& rng, int64_t n, float scale) {
  std::normal_distribution<float> g(0.f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = g(rng);
  return v;
}

constexpr double kEps = 1.2e-7;  // float epsilon, rounded up
const int64_t kSizes[] = {1, 7, 16, 17, 33, 64, 100, 896, 4865};

// out = x·scale·w: the scale has one rounding (to float) after an exact double computation up
// to summation order, then two float products: ≤ 3 roundings of the exact value.
TEST(Ops, RmsnormEveryIsa) {
  std::mt19937_64 rng(test_seed());
  for (int64_t n : kSizes) {
    const std::vector<float> x = random_values(rng, n, 3.0f), w = random_values(rng, n, 1.0f);
    double ss = 0;
    for (float v : x) ss += static_cast<double>(v) * v;
    const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + 1e-6);
    std::vector<float> ref(static_cast<size_t>(n));
    ops_scalar().rmsnorm(x.data(), w.data(), ref.data(), n, 1e-6f);
    for (const Variant& v : variants()) {
      std::vector<float> out(static_cast<size_t>(n), std::nanf(""));
      v.k->rmsnorm(x.data(), w.data(), out.data(), n, 1e-6f);
      for (int64_t i = 0; i < n; ++i) {
        const double exact = static_cast<double>(x[i]) * scale * w[i];
        ASSERT_LE(std::fabs(out[i] - exact), 3 * kEps * std::fabs(exact)) << isa_name(v.isa) << " n=" << n << " i=" << i;
        ASSERT_LE(std::fabs(out[i] - ref[i]), 4 * kEps * std::fabs(exact)) << isa_name(v.isa) << " n=" << n << " i=" << i;
      }
    }
  }
}

// silu(g)·u = g·u / (1 + e^-g): the exp (library or polynomial, ≤ 2 ulp), the sum, the
// division and the product: ≤ 6 ulp relative; values far below FLT_MIN only to 1e-37.
TEST(Ops, SiluMulEveryIsa) {
  std::mt19937_64 rng(test_seed() + 1);
  for (int64_t n : kSizes) {
    std::vector<float> g = random_values(rng, n, 4.0f);
    const std::vector<float> u = random_values(rng, n, 1.0f);
    if (n > 8) {  // saturated ends: e^-g overflows or vanishes
      g[0] = -100.0f;
      g[1] = 100.0f;
      g[2] = -88.5f;
      g[3] = 0.0f;
    }
    for (const Variant& v : variants()) {
      std::vector<float> out = g;
      v.k->silu_mul(out.data(), u.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double exact = static_cast<double>(g[i]) / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
        ASSERT_LE(std::fabs(out[i] - exact), 6 * kEps * std::fabs(exact) + 1e-37)
            << isa_name(v.isa) << " n=" << n << " g=" << g[i] << " got " << out[i] << " want " << exact;
      }
    }
  }
}

TEST(Ops, AddIsBitIdentical) {
  std::mt19937_64 rng(test_seed() + 2);
  for (int64_t n : kSizes) {
    const std::vector<float> y = random_values(rng, n, 1.0f), x = random_values(rng, n, 1.0f);
    std::vector<float> ref = y;
    ops_scalar().add(ref.data(), x.data(), n);
    for (const Variant& v : variants()) {
      std::vector<float> out = y;
      v.k->add(out.data(), x.data(), n);
      EXPECT_EQ(out, ref) << isa_name(v.isa) << " n=" << n;
    }
  }
}

// RoPE rounds each product separately on every ISA: the same bits as the reference, for both
// pairings, partial rotation (rope_dim < head_dim) and odd pair counts; and the reference
// matches the rotation in float64 to a few ulp of the pair's magnitude.
TEST(Ops, RopeIsBitIdentical) {
  std::mt19937_64 rng(test_seed() + 3);
  struct Dims {
    int64_t heads, head_dim, rope_dim;
  };
  const Dims dims[] = {{1, 2, 2}, {3, 10, 6}, {14, 64, 64}, {2, 128, 128}, {5, 34, 34}, {4, 36, 18}, {2, 40, 32}};
  for (const Dims& d : dims) {
    for (bool interleaved : {false, true}) {
      const int64_t half = d.rope_dim / 2;
      const std::vector<float> x = random_values(rng, d.heads * d.head_dim, 2.0f);
      std::vector<float> c(static_cast<size_t>(half)), s(c.size());
      for (int64_t i = 0; i < half; ++i) {
        const double angle = 1234.0 * std::pow(10000.0, -2.0 * i / static_cast<double>(d.rope_dim));
        c[i] = static_cast<float>(std::cos(angle));
        s[i] = static_cast<float>(std::sin(angle));
      }
      std::vector<float> ref = x;
      ops_scalar().rope(ref.data(), d.heads, d.head_dim, d.rope_dim, c.data(), s.data(), interleaved);
      for (int64_t h = 0; h < d.heads; ++h) {
        for (int64_t i = 0; i < half; ++i) {
          const int64_t a = h * d.head_dim + (interleaved ? 2 * i : i);
          const int64_t b = h * d.head_dim + (interleaved ? 2 * i + 1 : i + half);
          const double mag = std::fabs(x[a]) + std::fabs(x[b]);
          EXPECT_NEAR(ref[a], static_cast<double>(x[a]) * c[i] - static_cast<double>(x[b]) * s[i], 2 * kEps * mag);
          EXPECT_NEAR(ref[b], static_cast<double>(x[a]) * s[i] + static_cast<double>(x[b]) * c[i], 2 * kEps * mag);
        }
        for (int64_t i = d.rope_dim; i < d.head_dim; ++i) EXPECT_EQ(ref[h * d.head_dim + i], x[h * d.head_dim + i]);
      }
      for (const Variant& v : variants()) {
        std::vector<float> out = x;
        v.k->rope(out.data(), d.heads, d.head_dim, d.rope_dim, c.data(), s.data(), interleaved);
        EXPECT_EQ(out, ref) << isa_name(v.isa) << " head_dim=" << d.head_dim << " rope_dim=" << d.rope_dim
                            << (interleaved ? " interleaved" : " rotate-half");
      }
    }
  }
}

// Float to half (the F16 KV cache): the reference rounds to the nearest half (checked against
// its neighbours), overflows to inf and keeps NaN; every ISA gives its bits, across magnitudes
// from subnormal halves to overflow, ties, and tails of every length.
TEST(Ops, ToF16RoundsToNearestAndMatchesReference) {
  std::mt19937_64 rng(test_seed() + 5);
  std::uniform_real_distribution<double> log_mag(-27.0, 17.0);
  std::vector<float> x;
  for (int i = 0; i < 4000; ++i) x.push_back(static_cast<float>((rng() & 1 ? -1.0 : 1.0) * std::exp2(log_mag(rng))));
  const float specials[] = {0.f, -0.f, 65504.f, 65519.f, 65520.f, -65520.f, 0x1p-24f, 0x1p-25f, 0x3p-25f, 0x1p-14f,
                            1.f + 0x1p-11f, 1.f + 0x3p-11f, INFINITY, -INFINITY, NAN};
  x.insert(x.end(), std::begin(specials), std::end(specials));
  std::vector<uint16_t> ref(x.size());
  ops_scalar().to_f16(x.data(), ref.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i], got = fp16_to_fp32(ref[i]);
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(got));
    } else if (std::fabs(v) >= 65520.0) {
      EXPECT_EQ(got, std::copysign(INFINITY, v)) << v;
    } else {
      EXPECT_EQ(std::signbit(got), std::signbit(v)) << v;
      // No other half is closer (the neighbours one unit of the magnitude's bits away).
      const uint16_t mag = ref[i] & 0x7fff, sign = ref[i] & 0x8000;
      for (int step : {-1, 1}) {
        if ((mag == 0 && step < 0) || mag + step >= 0x7c00) continue;
        const double other = fp16_to_fp32(static_cast<uint16_t>(sign | (mag + step)));
        const double err = std::fabs(got - v), other_err = std::fabs(other - v);
        EXPECT_TRUE(err < other_err || (err == other_err && (mag & 1) == 0)) << v << " -> " << got << " vs " << other;
      }
    }
  }
  for (const Variant& v : variants()) {
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{15}, int64_t{17}, static_cast<int64_t>(x.size())}) {
      const size_t off = x.size() - static_cast<size_t>(n);  // the specials sit at the end
      std::vector<uint16_t> out(static_cast<size_t>(n) + 1, 0xABCD);
      v.k->to_f16(x.data() + off, out.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        if (std::isnan(x[off + i])) EXPECT_TRUE(std::isnan(fp16_to_fp32(out[i]))) << isa_name(v.isa);
        else EXPECT_EQ(out[i], ref[off + i]) << isa_name(v.isa) << " x=" << x[off + i] << " n=" << n;
      }
      EXPECT_EQ(out[n], 0xABCD) << isa_name(v.isa) << ": wrote past n=" << n;
    }
  }
}

// The public entry points follow TRELLIS_ISA / set_isa_override.
TEST(Ops, DispatchFollowsIsaOverride) {
  std::mt19937_64 rng(test_seed() + 4);
  const std::vector<float> x = random_values(rng, 2 * 64, 1.0f);
  std::vector<float> inv_freq(32);
  for (int i = 0; i < 32; ++i) inv_freq[i] = static_cast<float>(std::pow(10000.0, -i / 32.0));
  const Isa before = active_isa();
  std::vector<float> want = x;
  set_isa_override(Isa::Scalar);
  rope(want.data(), 2, 64, 64, 77, inv_freq.data(), RopeStyle::Interleaved);
  for (const Variant& v : variants()) {
    set_isa_override(v.isa);
    std::vector<float> got = x;
    rope(got.data(), 2, 64, 64, 77, inv_freq.data(), RopeStyle::Interleaved);
    EXPECT_EQ(got, want) << isa_name(v.isa);
  }
  set_isa_override(before);
}

}  // namespace
