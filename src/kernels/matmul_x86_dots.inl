// 256-bit dot kernels, and the tiles' token-tail dispatcher, shared by matmul_avx2.cpp and
// matmul_avx512.cpp. Not a header: each of those files includes it inside its own anonymous
// namespace, after defining
//   __m256i dot_u8(__m256i q, __m256i a)  // Σ q·a per 4 bytes, q unsigned ≤ 63 (or ≤ 255 with VNNI)
//   __m256i dot_s8(__m256i q, __m256i a)  // the same with q signed in [-127, 127]
// so every copy is compiled for its own instruction set and none is shared at link time.

float h2f(uint16_t h) { return _cvtsh_ss(h); }

// Calls Micro<t> for the largest t ≤ nt (nt ≤ N): the tokens left over at the end.
template <template <int> class Micro, int N, class... Args>
void run_tokens(int64_t nt, Args... args) {
  if constexpr (N > 1) {
    if (nt < N) return run_tokens<Micro, N - 1>(nt, args...);
  }
  Micro<N>::run(args...);
}

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

[[maybe_unused]] int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

[[maybe_unused]] float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Decode reads each thread's weights front to back, but on Zen 3 the hardware prefetchers
// alone leave it 10-25% slower with two threads: the kernels also ask for the lines
// kStreamPrefetchBytes ahead of what they read (2-6 KB measured alike, 0 and 1.5 KB slower).
constexpr int64_t kStreamPrefetchBytes = 3072;
[[maybe_unused, gnu::always_inline]] inline void prefetch_ahead(const uint8_t* p, int64_t bytes) {
  for (int64_t i = 0; i < bytes; i += 64) _mm_prefetch(reinterpret_cast<const char*>(p + kStreamPrefetchBytes + i), _MM_HINT_T0);
}

// ---- integer building blocks ---------------------------------------------------------------

__m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 16 packed bytes → 32 codes: low nibbles are elements 0-15, high nibbles 16-31.
__m256i nibbles16(const uint8_t* qs) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m4), _mm_and_si128(v, m4));
}

// Bit j of the 32-bit word at qh → 0x10 in byte j (the 5th bit of element j).
__m256i fifth_bits(const uint8_t* qh) {
  uint32_t w;
  std::memcpy(&w, qh, 4);
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(w)), shuf);
  bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_and_si256(_mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1)), _mm256_set1_epi8(0x10));
}

// ---- legacy 32-element formats -------------------------------------------------------------
// Each format describes one block: its codes, scale dw and offset cw (w = dw·q + cw); signed
// formats (kSigned) give q in [-127, 127] and no offset.

struct FmtQ4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kSigned = false;
  static __m256i codes(const Block& b) { return nibbles16(b.qs); }
  static float offset(const Block&, float d) { return -8.f * d; }
};
struct FmtQ4_1 {
  using Block = BlockQ4_1;
  static constexpr bool kSigned = false;
  static __m256i codes(const Block& b) { return nibbles16(b.qs); }
  static float offset(const Block& b, float) { return h2f(b.m); }
};
struct FmtQ5_0 {
  using Block = BlockQ5_0;
  static constexpr bool kSigned = false;
  static __m256i codes(const Block& b) { return _mm256_or_si256(nibbles16(b.qs), fifth_bits(b.qh)); }
  static float offset(const Block&, float d) { return -16.f * d; }
};
struct FmtQ5_1 {
  using Block = BlockQ5_1;
  static constexpr bool kSigned = false;
  static __m256i codes(const Block& b) { return _mm256_or_si256(nibbles16(b.qs), fifth_bits(b.qh)); }
  static float offset(const Block& b, float) { return h2f(b.m); }
};
struct FmtQ8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kSigned = true;
  static __m256i codes(const Block& b) { return load256(b.qs); }
  static float offset(const Block&, float) { return 0.f; }
};
struct FmtIQ4_NL {
  using Block = BlockIQ4_NL;
  static constexpr bool kSigned = true;
  static __m256i codes(const Block& b) {
    const __m128i lut = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues));
    return _mm256_shuffle_epi8(_mm256_set_m128i(lut, lut), nibbles16(b.qs));
  }
  static float offset(const Block&, float) { return 0.f; }
};

// VNNI variants: signed codes shifted by 128 to be unsigned, with the shift as offset.
struct FmtQ8_0Biased {
  using Block = BlockQ8_0;
  static constexpr bool kSigned = false;
  static __m256i codes(const Block& b) { return _mm256_xor_si256(load256(b.qs), _mm256_set1_epi8(-128)); }
  static float offset(const Block&, float d) { return -128.f * d; }
};
struct FmtIQ4_NLBiased {
  using Block = BlockIQ4_NL;
  static constexpr bool kSigned = false;
  static __m256i codes(const Block& b) { return _mm256_xor_si256(FmtIQ4_NL::codes(b), _mm256_set1_epi8(-128)); }
  static float offset(const Block&, float d) { return -128.f * d; }
};

