/*
 * neuron_pool.c — a spiking convolution layer's neurons and the 2×2 average pooling above them
 * in one pass, forward and exact backward (AVX-512).
 *
 * Apart, the neurons store every step's spikes (tc, H, W, C) as floats — on Zen 4 those stores
 * bound the neuron kernel — and the pooling reads them back to sum each 2×2 window. Here the
 * neurons of two image rows advance together, vector by vector, with their state in registers
 * over the chunk's steps as in backend/host/neuron.c; each step the two rows' spikes are added
 * in registers and stored once into a small row of vertical sums, from which the pooling adds
 * horizontal neighbours: half the stores of the neurons' output, and no pass over it.
 *
 * The same neuron arithmetic as the host kernel, operation by operation (u = v + I; s = u > θ;
 * v = s ? 0 : λ·u; γ += s; LF = λ·LF + s), so the same v, γ, LF and spike bits. The pooled
 * current is 0.25·((a + c) + (b + d)) where the pooling layer computes 0.25·(((a + b) + c) + d):
 * the spikes are 0 or 1, whose sums are exact in any order — the same bits. (With a dropout
 * mask the spikes are scaled and the order would matter: not done here.) Checked against the
 * two kernels it replaces by tests/test_kernels.c.
 */
#include "backend/cpu/neuron_pool.h"

#include "core/cpu.h"
#include "core/runs.h"

#include <string.h>

/* Floats of one image row, padded to whole vectors. */
static size_t row16(const sbp_layer *L)
{
    return ((size_t)L->out_w * L->out_c + 15) & ~(size_t)15;
}

size_t sbp_neuron_pool_scratch(const sbp_layer *L, int tc)
{
    return (size_t)tc * row16(L) + 16;
}

#ifdef SBP_RUNS_AVX512

/* The pooling windows that hold a neuron outside the quiet margins (sbp_neuron_state.quiet):
 * pooled rows [py0, py1), columns [px0, px1) (none: py0 = py1 = 0). The others' neurons keep
 * V = 0 and never fire, so both directions skip them and write the zeros they would. The
 * neurons stepped in each of those rows run from a whole 16-neuron word (where the bits go),
 * i0, to the end of the last window's pixel, i1. */
typedef struct quiet_windows {
    int py0, py1;
    size_t px0, px1, i0, i1;
} quiet_windows;

static void windows(quiet_windows *w, const sbp_neuron_state *st, const sbp_layer *L)
{
    const int *q = st->quiet;
    const size_t C = (size_t)L->out_c;
    w->py0 = q[0] / 2, w->py1 = (L->out_h - q[1] + 1) / 2;
    w->px0 = (size_t)q[2] / 2, w->px1 = ((size_t)(L->out_w - q[3]) + 1) / 2;
    if (w->py0 >= w->py1 || w->px0 >= w->px1)
        w->py0 = w->py1 = 0, w->px0 = w->px1 = 0;
    w->i0 = (2 * w->px0 * C) & ~(size_t)15, w->i1 = 2 * w->px1 * C;
}

