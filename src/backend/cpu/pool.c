/* pool.c — 2×2 average pooling and its adjoint (§1, §3 "each of the 4 pooled inputs receives
 * g_Up[t]/4"), channel-last rows (the reference form is
 * backend/reference/pool.c). */
#include "backend/cpu/pool.h"

#include "core/cpu.h"
#include "core/runs.h"

#include <string.h>

/* The channel-last forms: one output pixel's C channels at a time. The AVX-512 versions do 16
 * channels per vector with a masked last vector (a scalar remainder costs as much as the vectors
 * at C = 20 or 50); same sums in the same order, so the same bits. */
static void pool_forward_plain(float *I, const float *x, const sbp_layer *L, int tc)
{
    const size_t C = (size_t)L->out_c;
    const int W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    for (int t = 0; t < tc; t++) {
        const float *xt = x + (size_t)t * L->n_in;
        float *o = I + (size_t)t * L->n_out;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++, o += C) {
                const float *a = xt + ((size_t)(2 * oy) * W + 2 * ox) * C, *b = a + C;
                const float *c = a + (size_t)W * C, *d = c + C;
                for (size_t k = 0; k < C; k++)
                    o[k] = 0.25f * (a[k] + b[k] + c[k] + d[k]);
            }
    }
}

static void pool_backward_plain(float *dx, const float *gI, const sbp_layer *L, int tc)
{
    const size_t C = (size_t)L->out_c;
    const int W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    memset(dx, 0, sizeof(float) * (size_t)tc * L->n_in);
    for (int t = 0; t < tc; t++) {
        float *xt = dx + (size_t)t * L->n_in;
        const float *g = gI + (size_t)t * L->n_out;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++, g += C) {
                float *a = xt + ((size_t)(2 * oy) * W + 2 * ox) * C, *b = a + C;
                float *c = a + (size_t)W * C, *d = c + C;
                for (size_t k = 0; k < C; k++) {
                    const float q = 0.25f * g[k];
                    a[k] = q;
                    b[k] = q;
                    c[k] = q;
                    d[k] = q;
                }
            }
    }
}

#ifdef SBP_RUNS_AVX512
static SBP_TARGET_AVX512 void pool_forward_avx512(float *I, const float *x, const sbp_layer *L,
                                                  int tc)
{
    const size_t C = (size_t)L->out_c;
    const int W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    const __m512 q = _mm512_set1_ps(0.25f);
    for (int t = 0; t < tc; t++) {
        const float *xt = x + (size_t)t * L->n_in;
        float *o = I + (size_t)t * L->n_out;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++, o += C) {
                const float *a = xt + ((size_t)(2 * oy) * W + 2 * ox) * C, *b = a + C;
                const float *c = a + (size_t)W * C, *d = c + C;
                for (size_t k = 0; k < C; k += 16) {
                    const __mmask16 m = sbp_lanes_mask(C - k);
                    const __m512 s = _mm512_add_ps(
                        _mm512_add_ps(_mm512_add_ps(_mm512_maskz_loadu_ps(m, a + k),
                                                    _mm512_maskz_loadu_ps(m, b + k)),
                                      _mm512_maskz_loadu_ps(m, c + k)),
                        _mm512_maskz_loadu_ps(m, d + k));
                    _mm512_mask_storeu_ps(o + k, m, _mm512_mul_ps(q, s));
                }
            }
    }
}

static SBP_TARGET_AVX512 void pool_backward_avx512(float *dx, const float *gI,
                                                   const sbp_layer *L, int tc)
{
    const size_t C = (size_t)L->out_c;
    const int W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    const __m512 q4 = _mm512_set1_ps(0.25f);
    /* The windows tile an even map: every input is written below. An odd map's last row or
     * column is in no window and gets 0. */
    if (L->in_h != 2 * Ho || W != 2 * Wo)
        memset(dx, 0, sizeof(float) * (size_t)tc * L->n_in);
    for (int t = 0; t < tc; t++) {
        float *xt = dx + (size_t)t * L->n_in;
        const float *g = gI + (size_t)t * L->n_out;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++, g += C) {
                float *a = xt + ((size_t)(2 * oy) * W + 2 * ox) * C, *b = a + C;
                float *c = a + (size_t)W * C, *d = c + C;
                for (size_t k = 0; k < C; k += 16) {
                    const __mmask16 m = sbp_lanes_mask(C - k);
                    const __m512 v = _mm512_mul_ps(q4, _mm512_maskz_loadu_ps(m, g + k));
                    _mm512_mask_storeu_ps(a + k, m, v);
                    _mm512_mask_storeu_ps(b + k, m, v);
                    _mm512_mask_storeu_ps(c + k, m, v);
                    _mm512_mask_storeu_ps(d + k, m, v);
                }
            }
    }
}
#endif

void sbp_pool_forward_fast(float *I, const float *x, const sbp_layer *L, int tc)
{
#ifdef SBP_RUNS_AVX512
    if (sbp_use_avx512()) {
        pool_forward_avx512(I, x, L, tc);
        return;
    }
#endif
    pool_forward_plain(I, x, L, tc);
}

void sbp_pool_backward_fast(float *dx, const float *gI, const sbp_layer *L, int tc)
{
#ifdef SBP_RUNS_AVX512
    if (sbp_use_avx512()) {
        pool_backward_avx512(dx, gI, L, tc);
        return;
    }
#endif
    pool_backward_plain(dx, gI, L, tc);
}
