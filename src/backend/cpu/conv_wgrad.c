/*
 * conv_wgrad.c — the event-driven convolution backward with its weight gradient held in
 * registers (AVX-512, stride 1).
 *
 * The scatter backward (conv.c) adds, for every input event and kernel row, v·g over the run
 * of outputs the event fed into the run of dWt rows of its channel and kernel row: a
 * read-modify-write of dWt per vector, and with dWt (k·k·Cin·Cout floats) spread over L1 and L2
 * the stores bound it (bench/bound.c: 1.83 ns per vector against 0.35 for a load and add into
 * registers). Here the events are first sorted by channel (stably, so each channel keeps the
 * order of the lists); then for each (channel, kernel row) the k·Cout floats of dWt it owns stay
 * in up to 16 vector registers while that channel's events stream their runs of g through, and
 * are stored once. An event's run starts at the kernel row's first tap; taps that fall outside
 * the output map are masked off. Every dWt element receives the same products in the same order
 * as in the scatter, and dx is the scatter's dot product (sbp_dot_avx512) added over the kernel
 * rows in the same order, so both are the scatter's bits (tests/test_kernels.c).
 *
 * Written with intrinsics because the accumulators must stay in registers: the vector count is
 * a compile-time constant per case, as in conv_pull.c.
 */
#include "backend/cpu/conv.h"

#include "backend/cpu/events.h"
#include "core/cpu.h"
#include "core/divide.h"
#include "core/runs.h"

#include <stdint.h>
#include <string.h>

#define MAX_VECS 16 /* k·Cout ≤ 256 floats */

/* One event of a channel (8 bytes: maps up to 256 × 256, chunks up to 65,536 steps). */
typedef struct {
    float v;        /* the event's value */
    uint16_t t;     /* step in the chunk */
    uint8_t iy, ix; /* its pixel */
} event_rec;

/* Where the channel counts start in the scratch: after the event lists, on a 64-byte line. */
static size_t lists_end(const sbp_layer *L, int tc)
{
    return (sbp_events_scratch(L->n_in, tc) + 15) & ~(size_t)15;
}

size_t sbp_conv_wgrad_scratch(const sbp_layer *L, int tc)
{
    /* the lists, the records by channel and their counts, then a channel's events' dx */
    const size_t n = L->n_in * (size_t)tc;
    return lists_end(L, tc) + (n * sizeof(event_rec) + (L->in_c + 1) * sizeof(size_t)) / 4 + n +
           16;
}

int sbp_conv_wgrad_usable(const sbp_layer *L)
{
#ifdef SBP_RUNS_AVX512
    return sbp_use_avx512() && L->spec.stride == 1 &&
           (size_t)L->spec.kernel * L->out_c <= 16 * MAX_VECS && L->in_h <= 256 && L->in_w <= 256;
#else
    (void)L;
    return 0;
#endif
}

#ifdef SBP_RUNS_AVX512

/* Lanes of vector j that hold floats [lo, hi) of a run. */
static inline __mmask16 lanes(int j, int lo, int hi)
{
    int a = lo - 16 * j, b = hi - 16 * j;
    a = a < 0 ? 0 : a;
    b = b > 16 ? 16 : b;
    return a >= b ? 0 : (__mmask16)(((1u << b) - 1u) & ~((1u << a) - 1u));
}