template <class Fmt>
float dot_legacy(const void* w, const ActRow& a, int64_t n) {
  const auto* blocks = static_cast<const typename Fmt::Block*>(w);
  __m256 acc = _mm256_setzero_ps();
  float corr0 = 0.f, corr1 = 0.f;  // two chains: the scalar FMA latency would serialise one
  const int64_t nb = n / 32;
  for (int64_t b = 0; b < nb; ++b) {
    const auto& blk = blocks[b];
    const __m256i q = Fmt::codes(blk);
    const __m256i av = load256(a.q.qs + 32 * b);
    const __m256i s = Fmt::kSigned ? dot_s8(q, av) : dot_u8(q, av);
    const float dw = h2f(blk.d);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(dw * a.q.d[b]), acc);
    if (!Fmt::kSigned) ((b & 1) ? corr1 : corr0) += Fmt::offset(blk, dw) * a.q.ds[b];
  }
  return hsum(acc) + corr0 + corr1;
}

// ---- k-quants ------------------------------------------------------------------------------

// The 6-bit scales and mins of a Q4_K/Q5_K super-block: out[0..7] scales, out[8..15] mins.
void kx_scale_bytes(const uint8_t* scales, uint8_t* out) {
  uint32_t u[4];
  std::memcpy(u, scales, 12);
  const uint32_t k1 = 0x3f3f3f3f, k2 = 0x0f0f0f0f, k3 = 0x03030303;
  u[3] = ((u[2] >> 4) & k2) | (((u[1] >> 6) & k3) << 4);
  const uint32_t mins_lo = u[1] & k1;
  u[1] = (u[2] & k2) | (((u[0] >> 6) & k3) << 4);
  u[2] = mins_lo;
  u[0] &= k1;
  std::memcpy(out, u, 16);
}

__m256 bytes8_to_ps(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

__m256 lane(__m256 v, int j) { return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(j)); }

// The 5th bits of Q5_K (bit 2g of byte l: element 64g+l; bit 2g+1: element 64g+32+l).
__m256i kx_high_bits(const BlockQ4_K&) { return _mm256_setzero_si256(); }
__m256i kx_high_bits(const BlockQ5_K& b) { return load256(b.qh); }
[[maybe_unused]] const uint8_t* kx_qh_bytes(const BlockQ4_K&) { return nullptr; }  // never read (kFive false)
[[maybe_unused]] const uint8_t* kx_qh_bytes(const BlockQ5_K& b) { return b.qh; }

// Q4_K and Q5_K: 8 sub-blocks of 32 with w = d·sc·q − dmin·m. kFive adds the qh bits.
template <class Block, bool kFive>
float dot_kx(const void* w, const ActRow& a, int64_t n) {
  const Block* blocks = static_cast<const Block*>(w);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps(), corr = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / 256; ++i) {
    const Block& blk = blocks[i];
    uint8_t sm[16];
    kx_scale_bytes(blk.scales, sm);
    const int64_t kb = 8 * i;  // first 32-element activation block
    // Per sub-block float scale d·sc·d_act, and −dmin·m against the activation sums.
    const __m256 scale = _mm256_mul_ps(_mm256_mul_ps(bytes8_to_ps(sm), _mm256_set1_ps(h2f(blk.d))),
                                       _mm256_loadu_ps(a.q.d + kb));
    corr = _mm256_fmadd_ps(_mm256_mul_ps(bytes8_to_ps(sm + 8), _mm256_set1_ps(-h2f(blk.dmin))),
                           _mm256_loadu_ps(a.q.ds + kb), corr);
    __m256i qh = kx_high_bits(blk);
    for (int g = 0; g < 4; ++g) {
      const __m256i v = load256(blk.qs + 32 * g);
      __m256i q0 = _mm256_and_si256(v, m4), q1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
      if (kFive) {
        const __m256i bit = _mm256_set1_epi8(0x01);
        q0 = _mm256_or_si256(q0, _mm256_slli_epi16(_mm256_and_si256(qh, bit), 4));
        q1 = _mm256_or_si256(q1, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), bit), 4));
        qh = _mm256_srli_epi16(qh, 2);
      }
      const int64_t e = 256 * i + 64 * g;
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8(q0, load256(a.q.qs + e))), lane(scale, 2 * g), acc);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8(q1, load256(a.q.qs + e + 32))), lane(scale, 2 * g + 1), acc);
    }
  }
  return hsum(_mm256_add_ps(acc, corr));
}

