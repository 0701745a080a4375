/*
 * conv_patterns.c — the first layer's convolution by input patterns: one input channel of
 * spikes 0 or 1 (a rate-coded image), stride 1, kernel k ≤ 5, up to 32 output channels
 * (AVX-512).
 *
 * With one input channel each event of the column form (conv_cols.c) has a run of its own
 * (~1.1 events per run on LeNet's first layer), so nearly every event pays the
 * read-modify-write of its whole run, and the output must be zeroed first: on LeNet's 1 → 20
 * layer that and the sort took a fifth of inference. Here the output is gathered instead: the
 * k input pixels of one kernel row under an output pixel are a k-bit pattern of the input
 * row's spike bits, and a table holds, for every kernel row and pattern, the sum of the weights
 * the pattern's spikes select (k·2^k rows of Cout floats: 20 KiB for k = 5, Cout ≤ 32, in L1).
 * Every output pixel is then k table rows added and stored once — no zeroing, no events, no
 * sort, work independent of where the spikes fall; output rows no input row reaches are
 * stored as zeros, and so are, in each row, the pixels left and right of every spike's reach.
 *
 * The same products as the reference, summed in another order (a pattern's weights first, then
 * the kernel rows): checked against the reference loops within the tolerance every fast path
 * has (tests/test_kernels.c). Inputs other than 0 and 1 (signed or scaled spikes, currents)
 * are declined, and the column form runs.
 */
#include "backend/cpu/conv.h"

#include "core/cpu.h"
#include "core/runs.h"

#include <stdint.h>
#include <string.h>

#define MAX_K 5    /* 2^k table rows per kernel row */
#define MAX_WIDE 64 /* input row + both paddings in one 64-bit word */

/* Floats of one table row: Cout padded to whole vectors. */
static size_t table_row(const sbp_layer *L)
{
    return ((size_t)L->out_c + 15) & ~(size_t)15;
}

/* Floats of the table: k·2^k rows (a multiple of 16: the bits after it stay aligned). */
static size_t table_floats(const sbp_layer *L)
{
    const size_t k = (size_t)L->spec.kernel;
    return k * ((size_t)1 << k) * table_row(L);
}

size_t sbp_conv_patterns_scratch(const sbp_layer *L, int tc)
{
    /* the table, then each step's input rows as bits (2 floats per 64-bit word) */
    return table_floats(L) + 2 * (size_t)tc * (size_t)L->in_h + 16;
}

int sbp_conv_patterns_usable(const sbp_layer *L)
{
#ifdef SBP_RUNS_AVX512
    return sbp_use_avx512() && L->in_c == 1 && L->spec.stride == 1 && L->spec.kernel <= MAX_K &&
           L->out_c <= 32 && L->in_w + 2 * L->spec.pad <= MAX_WIDE &&
           L->out_w == L->in_w + 2 * L->spec.pad - L->spec.kernel + 1;
#else
    (void)L;
    return 0;
#endif
}

#ifdef SBP_RUNS_AVX512

/* Each step's input rows as bits (bit pad + ix for pixel ix); 0 where a value is neither 0
 * nor 1. */
static SBP_TARGET_AVX512 int input_bits(uint64_t *bits, const float *x, const sbp_layer *L,
                                        int tc)
{
    const int H = L->in_h, Wd = L->in_w, pad = L->spec.pad;
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    for (int t = 0; t < tc; t++)
        for (int iy = 0; iy < H; iy++) {
            const float *r = x + ((size_t)t * H + iy) * (size_t)Wd;
            uint64_t w = 0;
            for (int ix = 0; ix < Wd; ix += 16) {
                const __mmask16 m = sbp_lanes_mask(Wd - ix);
                const __m512 v = _mm512_maskz_loadu_ps(m, r + ix);
                const __mmask16 nz = _mm512_mask_cmp_ps_mask(m, v, zero, _CMP_NEQ_UQ);
                if (nz != _mm512_mask_cmp_ps_mask(m, v, one, _CMP_EQ_OQ))
                    return 0;
                w |= (uint64_t)nz << ix;
            }
            bits[(size_t)t * H + iy] = w << pad;
        }
    return 1;
}

/* table[(ky·2^k + p)·row + co] = Σ over the bits kx of p, in increasing kx, of the weight
 * (co, ky, kx): each pattern is the one without its highest bit plus that bit's weights. */
static SBP_TARGET_AVX512 void build_table(float *table, const float *Wt, const sbp_layer *L)
{
    const int k = L->spec.kernel, np = 1 << k;
    const size_t C = (size_t)L->out_c, row = table_row(L), NV = row / 16;
    for (int ky = 0; ky < k; ky++) {
        float *T = table + (size_t)ky * np * row;
        memset(T, 0, row * sizeof(float));
        for (int p = 1; p < np; p++) {
            const int hi = 31 - __builtin_clz((unsigned)p);
            /* the kernel layout keeps kx reversed */
            const float *w = Wt + sbp_conv_wt(L, 0, ky, k - 1 - hi);
            const float *prev = T + (size_t)(p & ~(1 << hi)) * row;
            for (size_t j = 0; j < NV; j++) {
                const size_t left = C - 16 * j;
                const __mmask16 m = sbp_lanes_mask(left);
                _mm512_storeu_ps(T + (size_t)p * row + 16 * j,
                                 _mm512_add_ps(_mm512_loadu_ps(prev + 16 * j),
                                               _mm512_maskz_loadu_ps(m, w + 16 * j)));
            }
        }
    }
}

