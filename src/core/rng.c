/* rng.c — Philox4x32-10 wrappers (Random123 is header-only; we only name the counters). */
#include "core/rng.h"

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