/* NV vectors of each of two image rows (r0, r1 = r0 + row) from neuron i on, over the chunk:
 * KEEP as in the host kernel (1 γ, 2 LF, 4 spike bits). The rows' current of step t at
 * I + t·is (row r0, then r1 a row further). sum[t·stride + i …] = the two rows' spikes added,
 * per step. full: whole vectors, else the masked last one (live lanes). */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void row_pair(
    const int NV, const int KEEP, float *sum, size_t stride, const float *I, size_t is, size_t n,
    sbp_neuron_state *st, size_t r0, size_t row, size_t i, __m512 vl, __m512 vth, int t0, int tc,
    const int full, __mmask16 live)
{
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    const size_t words = sbp_spike_row_words(n);
#define LOAD(p) (full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(live, p))
#define STORE(p, x) (full ? _mm512_storeu_ps(p, x) : _mm512_mask_storeu_ps(p, live, x))
    __m512 v[2][4], c[2][4], lf[2][4];
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < NV; j++) {
            const size_t k = r0 + r * row + i + 16 * (size_t)j;
            v[r][j] = LOAD(st->v + k);
            c[r][j] = KEEP & 1 ? LOAD(st->count + k) : zero;
            lf[r][j] = KEEP & 2 ? LOAD(st->trace + k) : zero;
        }
    for (int t = 0; t < tc; t++) {
        const float *It = I + (size_t)t * is;
        __mmask16 s[2][4];
        for (int r = 0; r < 2; r++)
            for (int j = 0; j < NV; j++) {
                const size_t k = r0 + r * row + i + 16 * (size_t)j;
                const __m512 u = _mm512_add_ps(v[r][j], LOAD(It + (k - r0)));
                s[r][j] = _mm512_mask_cmp_ps_mask(live, u, vth, _CMP_GT_OQ);
                v[r][j] = _mm512_maskz_mul_ps((__mmask16)~s[r][j], vl, u);
                if (KEEP & 1)
                    c[r][j] = _mm512_mask_add_ps(c[r][j], s[r][j], c[r][j], one);
                if (KEEP & 2)
                    lf[r][j] = _mm512_add_ps(_mm512_mul_ps(vl, lf[r][j]),
                                             _mm512_maskz_mov_ps(s[r][j], one));
                if (KEEP & 4) /* image rows of whole 16-neuron words (usable below) */
                    ((uint16_t *)(void *)(st->bits + (size_t)(t0 + t) * words))[k / 16] =
                        s[r][j];
            }
        for (int j = 0; j < NV; j++)
            _mm512_storeu_ps(sum + (size_t)t * stride + i + 16 * (size_t)j,
                             _mm512_add_ps(_mm512_maskz_mov_ps(s[0][j], one),
                                           _mm512_maskz_mov_ps(s[1][j], one)));
    }
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < NV; j++) {
            const size_t k = r0 + r * row + i + 16 * (size_t)j;
            STORE(st->v + k, v[r][j]);
            if (KEEP & 1)
                STORE(st->count + k, c[r][j]);
            if (KEEP & 2)
                STORE(st->trace + k, lf[r][j]);
        }
#undef LOAD
#undef STORE
}

/* A pooled row's windows, np of them from o (C channels, NV vectors each, the last masked):
 * o = 0.25·(s[2p] + s[2p + 1]) channel by channel; NV a constant where it can be, so that the
 * masks are worked out once, not per window and vector. */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void windows_row(const int NV, float *o,
                                                            const float *s, size_t np, size_t C,
                                                            __m512 q)
{
    const __mmask16 last = sbp_lanes_mask(C - 16 * (size_t)(NV - 1));
    for (size_t p = 0; p < np; p++, o += C, s += 2 * C)
        for (int j = 0; j < NV; j++) {
            const __mmask16 m = j < NV - 1 ? (__mmask16)0xFFFF : last;
            const __m512 a = _mm512_maskz_loadu_ps(m, s + 16 * j);
            const __m512 b = _mm512_maskz_loadu_ps(m, s + C + 16 * j);
            _mm512_mask_storeu_ps(o + 16 * j, m, _mm512_mul_ps(q, _mm512_add_ps(a, b)));
        }
}

