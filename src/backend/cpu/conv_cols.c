/*
 * conv_cols.c — the event-driven convolution forward, one input column at a time (AVX-512,
 * stride 1).
 *
 * In the scatter form (conv.c) every input event adds, for each kernel row, a run of k·Cout
 * weights into the outputs it reaches: one read-modify-write of the output per vector, and the
 * store bounds it (bench/bound.c: 1.19 ns per vector at best on Zen 4, against 0.35 for a load
 * and add into registers). But all the events of one input column ix reach the same run of
 * output pixels ox = ix + pad − k + 1 … ix + pad in whichever output row: so here a step's
 * events are sorted by column (stably), and for each column and each output row its events'
 * kernel rows reach, the run is loaded into up to 16 vector registers once, every event of the
 * column whose kernel row reaches that output row adds its weights, and the run is stored once.
 * On LeNet's 20 → 50 layer that is about 2.7 events per load and store. The sort is by cell
 * (column, row), so that the events reaching an output row are found from the cells' bounds,
 * not by loops whose ends the data decides (on a Xeon those loops' branches cost a quarter of
 * the kernel: bench/results-2026-12-05h-cpu.md).
 *
 * The same products as the scatter, added to each output in another order (by column, then by
 * row, instead of by row, then by column), so not the scatter's bits: checked against the
 * reference loops within the tolerance every fast path has (tests/test_kernels.c).
 *
 * Written with intrinsics because the run must stay in registers: its vector count is a
 * compile-time constant per case, as in conv_pull.c.
 */
#include "backend/cpu/conv.h"

#include "backend/cpu/events.h"
#include "core/cpu.h"
#include "core/divide.h"
#include "core/runs.h"

#include <stdint.h>
#include <string.h>

#define MAX_VECS 16 /* a kernel row's block (k·Cout, padded) ≤ 256 floats */

/* One event of a column: its value, input row and weight offset (ci·k + iy + pad)·kr, so
 * that its weights for output row oy are at w0 + woff − oy·kr (kernel row iy + pad − oy):
 * worked out once in the sort instead of once per output row (LeNet's 20 → 50 layer at the
 * trained 4.7 % input spikes: 1.36 → 1.29 ms per image). */
typedef struct {
    float v;
    int32_t iy;
    uint32_t woff;
} col_event;

size_t sbp_conv_cols_scratch(const sbp_layer *L)
{
    /* the cells' bounds (B below), then the sorted events (col_event: 3 floats) */
    return (size_t)L->in_w * (size_t)L->in_h + 2 + 3 * L->n_in + 16;
}

int sbp_conv_cols_usable(const sbp_layer *L)
{
#ifdef SBP_RUNS_AVX512
    const size_t kr = sbp_conv_block(L); /* woff below 2^32 */
    return sbp_use_avx512() && L->spec.stride == 1 && kr <= 16 * MAX_VECS &&
           ((size_t)L->in_c * L->spec.kernel + L->in_h + L->spec.pad) * kr < ((size_t)1 << 32);
#else
    (void)L;
    return 0;
#endif
}

#ifdef SBP_RUNS_AVX512

/* One column's n events (sorted by row) into the output runs at out (output row 0, the run's
 * first pixel; row stride `row` floats), run length len floats in NV vectors; w0 the weight row
 * of (channel 0, kernel row 0) at the run's first tap, kr the stride of a kernel row. */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void column(const int NV, const int UNIT, float *out,
                                                       size_t row,
                                                       const col_event *ev, int n,
                                                       const uint32_t *cell, uint32_t base, int H,
                                                       const float *w0, size_t kr,
                                                       size_t len, int k, int pad, int Ho)
{
    const __mmask16 last = len % 16 ? sbp_tail_mask(len % 16) : (__mmask16)0xFFFF;
    /* output rows reached: oy = iy + pad − ky, ky ∈ [0, k) */
    int oy0 = ev[0].iy + pad - (k - 1), oy1 = ev[n - 1].iy + pad;
    oy0 = oy0 > 0 ? oy0 : 0;
    oy1 = oy1 < Ho - 1 ? oy1 : Ho - 1;
    for (int oy = oy0; oy <= oy1; oy++) {
        /* the events whose kernel rows reach oy: iy ∈ [oy − pad, oy − pad + k − 1], from the
         * column's row bounds (cell[iy] − base its first event of row iy in ev) — no loop
         * that stops where the data says */
        int r0 = oy - pad, r1 = oy - pad + k;
        r0 = r0 < 0 ? 0 : r0 > H ? H : r0;
        r1 = r1 < 0 ? 0 : r1 > H ? H : r1;
        const int a = (int)(cell[r0] - base), b = (int)(cell[r1] - base);
        if (a == b)
            continue;
        float *o = out + (size_t)oy * row;
        const uint32_t below = (uint32_t)((size_t)oy * kr); /* ≤ every woff of a..b */
        __m512 acc[MAX_VECS];
        for (int j = 0; j < NV - 1; j++)
            acc[j] = _mm512_loadu_ps(o + 16 * j);
        acc[NV - 1] = _mm512_maskz_loadu_ps(last, o + 16 * (NV - 1));
        for (int e = a; e < b; e++) {
            const float *w = w0 + (ev[e].woff - below);
            if (UNIT) { /* every value 1: v·w = w exactly, so the same sums without the products */
                for (int j = 0; j < NV - 1; j++)
                    acc[j] = _mm512_add_ps(acc[j], _mm512_loadu_ps(w + 16 * j));
                acc[NV - 1] =
                    _mm512_add_ps(acc[NV - 1], _mm512_maskz_loadu_ps(last, w + 16 * (NV - 1)));
                continue;
            }
            const __m512 vv = _mm512_set1_ps(ev[e].v);
            for (int j = 0; j < NV - 1; j++)
                acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(vv, _mm512_loadu_ps(w + 16 * j)));
            acc[NV - 1] = _mm512_add_ps(
                acc[NV - 1], _mm512_mul_ps(vv, _mm512_maskz_loadu_ps(last, w + 16 * (NV - 1))));
        }
        for (int j = 0; j < NV - 1; j++)
            _mm512_storeu_ps(o + 16 * j, acc[j]);
        _mm512_mask_storeu_ps(o + 16 * (NV - 1), last, acc[NV - 1]);
    }
}