/* n pixels of zeros from o (C floats each). */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void zero_pixels(float *o, size_t n, size_t C)
{
    const size_t f = n * C;
    size_t i = 0;
    for (; i + 16 <= f; i += 16)
        _mm512_storeu_ps(o + i, _mm512_setzero_ps());
    if (i < f)
        _mm512_mask_storeu_ps(o + i, sbp_tail_mask(f - i), _mm512_setzero_ps());
}

/* One output row: w[ky] the input row under kernel row ky (bits, shifted to the row's first
 * output pixel), pixels [a, b) gathered, the rest zeros. NV vectors per pixel, the last one
 * masked to the channels left (tail). */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void out_row(const int NV, const int K, float *o,
                                                        const uint64_t *w, int a, int b, int Wo,
                                                        const float *table, size_t row, size_t C,
                                                        __mmask16 tail)
{
    const uint64_t mask = ((uint64_t)1 << K) - 1;
    zero_pixels(o, (size_t)a, C);
    uint64_t s[MAX_K];
    for (int ky = 0; ky < K; ky++)
        s[ky] = w[ky] >> a;
    for (int ox = a; ox < b; ox++) {
        __m512 acc[2];
        for (int j = 0; j < NV; j++)
            acc[j] = _mm512_loadu_ps(table + (size_t)(s[0] & mask) * row + 16 * j);
        for (int ky = 1; ky < K; ky++) {
            const float *T = table + ((size_t)ky << K) * row + (size_t)(s[ky] & mask) * row;
            for (int j = 0; j < NV; j++)
                acc[j] = _mm512_add_ps(acc[j], _mm512_loadu_ps(T + 16 * j));
        }
        float *p = o + (size_t)ox * C;
        for (int j = 0; j < NV - 1; j++)
            _mm512_storeu_ps(p + 16 * j, acc[j]);
        _mm512_mask_storeu_ps(p + 16 * (NV - 1), tail, acc[NV - 1]);
        for (int ky = 0; ky < K; ky++)
            s[ky] >>= 1;
    }
    zero_pixels(o + (size_t)b * C, (size_t)(Wo - b), C);
}

/* Output rows oy0 … oy1 − 1 of every step: row oy of step t at I + t·tstride + (oy − oy0)·Wo·C. */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void forward(const int NV, const int K, float *I,
                                                        size_t tstride, int oy0, int oy1,
                                                        const uint64_t *bits,
                                                        const float *table,
                                                        const sbp_layer *L, int tc)
{
    const int H = L->in_h, Wo = L->out_w, pad = L->spec.pad;
    const size_t C = (size_t)L->out_c, row = table_row(L);
    const size_t left = C - 16 * (size_t)(NV - 1);
    const __mmask16 tail = sbp_lanes_mask(left);
    for (int t = 0; t < tc; t++) {
        const uint64_t *bt = bits + (size_t)t * H;
        float *It = I + (size_t)t * tstride;
        for (int oy = oy0; oy < oy1; oy++) {
            uint64_t w[MAX_K], any = 0;
            for (int ky = 0; ky < K; ky++) {
                const int iy = oy + ky - pad;
                w[ky] = iy >= 0 && iy < H ? bt[iy] : 0;
                any |= w[ky];
            }
            float *o = It + (size_t)(oy - oy0) * Wo * C;
            if (!any) {
                zero_pixels(o, (size_t)Wo, C);
                continue;
            }
            /* output ox sees bits ox … ox + K − 1: the pixels that see a spike */
            const int lo = __builtin_ctzll(any), hi = 63 - __builtin_clzll(any);
            int a = lo - (K - 1), b = hi + 1;
            a = a > 0 ? a : 0;
            b = b < Wo ? b : Wo;
            out_row(NV, K, o, w, a, b, Wo, table, row, C, tail);
        }
    }
}

static SBP_TARGET_AVX512 void forward_dispatch(float *I, size_t tstride, int oy0, int oy1,
                                               const uint64_t *bits, const float *table,
                                               const sbp_layer *L, int tc)
{
    const int NV = L->out_c > 16 ? 2 : 1;
    switch (L->spec.kernel * 2 + NV - 1) {
#define CASE(K)                                                                                \
    case 2 * K:                                                                                \
        forward(1, K, I, tstride, oy0, oy1, bits, table, L, tc);                               \
        break;                                                                                 \
    case 2 * K + 1:                                                                            \
        forward(2, K, I, tstride, oy0, oy1, bits, table, L, tc);                               \
        break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5)
#undef CASE
    }
}
#endif

int sbp_conv_patterns_prepare(float *ws, const float *x, const float *Wt, const sbp_layer *L,
                              int tc)
{
#ifdef SBP_RUNS_AVX512
    if (!sbp_conv_patterns_usable(L) ||
        !input_bits((uint64_t *)(void *)(ws + table_floats(L)), x, L, tc))
        return 0;
    build_table(ws, Wt, L);
    return 1;
#else
    (void)ws, (void)x, (void)Wt, (void)L, (void)tc;
    return 0;
#endif
}

void sbp_conv_patterns_rows(float *I, size_t tstride, int oy0, int rows, const float *ws,
                            const sbp_layer *L, int tc)
{
#ifdef SBP_RUNS_AVX512
    const uint64_t *bits = (const uint64_t *)(const void *)(ws + table_floats(L));
    forward_dispatch(I, tstride, oy0, oy0 + rows, bits, ws, L, tc);
#else
    (void)I, (void)tstride, (void)oy0, (void)rows, (void)ws, (void)L, (void)tc;
#endif
}

int sbp_conv_forward_patterns(float *I, const float *x, const float *Wt, const sbp_layer *L,
                              int tc, float *ws)
{
    if (!sbp_conv_patterns_prepare(ws, x, Wt, L, tc))
        return 0;
    sbp_conv_patterns_rows(I, L->n_out, 0, L->out_h, ws, L, tc);
    return 1;
}