/* With src, I is not read: the two image rows of each pooled row come from src into `rows`
 * (tc steps of two rows, in L1) just before their neurons read them. */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void forward(const int KEEP, float *P, const float *I,
                                                        const sbp_current_rows *src,
                                                        sbp_neuron_state *st, const sbp_layer *L,
                                                        int t0, int tc, float *sum)
{
    const size_t C = (size_t)L->out_c, n = L->n_out, row = (size_t)L->out_w * C;
    const size_t stride = row16(L), Wo = (size_t)L->out_w / 2, orow = Wo * C, on = n / 4;
    const __m512 vl = _mm512_set1_ps(L->leak), vth = _mm512_set1_ps(L->threshold);
    const __m512 q = _mm512_set1_ps(0.25f);
    /* only the windows that hold a neuron outside the quiet margins; the others' currents 0 */
    quiet_windows w;
    windows(&w, st, L);
    for (int t = 0; t < tc; t++) {
        float *Pt = P + (size_t)t * on;
        memset(Pt, 0, (size_t)w.py0 * orow * sizeof(float));
        memset(Pt + (size_t)w.py1 * orow, 0, (on - (size_t)w.py1 * orow) * sizeof(float));
        if (w.px0 > 0 || w.px1 < Wo)
            for (int py = w.py0; py < w.py1; py++) {
                memset(Pt + (size_t)py * orow, 0, w.px0 * C * sizeof(float));
                memset(Pt + (size_t)py * orow + w.px1 * C, 0, (Wo - w.px1) * C * sizeof(float));
            }
    }
    float *rows = sum + (size_t)tc * stride;
    for (int py = w.py0; py < w.py1; py++) {
        const size_t r0 = (size_t)(2 * py) * row;
        const float *Ir = rows;
        size_t is = 2 * row;
        if (src)
            src->fill(rows, 2 * row, 2 * py, 2, tc, src->ctx);
        else
            Ir = I + r0, is = n;
        /* two vectors of both rows at a time: four independent chains, as the host kernel's
         * four vectors; in inference (nothing kept) four of both rows, eight chains (Emerald
         * Rapids, LeNet inference 1 thread: best batches 1.037×, 5 pairs; with γ, LF and bits
         * kept the registers run out: exact training 0.95×) */
        size_t i = w.i0;
        for (; KEEP == 0 && i + 64 <= w.i1; i += 64)
            row_pair(4, KEEP, sum, stride, Ir, is, n, st, r0, row, i, vl, vth, t0, tc, 1, 0xFFFF);
        for (; i + 32 <= w.i1; i += 32)
            row_pair(2, KEEP, sum, stride, Ir, is, n, st, r0, row, i, vl, vth, t0, tc, 1, 0xFFFF);
        for (; i + 16 <= w.i1; i += 16)
            row_pair(1, KEEP, sum, stride, Ir, is, n, st, r0, row, i, vl, vth, t0, tc, 1, 0xFFFF);
        if (i < w.i1)
            row_pair(1, KEEP, sum, stride, Ir, is, n, st, r0, row, i, vl, vth, t0, tc, 0,
                     sbp_tail_mask(w.i1 - i));
        /* the windows: horizontal neighbours of the vertical sums */
        for (int t = 0; t < tc; t++) {
            const float *s = sum + (size_t)t * stride + 2 * w.px0 * C;
            float *o = P + (size_t)t * on + (size_t)py * orow + w.px0 * C;
            switch (C <= 64 ? (C + 15) / 16 : 0) { /* the vectors per window a constant */
#define ROW(N)                                                                                 \
    case N:                                                                                    \
        windows_row(N, o, s, w.px1 - w.px0, C, q);                                             \
        break;
                ROW(1) ROW(2) ROW(3) ROW(4)
#undef ROW
            default: /* wider: the vector count at run time */
                windows_row((int)((C + 15) / 16), o, s, w.px1 - w.px0, C, q);
            }
        }
    }
}

static SBP_TARGET_AVX512 void forward_keep(float *P, const float *I, const sbp_current_rows *src,
                                           sbp_neuron_state *st, const sbp_layer *L, int t0,
                                           int tc, float *ws)
{
    /* what is kept, compile-time cases as in the host kernel */
    switch ((st->count ? 1 : 0) | (st->trace ? 2 : 0) | (st->bits ? 4 : 0)) {
#define KEEP_CASE(K)                                                                           \
    case K:                                                                                    \
        forward(K, P, I, src, st, L, t0, tc, ws);                                              \
        break;
        KEEP_CASE(0) KEEP_CASE(1) KEEP_CASE(2) KEEP_CASE(3)
        KEEP_CASE(4) KEEP_CASE(5) KEEP_CASE(6) KEEP_CASE(7)
#undef KEEP_CASE
    }
}

/* ---------------------------------------------------------------- backward (exact mode)
 *
 * Apart, the pooling's backward writes every input's gradient, 0.25·gP of its window, four
 * times per pooled value (tc, H, W, C), and the neurons' backward reads it back. Here each
 * pooled row's 0.25·gP is written once into a row of the full width (each value twice, side
 * by side), which both image rows of its windows read from L1. The same values (the pooling
 * computes 0.25·gP too) and the host kernel's recursion: the same bits. */

/* The spike bits of 16 neurons from bit k of a step's row (any k: across two words). */
static SBP_ALWAYS_INLINE __mmask16 bits16(const uint64_t *row, size_t k, const int full,
                                          __mmask16 live)
{
    const unsigned sh = (unsigned)(k & 63);
    uint64_t w = row[k >> 6] >> sh;
    if (sh > 48 && (full || sh + (unsigned)__builtin_popcount(live) > 64))
        w |= row[(k >> 6) + 1] << (64 - sh);
    return (__mmask16)w & live;
}