static SBP_TARGET_AVX512 void column_dispatch(int nv, int unit, float *out, size_t row,
                                              const col_event *ev, int n, const uint32_t *cell,
                                              uint32_t base, int H, const float *w0, size_t kr,
                                              size_t len, int k, int pad, int Ho)
{
    switch (2 * nv + (unit ? 1 : 0)) {
#define CASE(N)                                                                                \
    case 2 * N:                                                                                \
        column(N, 0, out, row, ev, n, cell, base, H, w0, kr, len, k, pad, Ho);                \
        break;                                                                                 \
    case 2 * N + 1:                                                                            \
        column(N, 1, out, row, ev, n, cell, base, H, w0, kr, len, k, pad, Ho);                \
        break;
        SBP_VECTOR_COUNTS(CASE)
#undef CASE
    }
}

static SBP_TARGET_AVX512 void forward_cols(float *I, const sbp_events *ev, const float *Wt,
                                           const sbp_layer *L, int tc, float *ws)
{
    const int k = L->spec.kernel, pad = L->spec.pad, Ci = L->in_c;
    const int Wd = L->in_w, H = L->in_h, Ho = L->out_h, Wo = L->out_w;
    const size_t C = (size_t)L->out_c, kr = sbp_conv_block(L), cells = (size_t)Wd * H;
    /* events sorted by cell (column ix, row iy), key ix·H + iy: B[c] the first event of cell c
     * (B[0] = 0; B[cells] = the step's count); start = B + 1 the counting sort's array */
    uint32_t *B = (uint32_t *)(void *)ws, *start = B + 1;
    col_event *sorted = (col_event *)(void *)(B + cells + 2);
    B[0] = 0;
    const sbp_divider by_ci = sbp_divider_make((uint32_t)Ci), by_w = sbp_divider_make((uint32_t)Wd);
    memset(I, 0, sizeof(float) * (size_t)tc * L->n_out);
    for (int t = 0; t < tc; t++) {
        const size_t e0 = ev->off[t], e1 = ev->off[t + 1];
        if (e0 == e1)
            continue;
        /* the step's events by column, stably (each column keeps the list's row order) */
        memset(start, 0, sizeof(uint32_t) * (cells + 1));
        for (size_t e = e0; e < e1; e++) {
            const uint32_t pix = sbp_div(ev->idx[e], by_ci), iy = sbp_div(pix, by_w);
            start[sbp_mod_q(pix, iy, by_w) * (uint32_t)H + iy + 1]++;
        }
        for (size_t c = 0; c < cells; c++)
            start[c + 1] += start[c];
        int unit = 1; /* every value of the step 1 (spikes without dropout's scale) */
        for (size_t e = e0; e < e1; e++) {
            unit &= ev->val[e] == 1.0f;
            const uint32_t i = ev->idx[e], pix = sbp_div(i, by_ci), iy = sbp_div(pix, by_w);
            const size_t ci = sbp_mod_q(i, pix, by_ci);
            sorted[start[sbp_mod_q(pix, iy, by_w) * (uint32_t)H + iy]++] = (col_event){
                ev->val[e], (int32_t)iy, (uint32_t)((ci * k + iy + pad) * kr)};
        }
        /* start[c] is now cell c's end, so B[c] its first event */
        float *It = I + (size_t)t * L->n_out;
        for (int ix = 0; ix < Wd; ix++) {
            const uint32_t *col = B + (size_t)ix * H, b = col[0], n = col[H] - b;
            if (!n)
                continue;
            int kx0, kx1; /* the column's taps: outputs ox = ix + pad − kx inside [0, Wo) */
            sbp_conv_taps_s1(ix, pad, k, Wo, &kx0, &kx1);
            if (kx0 > kx1)
                continue;
            const int r0 = k - 1 - kx1, ox0 = ix + pad - kx1;
            const size_t len = (size_t)(kx1 - kx0 + 1) * C;
            column_dispatch((int)((len + 15) / 16), unit, It + (size_t)ox0 * C, (size_t)Wo * C,
                            sorted + b, (int)n, col, b, H, Wt + (size_t)r0 * C, kr, len, k,
                            pad, Ho);
        }
    }
}
#endif

int sbp_conv_forward_cols(float *I, const sbp_events *ev, const float *Wt, const sbp_layer *L,
                          int tc, float *ws)
{
#ifdef SBP_RUNS_AVX512
    if (sbp_conv_cols_usable(L)) {
        forward_cols(I, ev, Wt, L, tc, ws);
        return 1;
    }
#endif
    (void)I, (void)ev, (void)Wt, (void)L, (void)tc, (void)ws;
    return 0;
}