// Q6_K: 16 sub-blocks of 16 with int8 scales, w = d·sc·(q − 32), q 6 bits. Per 32 codes, madd
// multiplies the pair sums by the two sub-blocks' scales (picked from one widened load of the
// 16 scales by a shuffle) and one FMA applies d·d_act (permuted from a vector of the
// super-block's 8); consecutive 32s go to alternate accumulators.
[[maybe_unused]] float dot_q6_K(const void* w, const ActRow& a, int64_t n) {
  const BlockQ6_K* blocks = static_cast<const BlockQ6_K*>(w);
  const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x03);
  // Byte pattern picking scale word 2k in the low 128 bits and 2k+1 in the high, 8 times each.
  auto pick = [](int k) {
    const char lo = static_cast<char>(4 * k), hi = static_cast<char>(4 * k + 2);
    return _mm256_setr_epi8(lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1,
                            hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1);
  };
  const __m256i picks[4] = {pick(0), pick(1), pick(2), pick(3)};
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}, corr = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / 256; ++i) {
    const BlockQ6_K& blk = blocks[i];
    prefetch_ahead(reinterpret_cast<const uint8_t*>(&blk), sizeof(BlockQ6_K));
    const float d = h2f(blk.d);
    // −32·d·sc_j against the 16-element activation sums.
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales));
    const __m256 sclo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc8));
    const __m256 schi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc8, 8)));
    const __m256 m32d = _mm256_set1_ps(-32.f * d);
    corr = _mm256_fmadd_ps(_mm256_mul_ps(sclo, m32d), _mm256_loadu_ps(a.q.ds16 + 16 * i), corr);
    corr = _mm256_fmadd_ps(_mm256_mul_ps(schi, m32d), _mm256_loadu_ps(a.q.ds16 + 16 * i + 8), corr);
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);                                // word j = sc_j
    const __m256 dd = _mm256_mul_ps(_mm256_loadu_ps(a.q.d + 8 * i), _mm256_set1_ps(d));  // per 32 elements
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = load256(blk.ql + 64 * h), ql1 = load256(blk.ql + 64 * h + 32);
      const __m256i qh = load256(blk.qh + 32 * h);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4)),
          _mm256_or_si256(_mm256_and_si256(ql1, m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4)),
      };
      const __m256i scales_h = h == 0 ? _mm256_permute2x128_si256(sc16, sc16, 0x00) : _mm256_permute2x128_si256(sc16, sc16, 0x11);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const int64_t e = 256 * i + 128 * h + 32 * k;
        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], load256(a.q.qs + e)), _mm256_shuffle_epi8(scales_h, picks[k]));
        acc[k & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_permutevar8x32_ps(dd, _mm256_set1_epi32(4 * h + k)), acc[k & 1]);
      }
    }
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), corr));
}

// ---- float weights -------------------------------------------------------------------------

__m256 load8_f32(const void* w, int64_t i) { return _mm256_loadu_ps(static_cast<const float*>(w) + i); }
__m256 load8_f16(const void* w, int64_t i) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i)));
}
__m256 load8_bf16(const void* w, int64_t i) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// Element i of an F32/F16/BF16 row, for the tails Load's 8 lanes do not cover.
template <__m256 (*Load)(const void*, int64_t)>
float load1(const void* w, int64_t i) {
  if (Load == load8_f32) return static_cast<const float*>(w)[i];
  if (Load == load8_f16) return h2f(static_cast<const uint16_t*>(w)[i]);
  const uint32_t b = uint32_t{static_cast<const uint16_t*>(w)[i]} << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

template <__m256 (*Load)(const void*, int64_t)>
float dot_float(const void* w, const ActRow& a, int64_t n) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  constexpr int64_t kElemBytes = Load == load8_f32 ? 4 : 2;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    prefetch_ahead(static_cast<const uint8_t*>(w) + i * kElemBytes, 32 * kElemBytes);
    // Unrolled so the accumulators stay in registers (GCC 12 otherwise keeps them on the stack).
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) acc[k] = _mm256_fmadd_ps(Load(w, i + 8 * k), _mm256_loadu_ps(a.f + i + 8 * k), acc[k]);
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(Load(w, i), _mm256_loadu_ps(a.f + i), acc[0]);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  // Tail (n not a multiple of 8, F32/F16/BF16 only): one element at a time through the lanes.
  for (; i < n; ++i) s += load1<Load>(w, i) * a.f[i];
  return s;
}


// ---- code unpackers for packing (prefill) --------------------------------------------------

// The 256 unsigned codes of a Q4_K / Q5_K super-block in element order.
template <class Block, bool kFive>
[[maybe_unused]] void kx_codes(const Block& blk, uint8_t* out) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), bit = _mm256_set1_epi8(0x01);
  __m256i qh = kx_high_bits(blk);
  for (int g = 0; g < 4; ++g) {
    const __m256i v = load256(blk.qs + 32 * g);
    __m256i q0 = _mm256_and_si256(v, m4), q1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    if (kFive) {
      q0 = _mm256_or_si256(q0, _mm256_slli_epi16(_mm256_and_si256(qh, bit), 4));
      q1 = _mm256_or_si256(q1, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), bit), 4));
      qh = _mm256_srli_epi16(qh, 2);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * g), q0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * g + 32), q1);
  }
}

// The 256 unsigned 6-bit codes of a Q6_K super-block in element order.
[[maybe_unused]] void q6k_codes(const BlockQ6_K& blk, uint8_t* out) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x03);
  for (int h = 0; h < 2; ++h) {
    const __m256i ql0 = load256(blk.ql + 64 * h), ql1 = load256(blk.ql + 64 * h + 32);
    const __m256i qh = load256(blk.qh + 32 * h);
    const __m256i q[4] = {
        _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4)),
        _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4)),
    };
    for (int k = 0; k < 4; ++k) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 128 * h + 32 * k), q[k]);
  }
}