/* NV vectors of both image rows from neuron i on, steps from last to first, the carry in a
 * register (backend/host/neuron.c: backward_vector); gy[t·stride + i …] the expanded row. The
 * rows' gradient of step t at gr + t·gs (row r0, then r1 a row further). */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void row_pair_backward(
    const int NV, float *gr, size_t gs, const float *gy, size_t stride, const float *factor,
    sbp_neuron_state *st, size_t n, size_t r0, size_t row, size_t i, int t0, int tc,
    const int full, __mmask16 live)
{
    const size_t words = sbp_spike_row_words(n);
    __m512 c[2][2], f[2][2];
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < NV; j++) {
            const size_t k = r0 + r * row + i + 16 * (size_t)j;
            c[r][j] = full ? _mm512_loadu_ps(st->carry + k)
                           : _mm512_maskz_loadu_ps(live, st->carry + k);
            f[r][j] = full ? _mm512_loadu_ps(factor + k) : _mm512_maskz_loadu_ps(live, factor + k);
        }
    for (int t = tc - 1; t >= 0; t--) {
        const uint64_t *bits = st->bits + (size_t)(t0 + t) * words;
        const float *g = gy + (size_t)t * stride + i;
        for (int r = 0; r < 2; r++)
            for (int j = 0; j < NV; j++) {
                const size_t k = r0 + r * row + i + 16 * (size_t)j;
                const __mmask16 s = bits16(bits, k, full, live);
                c[r][j] = _mm512_mask_mul_ps(c[r][j], s, f[r][j],
                                             _mm512_maskz_loadu_ps(s, g + 16 * (size_t)j));
                float *o = gr + (size_t)t * gs + r * row + i + 16 * (size_t)j;
                if (full)
                    _mm512_storeu_ps(o, c[r][j]);
                else
                    _mm512_mask_storeu_ps(o, live, c[r][j]);
            }
    }
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < NV; j++) {
            const size_t k = r0 + r * row + i + 16 * (size_t)j;
            if (full)
                _mm512_storeu_ps(st->carry + k, c[r][j]);
            else
                _mm512_mask_storeu_ps(st->carry + k, live, c[r][j]);
        }
}

/* gI (tc, n) — or, with dst, two image rows at a time into a buffer after gy that stays in L1,
 * handed to dst as they are made (rows outside the windows are 0 and not handed over). */
static SBP_TARGET_AVX512 void backward(float *gI, const sbp_grad_rows *dst, const float *gP,
                                       const float *factor, sbp_neuron_state *st,
                                       const sbp_layer *L, int t0, int tc, float *gy)
{
    const size_t C = (size_t)L->out_c, n = L->n_out, row = (size_t)L->out_w * C;
    const size_t stride = row16(L), Wo = (size_t)L->out_w / 2, orow = Wo * C, on = n / 4;
    const __m512 q = _mm512_set1_ps(0.25f);
    /* outside the quiet margins' windows (as forward) no neuron fired: their gradient is the
     * carry they never set, 0 — written, not worked out */
    quiet_windows w;
    windows(&w, st, L);
    float *buf = gy + (size_t)tc * stride;
    if (dst) /* the windows' columns are the same for every row pair: zeros outside them */
        memset(buf, 0, 2 * (size_t)tc * row * sizeof(float));
    for (int t = 0; !dst && w.py0 < w.py1 && t < tc; t++)
        for (int py = w.py0; py < w.py1; py++) {
            float *g = gI + (size_t)t * n + (size_t)(2 * py) * row;
            for (int r = 0; r < 2; r++, g += row) {
                memset(g, 0, w.i0 * sizeof(float));
                memset(g + w.i1, 0, (row - w.i1) * sizeof(float));
            }
        }
    for (int t = 0; !dst && t < tc; t++) {
        memset(gI + (size_t)t * n, 0, (size_t)(2 * w.py0) * row * sizeof(float));
        memset(gI + (size_t)t * n + (size_t)(2 * w.py1) * row, 0,
               (n - (size_t)(2 * w.py1) * row) * sizeof(float));
    }
    for (int py = w.py0; py < w.py1; py++) {
        for (int t = 0; t < tc; t++) { /* the pooled row, widened */
            const float *g = gP + (size_t)t * on + (size_t)py * orow + w.px0 * C;
            float *e = gy + (size_t)t * stride;
            for (size_t px = w.px0; px < w.px1; px++, g += C)
                for (size_t k = 0; k < C; k += 16) {
                    const __mmask16 m = sbp_lanes_mask(C - k);
                    const __m512 v = _mm512_mul_ps(q, _mm512_maskz_loadu_ps(m, g + k));
                    _mm512_mask_storeu_ps(e + 2 * px * C + k, m, v);
                    _mm512_mask_storeu_ps(e + (2 * px + 1) * C + k, m, v);
                }
        }
        const size_t r0 = (size_t)(2 * py) * row;
        float *gr = dst ? buf : gI + r0;
        const size_t gs = dst ? 2 * row : n;
        size_t i = w.i0;
        for (; i + 32 <= w.i1; i += 32)
            row_pair_backward(2, gr, gs, gy, stride, factor, st, n, r0, row, i, t0, tc, 1,
                              0xFFFF);
        for (; i + 16 <= w.i1; i += 16)
            row_pair_backward(1, gr, gs, gy, stride, factor, st, n, r0, row, i, t0, tc, 1,
                              0xFFFF);
        if (i < w.i1)
            row_pair_backward(1, gr, gs, gy, stride, factor, st, n, r0, row, i, t0, tc, 0,
                              sbp_tail_mask(w.i1 - i));
        if (dst)
            dst->take(buf, gs, 2 * py, 2, tc, dst->ctx);
    }
}