/* One (channel, kernel row): dWt run dw (k·C floats, NV vectors) += v·g over the channel's n
 * events; with DX 1, dx[e] (one float per event: backward_wgrad adds them into the map) += the
 * dot product of event e's run of W and g (DX 0: no dx; 2: no dx, g a few rows, as described
 * at gs below). PAIRS: 2·⌊k·C/32⌋, the vectors sbp_dot_avx512 takes two at a time over a
 * whole run.
 *
 * The loop over the events keeps its NV accumulators in registers, which took three things
 * (GCC had kept them on the stack, a load and a store per vector and event: LeNet's 20 → 50
 * exact backward 1.90 → 1.70 ms per image, bench/results-2026-12-05d-cpu.md): named
 * variables instead of an array, DX and PAIRS as compile-time constants, and no call of
 * sbp_dot_avx512 inside it — an event whose run the map's edge cuts is noted in `edge` (room
 * for n) and its dot product (the scatter's, over the cut run) formed after the loop. Every
 * dx element still receives one add per kernel row, in kernel-row order, so the same bits. */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void channel_row(
    const int NV, const int PAIRS, const int DX, float *dw, const float *wrow,
    const event_rec *rec, size_t n, uint32_t *edge, float *dx, const float *gI, size_t gstride,
    int oyoff, const sbp_layer *L, int ky)
{
    const int k = L->spec.kernel, pad = L->spec.pad;
    const int Ho = L->out_h, Wo = L->out_w, C = L->out_c;
    const int run = k * C;
    /* DX 2: the gradient's rows from oyoff on, step t at gI + t·gstride (wgrad_rows); else the
     * whole chunk's, its stride a field of L as before these two parameters came */
    const size_t gs = DX == 2 ? gstride : L->n_out;
    const int oyo = DX == 2 ? oyoff : 0;
    const __mmask16 last = run % 16 ? sbp_tail_mask((size_t)(run % 16)) : (__mmask16)0xFFFF;
    size_t nedge = 0;
    /* sixteen named accumulators, not an array: GCC kept an array of them on the stack */
#define J16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define DECL(J) __m512 a##J = _mm512_setzero_ps();
    J16(DECL)
#undef DECL
#define LOAD(J)                                                                                \
    if (J < NV)                                                                                \
        a##J = _mm512_maskz_loadu_ps(J < NV - 1 ? (__mmask16)0xFFFF : last, dw + 16 * J);
    J16(LOAD)
#undef LOAD
    for (size_t e = 0; e < n; e++) {
        const int iy = rec[e].iy, ix = rec[e].ix;
        const int oy = iy + pad - ky;
        if (oy < 0 || oy >= Ho)
            continue;
        int kx0, kx1; /* taps with outputs inside the map: run positions r = k − 1 − kx */
        sbp_conv_taps_s1(ix, pad, k, Wo, &kx0, &kx1);
        if (kx0 > kx1)
            continue;
        const int r0 = k - 1 - kx1, r1 = k - 1 - kx0;
        const float *gt = gI + (size_t)rec[e].t * gs;
        /* run position r = 0 is output ox = ix + pad − k + 1, which may lie left of the map:
         * its address is formed as an integer and only the lanes inside are loaded */
        const intptr_t g0 = ((intptr_t)(oy - oyo) * Wo + (ix + pad - k + 1)) * C;
        const float *g = (const float *)((uintptr_t)gt + (uintptr_t)(g0 * (intptr_t)sizeof(float)));
        const __m512 vv = _mm512_set1_ps(rec[e].v);
        if (r0 == 0 && r1 == k - 1) {
            /* the whole run: the scatter's vectors exactly, so its dot product can be formed
             * in this pass — pairs of vectors into d0 and d1, the rest into d0 */
            __m512 d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps();
            /* J and PAIRS are constants: each product of the dot costs one add */
#define FULL(J)                                                                                \
    if (J < NV) {                                                                              \
        const __mmask16 m = J < NV - 1 ? (__mmask16)0xFFFF : last;                             \
        const __m512 gj = _mm512_maskz_loadu_ps(m, g + 16 * J);                                \
        a##J = _mm512_add_ps(a##J, _mm512_mul_ps(vv, gj));                                     \
        if (DX == 1) {                                                                         \
            const __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, wrow + 16 * J), gj);       \
            if (J % 2 && J < PAIRS)                                                            \
                d1 = _mm512_add_ps(d1, p);                                                     \
            else                                                                               \
                d0 = _mm512_add_ps(d0, p);                                                     \
        }                                                                                      \
    }
            J16(FULL)
#undef FULL
            if (DX == 1)
                dx[e] += _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
        } else {
            const int lo = r0 * C, hi = (r1 + 1) * C;
#define CUT(J)                                                                                 \
    if (J < NV) {                                                                              \
        const __mmask16 m = lanes(J, lo, hi);                                                  \
        a##J = _mm512_mask_add_ps(a##J, m, a##J,                                               \
                                  _mm512_mul_ps(vv, _mm512_maskz_loadu_ps(m, g + 16 * J)));     \
    }
            J16(CUT)
