/* rng.c — Philox4x32-10 wrappers (Random123 is header-only; we only name the counters). */
#include "core/rng.h"

#include "core/cpu.h"

#include <math.h>
#include <Random123/philox.h>

sbp_rng_key sbp_rng_key_make(uint64_t seed, sbp_rng_stream stream)
{
    /* Mix the stream into the key so that streams never share a counter space. */
    uint64_t s = seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)stream);
    s ^= s >> 31;
    s *= 0xBF58476D1CE4E5B9ull;
    s ^= s >> 29;
    sbp_rng_key key = {{(uint32_t)s, (uint32_t)(s >> 32)}};
    return key;
}

void sbp_rng_words(sbp_rng_key key, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                   uint32_t out[4])
{
    philox4x32_ctr_t c = {{c0, c1, c2, c3}};
    philox4x32_key_t k = {{key.k[0], key.k[1]}};
    philox4x32_ctr_t r = philox4x32(c, k);
    for (int i = 0; i < 4; i++)
        out[i] = r.v[i];
}

static void words16_plain(sbp_rng_key key, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                          uint32_t out[4][16])
{
    for (uint32_t q = 0; q < 16; q++) {
        uint32_t w[4];
        sbp_rng_words(key, c0, c1, c2, c3 + q, w);
        for (int i = 0; i < 4; i++)
            out[i][q] = w[i];
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(SBP_NO_MULTIVERSION)
#include <immintrin.h>
/* Philox4x32-10 (Salmon et al. 2011, as Random123 computes it) on 16 counters, one per 32-bit
 * lane: Random123 vectorises one counter per SSE register, not across counters, so this is
 * written here; tests/test_kernels.c checks it against sbp_rng_words bit for bit. */
__attribute__((target("avx512f"))) static inline void mulhilo16(__m512i a, __m512i m,
                                                                 __m512i *lo, __m512i *hi)
{
    *lo = _mm512_mullo_epi32(a, m);
    const __m512i even = _mm512_srli_epi64(_mm512_mul_epu32(a, m), 32);
    const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *hi = _mm512_mask_blend_epi32((__mmask16)0xAAAA, even, odd);
}

/* Ten Philox rounds on 16 counters (c0, c1, x2[q], x3[q]). */
__attribute__((target("avx512f"))) static inline void philox16(sbp_rng_key key, uint32_t c0,
                                                               uint32_t c1, __m512i x2, __m512i x3,
                                                               uint32_t out[4][16])
{
    const __m512i m0 = _mm512_set1_epi32((int)0xD2511F53u), m1 = _mm512_set1_epi32((int)0xCD9E8D57u);
    __m512i x0 = _mm512_set1_epi32((int)c0), x1 = _mm512_set1_epi32((int)c1);
    uint32_t k0 = key.k[0], k1 = key.k[1];
    for (int r = 0; r < 10; r++) {
        if (r) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        __m512i lo0, hi0, lo1, hi1;
        mulhilo16(x0, m0, &lo0, &hi0);
        mulhilo16(x2, m1, &lo1, &hi1);
        const __m512i y0 = _mm512_xor_si512(_mm512_xor_si512(hi1, x1), _mm512_set1_epi32((int)k0));
        const __m512i y2 = _mm512_xor_si512(_mm512_xor_si512(hi0, x3), _mm512_set1_epi32((int)k1));
        x0 = y0, x1 = lo1, x2 = y2, x3 = lo0;
    }
    _mm512_storeu_si512((void *)out[0], x0);
    _mm512_storeu_si512((void *)out[1], x1);
    _mm512_storeu_si512((void *)out[2], x2);
    _mm512_storeu_si512((void *)out[3], x3);
}

__attribute__((target("avx512f"))) static void words16_avx512(sbp_rng_key key, uint32_t c0,
                                                              uint32_t c1, uint32_t c2,
                                                              uint32_t c3, uint32_t out[4][16])
{
    const __m512i x3 = _mm512_add_epi32(_mm512_set1_epi32((int)c3),
                                        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
                                                         4, 3, 2, 1, 0));
    philox16(key, c0, c1, _mm512_set1_epi32((int)c2), x3, out);
}

__attribute__((target("avx512f"))) static void lanes_avx512(sbp_rng_key key, uint32_t c0,
                                                            uint32_t c1, const uint32_t c2[16],
                                                            const uint32_t c3[16],
                                                            uint32_t out[4][16])
{
    philox16(key, c0, c1, _mm512_loadu_si512((const void *)c2),
             _mm512_loadu_si512((const void *)c3), out);
}
#define SBP_WORDS16_AVX512 1
#endif

void sbp_rng_words16(sbp_rng_key key, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                     uint32_t out[4][16])
{
#ifdef SBP_WORDS16_AVX512
    if (sbp_use_avx512()) {
        words16_avx512(key, c0, c1, c2, c3, out);
        return;
    }
#endif
    words16_plain(key, c0, c1, c2, c3, out);
}

void sbp_rng_words16_lanes(sbp_rng_key key, uint32_t c0, uint32_t c1, const uint32_t c2[16],
                           const uint32_t c3[16], uint32_t out[4][16])
{
#ifdef SBP_WORDS16_AVX512
    if (sbp_use_avx512()) {
        lanes_avx512(key, c0, c1, c2, c3, out);
        return;
    }
#endif
    for (int q = 0; q < 16; q++) {
        uint32_t w[4];
        sbp_rng_words(key, c0, c1, c2[q], c3[q], w);
        for (int i = 0; i < 4; i++)
            out[i][q] = w[i];
    }
}

double sbp_rng_normal(sbp_rng_key key, uint32_t c0, uint32_t c1, uint64_t i)
{
    uint32_t w[4];
    sbp_rng_words(key, c0, c1, (uint32_t)i, (uint32_t)(i >> 32), w);
    /* 53-bit uniforms in (0, 1] and [0, 1). */
    double u1 = ((double)(((uint64_t)w[0] << 21) ^ w[1]) + 1.0) / 9007199254740992.0;
    double u2 = (double)(((uint64_t)w[2] << 21) ^ w[3]) / 9007199254740992.0;
    if (u1 > 1.0)
        u1 = 1.0;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint32_t sbp_rng_below(sbp_rng_key key, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t n)
{
    uint32_t w[4];
    sbp_rng_words(key, c0, c1, c2, 0, w);
    uint64_t r = ((uint64_t)w[0] << 32) | w[1];
    /* (r · n) >> 64 via 128-bit-free split: bias < n / 2^64, negligible. */
    uint64_t hi = (r >> 32) * n, lo = (r & 0xffffffffu) * n;
    return (uint32_t)((hi + (lo >> 32)) >> 32);
}