/* What both directions need: AVX-512, spiking neurons on an even map, and the 2×2 pooling of
 * exactly that map above them. */
static int pair_usable(const sbp_layer *L, const sbp_layer *Pl)
{
    return sbp_use_avx512() && L->neuron != SBP_NEURON_INTEGRATOR &&
           Pl->spec.kind == SBP_LAYER_POOL && L->out_h % 2 == 0 && L->out_w % 2 == 0 &&
           Pl->in_h == L->out_h && Pl->in_w == L->out_w && Pl->in_c == L->out_c;
}
#endif

int sbp_neuron_pool_forward_applies(const sbp_neuron_state *st, const sbp_layer *L,
                                    const sbp_layer *Pl)
{
#ifdef SBP_RUNS_AVX512
    return pair_usable(L, Pl) && !st->mask &&
           !(st->bits && ((size_t)L->out_w * L->out_c) % 16);
#else
    (void)st, (void)L, (void)Pl;
    return 0;
#endif
}

size_t sbp_neuron_pool_rows_scratch(const sbp_layer *L, int tc)
{
    return sbp_neuron_pool_scratch(L, tc) + 2 * (size_t)tc * L->out_w * L->out_c + 16;
}

/* Both entries: the current from I, or (I NULL) from src. */
static int forward_from(float *P, const float *I, const sbp_current_rows *src,
                        sbp_neuron_state *st, const sbp_layer *L, const sbp_layer *Pl, int t0,
                        int tc, float *ws)
{
#ifdef SBP_RUNS_AVX512
    if (!sbp_neuron_pool_forward_applies(st, L, Pl))
        return 0;
    forward_keep(P, I, src, st, L, t0, tc, ws);
    return 1;
#else
    (void)P, (void)I, (void)src, (void)st, (void)L, (void)Pl, (void)t0, (void)tc, (void)ws;
    return 0;
#endif
}

int sbp_neuron_pool_forward(float *P, const float *I, sbp_neuron_state *st, const sbp_layer *L,
                            const sbp_layer *Pl, int t0, int tc, float *ws)
{
    return forward_from(P, I, NULL, st, L, Pl, t0, tc, ws);
}

int sbp_neuron_pool_forward_rows(float *P, const sbp_current_rows *src, sbp_neuron_state *st,
                                 const sbp_layer *L, const sbp_layer *Pl, int t0, int tc,
                                 float *ws)
{
    return forward_from(P, NULL, src, st, L, Pl, t0, tc, ws);
}

/* Both entries: gI for the whole chunk, or (gI NULL) two rows at a time to dst. */
static int backward_to(float *gI, const sbp_grad_rows *dst, const float *gP,
                       const float *factor, sbp_neuron_state *st, const sbp_layer *L,
                       const sbp_layer *Pl, int t0, int tc, float *ws)
{
#ifdef SBP_RUNS_AVX512
    if (!pair_usable(L, Pl))
        return 0;
    backward(gI, dst, gP, factor, st, L, t0, tc, ws);
    return 1;
#else
    (void)gI, (void)dst, (void)gP, (void)factor, (void)st, (void)L, (void)Pl, (void)t0,
        (void)tc, (void)ws;
    return 0;
#endif
}

int sbp_neuron_pool_backward(float *gI, const float *gP, const float *factor,
                             sbp_neuron_state *st, const sbp_layer *L, const sbp_layer *Pl,
                             int t0, int tc, float *ws)
{
    return backward_to(gI, NULL, gP, factor, st, L, Pl, t0, tc, ws);
}

int sbp_neuron_pool_backward_rows(const sbp_grad_rows *dst, const float *gP,
                                  const float *factor, sbp_neuron_state *st, const sbp_layer *L,
                                  const sbp_layer *Pl, int t0, int tc, float *ws)
{
    return backward_to(NULL, dst, gP, factor, st, L, Pl, t0, tc, ws);
}