#undef CUT
            if (DX == 1) /* its dot product after the loop (the accumulators stay in registers) */
                edge[nedge++] = (uint32_t)e;
        }
    }
#define STORE(J)                                                                               \
    if (J < NV - 1)                                                                            \
        _mm512_storeu_ps(dw + 16 * J, a##J);                                                   \
    else if (J == NV - 1)                                                                      \
        _mm512_mask_storeu_ps(dw + 16 * J, last, a##J);
    J16(STORE)
#undef STORE
#undef J16
    /* the cut runs' dot products: the scatter's, over the run from its first valid tap */
    for (size_t q = 0; DX == 1 && q < nedge; q++) {
        const event_rec *r = &rec[edge[q]];
        const int oy = r->iy + pad - ky;
        int kx0, kx1;
        sbp_conv_taps_s1(r->ix, pad, k, Wo, &kx0, &kx1);
        const int r0 = k - 1 - kx1, r1 = k - 1 - kx0;
        const float *gt = gI + (size_t)r->t * gs;
        dx[edge[q]] +=
            sbp_dot_avx512(wrow + (size_t)r0 * C,
                           gt + ((size_t)(oy - oyo) * Wo + (r->ix + pad - kx1)) * C,
                           (size_t)(r1 - r0 + 1) * C);
    }
}

static SBP_TARGET_AVX512 void channel_row_dispatch(int nv, float *dw, const float *wrow,
                                                   const event_rec *rec, size_t n,
                                                   uint32_t *edge, float *dx, const float *gI,
                                                   size_t gstride, int oyoff,
                                                   const sbp_layer *L, int ky)
{
    /* 2·⌊k·Cout/32⌋, a constant per case: NV − 1 for odd NV, NV or NV − 2 for even */
    const int pairs = 2 * (L->spec.kernel * L->out_c / 32);
    switch (nv) {
#define ROW(N, P)                                                                              \
    if (dx)                                                                                    \
        channel_row(N, P, 1, dw, wrow, rec, n, edge, dx, gI, gstride, oyoff, L, ky);           \
    else if (gstride != L->n_out || oyoff)                                                     \
        channel_row(N, P, 2, dw, wrow, rec, n, edge, dx, gI, gstride, oyoff, L, ky);           \
    else                                                                                       \
        channel_row(N, P, 0, dw, wrow, rec, n, edge, dx, gI, gstride, oyoff, L, ky);
#define CASE(N)                                                                                \
    case N:                                                                                    \
        if (N % 2 == 0 && pairs == N) {                                                        \
            ROW(N, N)                                                                          \
        } else {                                                                               \
            ROW(N, N % 2 ? N - 1 : N - 2)                                                      \
        }                                                                                      \
        break;
        SBP_VECTOR_COUNTS(CASE)
#undef CASE
#undef ROW
    }
}

static SBP_TARGET_AVX512 void backward_wgrad(float *dx, float *dWt, const float *gI,
                                             const float *x, sbp_events *ev, const float *Wt,
                                             const sbp_layer *L, int tc, float *ws)
{
    const int k = L->spec.kernel, Ci = L->in_c, C = L->out_c;
    size_t nev = ev ? ev->off[tc] : 0;
    if (!ev) /* x's lists, unless given */
        ev = sbp_events_build(ws, x, L->n_in, tc, &nev);
    /* the events sorted by channel, stably: counts, offsets, then a pass in list order */
    size_t *start = (size_t *)(void *)(ws + lists_end(L, tc));
    event_rec *rec = (event_rec *)(void *)(start + Ci + 1);
    /* a channel's cut runs (channel_row): in the lists' index array, free once rec is made
     * (a scratch of its own moved VGG9's buffers and cost its inference 20 %, bench/) */
    uint32_t *edge = ev->idx;
    const sbp_divider by_ci = sbp_divider_make((uint32_t)Ci);
    const sbp_divider by_w = sbp_divider_make((uint32_t)L->in_w);
    memset(start, 0, sizeof(size_t) * ((size_t)Ci + 1));
    for (size_t e = 0; e < nev; e++) {
        const uint32_t i = ev->idx[e];
        start[sbp_mod_q(i, sbp_div(i, by_ci), by_ci) + 1]++;
    }
    for (int c = 0; c < Ci; c++)
        start[c + 1] += start[c];
    for (int t = 0; t < tc; t++)
        for (size_t e = ev->off[t]; e < ev->off[t + 1]; e++) {
            const uint32_t i = ev->idx[e];
            const uint32_t pix = sbp_div(i, by_ci), iy = sbp_div(pix, by_w);
            rec[start[sbp_mod_q(i, pix, by_ci)]++] =
                (event_rec){ev->val[e], (uint16_t)t, (uint8_t)iy,
                            (uint8_t)sbp_mod_q(pix, iy, by_w)};
        }
    /* start[c] is now channel c's end, so channel c runs from start[c − 1] (0 for c = 0) */
    if (dx)
        memset(dx, 0, sizeof(float) * (size_t)tc * L->n_in);
    const int nv = (k * C + 15) / 16;
    /* each event's dx summed over the kernel rows in a run of its own (its channel's events in
     * order, in L1) and added to dx once: the kernel rows' passes would each add into the
     * (step, pixel, channel) map at scattered places (bench/results-2026-12-06f-cpu.md). The
     * same additions in the same order — ((0 + row 0) + row 1) … — so the same bits. */
    float *dxe = (float *)(void *)(rec + nev);
    const size_t Wd = (size_t)L->in_w;
    for (int c = 0; c < Ci; c++) {
        const size_t b = c ? start[c - 1] : 0, n = start[c] - b;
        if (!n)
            continue;
        if (dx)
            memset(dxe, 0, n * sizeof(float));
        for (int ky = 0; ky < k; ky++) {
            const size_t row = sbp_conv_wt(L, c, ky, 0);
            channel_row_dispatch(nv, dWt + row, Wt + row, rec + b, n, edge, dx ? dxe : NULL, gI,
                                 L->n_out, 0, L, ky);
        }
        for (size_t e = 0; dx && e < n; e++) {
            const event_rec *r = &rec[b + e];
            dx[(size_t)r->t * L->n_in + ((size_t)r->iy * Wd + r->ix) * (size_t)Ci + (size_t)c] +=
                dxe[e];
        }
    }
}
#endif

/* ---------------------------------------------------------------- a few output rows at a time
 *
 * For a caller that makes the output gradient two rows at a time (conv_neuron_pool.c: the
 * first layer's neurons' backward into an L1 buffer) and never the whole chunk's: a layer of one
 * input channel and no input gradient, its events sorted by input row (stably: then by step,
 * then by column), so that those feeding output rows oy0 … oy0 + rows − 1 through kernel row ky
 * are one run of them, which channel_row walks. Each dWt element receives the same products
 * as in backward_wgrad, in another order (by output row pair, then input row, step, column). */

/* After the event lists: the rows' starts (in_h + 1), then the events by row. */
size_t sbp_conv_wgrad_rows_scratch(const sbp_layer *L, int tc)
{
    const size_t n = L->n_in * (size_t)tc;
    return lists_end(L, tc) + (n * sizeof(event_rec) + (L->in_h + 1) * sizeof(size_t)) / 4 + 16;
}

int sbp_conv_wgrad_rows_prepare(float *ws, const float *x, const sbp_layer *L, int tc,
                                size_t *count)
{
#ifdef SBP_RUNS_AVX512
    if (!sbp_conv_wgrad_usable(L) || L->in_c != 1 || tc > 65536)
        return 0;
    size_t nev;
    const sbp_events *ev = sbp_events_build(ws, x, L->n_in, tc, &nev);
    *count = nev;
    const int H = L->in_h;
    size_t *start = (size_t *)(void *)(ws + lists_end(L, tc));
    event_rec *rec = (event_rec *)(void *)(start + H + 1);
    const sbp_divider by_w = sbp_divider_make((uint32_t)L->in_w);
    memset(start, 0, sizeof(size_t) * ((size_t)H + 1));
    for (size_t e = 0; e < nev; e++)
        start[sbp_div(ev->idx[e], by_w) + 1]++;
    for (int y = 0; y < H; y++)
        start[y + 1] += start[y];
    for (int t = 0; t < tc; t++)
        for (size_t e = ev->off[t]; e < ev->off[t + 1]; e++) {
            const uint32_t i = ev->idx[e], iy = sbp_div(i, by_w);
            rec[start[iy]++] = (event_rec){ev->val[e], (uint16_t)t, (uint8_t)iy,
                                           (uint8_t)sbp_mod_q(i, iy, by_w)};
        }
    /* start[y] is now row y's end: shifted, row y runs from start[y] to start[y + 1] */
    memmove(start + 1, start, sizeof(size_t) * (size_t)H);
    start[0] = 0;
    return 1;
#else
    (void)ws, (void)x, (void)L, (void)tc, (void)count;
    return 0;
#endif
}

#ifdef SBP_RUNS_AVX512
static SBP_TARGET_AVX512 void wgrad_rows(float *dWt, const float *g, size_t tstride, int oy0,
                                         int rows, const float *ws, const sbp_layer *L, int tc)
{
    const int k = L->spec.kernel, pad = L->spec.pad, H = L->in_h;
    const size_t *start = (const size_t *)(const void *)(ws + lists_end(L, tc));
    const event_rec *rec = (const event_rec *)(const void *)(start + H + 1);
    const int nv = (k * L->out_c + 15) / 16;
    for (int ky = 0; ky < k; ky++) {
        /* input rows iy = oy − pad + ky of the output rows asked for */
        int a = oy0 - pad + ky, b = oy0 + rows - 1 - pad + ky;
        a = a < 0 ? 0 : a;
        b = b > H - 1 ? H - 1 : b;
        if (a > b || start[b + 1] == start[a])
            continue;
        channel_row_dispatch(nv, dWt + sbp_conv_wt(L, 0, ky, 0), NULL, rec + start[a],
                             start[b + 1] - start[a], NULL, NULL, g, tstride, oy0, L, ky);
    }
}
#endif

void sbp_conv_wgrad_rows(float *dWt, const float *g, size_t tstride, int oy0, int rows,
                         const float *ws, const sbp_layer *L, int tc)
{
#ifdef SBP_RUNS_AVX512
    wgrad_rows(dWt, g, tstride, oy0, rows, ws, L, tc);
#else
    (void)dWt, (void)g, (void)tstride, (void)oy0, (void)rows, (void)ws, (void)L, (void)tc;
#endif
}

int sbp_conv_backward_wgrad_events(float *dx, float *dWt, const float *gI, const float *x,
                                   struct sbp_events *ev, const float *Wt, const sbp_layer *L,
                                   int tc, float *ws)
{
#ifdef SBP_RUNS_AVX512
    if (sbp_conv_wgrad_usable(L) && tc <= 65536) {
        backward_wgrad(dx, dWt, gI, x, ev, Wt, L, tc, ws);
        return 1;
    }
#endif
    (void)dx, (void)dWt, (void)gI, (void)x, (void)ev, (void)Wt, (void)L, (void)tc, (void)ws;
    return 0;
}

int sbp_conv_backward_wgrad(float *dx, float *dWt, const float *gI, const float *x,
                            const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    return sbp_conv_backward_wgrad_events(dx, dWt, gI, x, NULL, Wt, L, tc, ws);
}
