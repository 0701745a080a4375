/*
 * conv_sweep.c — the exact backward of a convolution over a whole window by summation by parts
 * (stride 1): work that goes with the layer's output spikes instead of its input events.
 *
 * The exact backward (§3) asks, for the window's T steps, dW = Σ_t gI[t] ⊗ x[t] and
 * dx[t] = Wᵀ gI[t]. Over a spiking layer, gI[t] = g_U[t] changes only at the neuron's own
 * spikes (g_U[t] = s[t]·g_s[t] + (1 − s[t])·g_U[t+1]: between spikes it is carried unchanged).
 * With Δ[t] = gI[t] − gI[t+1] (gI[T] = 0) and X[t] = Σ_{t' ≤ t} x[t'] (the input's counts so
 * far), Abel's summation gives
 *
 *     dW = Σ_t Δ[t] ⊗ X[t]          dx[t] = dx[t+1] + Wᵀ Δ[t]   (dx[T] = 0),
 *
 * the same sums in real arithmetic, for any gI. The event-driven backward (conv_wgrad.c) does
 * k²·Cout multiply-adds twice (dW and dx) per input event; this does k²·Cin twice per nonzero
 * Δ, at most one per output spike. LeNet's 20 → 50 layer, per image: at its initial weights
 * 7.6 k Δ against 9.1 k input events (3× fewer multiply-adds), at the recipe's final weights
 * 3.1 k against 19.5 k (16× fewer: the layers above pass gradients that hold still over much of
 * the window, so most spikes carry no change) — bench/results-2026-12-06i-cpu.md.
 *
 * The sweep walks the window backwards, as the engine does: chunks from the last, steps from the
 * chunk's last. Its state (sweep_floats part 0) holds X[t] and dx[t] as maps padded by the
 * kernel's reach (so that every Δ's k rows of k·Cin floats are whole runs, no edge cases), the
 * row gI[t0 + tc] of the chunk after, and dW in the layout of Wᵀ (part 1, made by
 * sbp_conv_sweep_weights whenever the weights change: per output channel and kernel row, the
 * run of k·Cin weights a Δ spreads), added into the kernel layout at the end. X starts as the
 * window's total (the layer below's spike counts γ, times its dropout scale) and loses each
 * step's events as the sweep passes them. With AVX-512 a step's Δ update dx by output column
 * and dW with each (channel, kernel row) run in registers; elsewhere a plain loop per Δ.
 *
 * Not the event kernels' bits (other sums, in another order): checked against the reference
 * backward over whole windows by tests/test_kernels.c and through the engine by
 * tests/test_backend.c.
 */
#include "backend/cpu/conv.h"

#include "backend/cpu/events.h"
#include "core/cpu.h"
#include "core/divide.h"
#include "core/runs.h"

#include <string.h>

/* sbp_conv_sweep_begin's weight of an output spike against an input event, per vector of
 * their runs: a Δ's runs cost about twice an event's (read-modify-writes of dx against the
 * event kernel's registers), and one spike in four (LeNet at its initial weights) to one in
 * thirteen (trained) changes gI: bench/results-2026-12-06i-cpu.md. */
#define SBP_SWEEP_COST 0.5
/* The largest layer offered (floats of its weights): sbp_conv_sweep_floats. */
#define SBP_SWEEP_MAX_WEIGHTS ((size_t)1 << 16)

/* The padded maps: rows and columns an output's window reaches (stride 1). */
static size_t map_floats(const sbp_layer *L)
{
    const size_t k = (size_t)L->spec.kernel;
    return (((size_t)L->out_h + k - 1) * ((size_t)L->out_w + k - 1) * (size_t)L->in_c + 15) &
           ~(size_t)15;
}

/* Floats of Wᵀ (and of dW in its layout): Cout · k runs of k·Cin, unpadded (runs padded to
 * whole vectors, each on a 64-byte line, made the sweep no faster measurably: 24 KiB more per
 * engine for LeNet, results-2026-12-06i-cpu.md). */
static size_t wt_floats(const sbp_layer *L)
{
    const size_t k = (size_t)L->spec.kernel;
    return ((size_t)L->out_c * k * k * (size_t)L->in_c + 15) & ~(size_t)15;
}

typedef struct sweep_state {
    float *X, *dx, *next, *dW;
    const float *Wt; /* Wᵀ: sbp_conv_sweep_weights */
} sweep_state;

static sweep_state state_at(float *s, const sbp_layer *L)
{
    sweep_state v;
    const size_t m = map_floats(L);
    v.X = s, s += m;
    v.dx = s, s += m;
    v.next = s, s += (L->n_out + 15) & ~(size_t)15;
    v.dW = s;
    v.Wt = NULL;
    return v;
}

size_t sbp_conv_sweep_floats(const sbp_layer *L, int part)
{
    /* Wᵀ and dW (twice the layer's weights per engine) within L2: over that, VGG9's 128- and
     * 256-channel layers ran at 0.82–1.21× the event kernels' speed for 17 MiB more per
     * thread (bench/results-2026-12-06i-cpu.md) */
    if (L->spec.stride != 1 || L->spec.pad >= L->spec.kernel ||
        wt_floats(L) > SBP_SWEEP_MAX_WEIGHTS)
        return 0;
    if (part) /* Wᵀ */
        return wt_floats(L);
    return 2 * map_floats(L) + ((L->n_out + 15) & ~(size_t)15) + wt_floats(L);
}

void sbp_conv_sweep_weights(float *WT, const float *Wk, const sbp_layer *L)
{
    /* Wᵀ[co][ky][kx·Cin + ci] = W[co][ci][ky][kx] (kernel layout: sbp_conv_wt, taps mirrored) */
    const int k = L->spec.kernel, Ci = L->in_c, Co = L->out_c;
    for (int co = 0; co < Co; co++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
                for (int ci = 0; ci < Ci; ci++)
                    WT[(((size_t)co * k + ky) * k + kx) * Ci + ci] =
                        Wk[sbp_conv_wt(L, ci, ky, k - 1 - kx) + (size_t)co];
}

/* Padded map index of input neuron i (channel-last (iy, ix, ci)). */
static inline size_t padded(size_t i, const sbp_layer *L, sbp_divider by_c, sbp_divider by_w)
{
    const uint32_t pix = sbp_div((uint32_t)i, by_c), iy = sbp_div(pix, by_w);
    const size_t ix = sbp_mod_q(pix, iy, by_w), ci = i - (size_t)pix * (size_t)L->in_c;
    const size_t p = (size_t)L->spec.pad, Wp = (size_t)L->out_w + (size_t)L->spec.kernel - 1;
    return (((size_t)iy + p) * Wp + ix + p) * (size_t)L->in_c + ci;
}

int sbp_conv_sweep_begin(float *state, const float *count, const float *mask,
                         const float *out_count, const sbp_layer *L)
{
    const int k = L->spec.kernel, Ci = L->in_c, Co = L->out_c;
    /* Worth it where the output's spikes (the most Δ there can be), weighted by SBP_SWEEP_COST,
     * times the fan-in are fewer than the input's events times the fan-out: both forms move
     * runs of whole vectors. */
    double in = 0, out = 0;
    for (size_t i = 0; i < L->n_in; i++)
        in += count[i];
    for (size_t i = 0; i < L->n_out; i++)
        out += out_count[i];
    const double fan_in = (double)k * (double)((k * Ci + 15) / 16);
    const double fan_out = (double)k * (double)((k * Co + 15) / 16);
    if (!(SBP_SWEEP_COST * out * fan_in < in * fan_out))
        return 0;
    sweep_state s = state_at(state, L);
    const size_t m = map_floats(L);
    memset(s.X, 0, 2 * m * sizeof(float)); /* X and dx */
    memset(s.next, 0, sizeof(float) * L->n_out);
    memset(s.dW, 0, sizeof(float) * wt_floats(L));
    const sbp_divider by_c = sbp_divider_make((uint32_t)Ci);
    const sbp_divider by_w = sbp_divider_make((uint32_t)L->in_w);
    for (size_t i = 0; i < L->n_in; i++)
        s.X[padded(i, L, by_c, by_w)] = mask ? count[i] * mask[i] : count[i];
    return 1;
}

void sbp_conv_sweep_end(float *dWk, float *state, const sbp_layer *L)
{
    const int k = L->spec.kernel, Ci = L->in_c, Co = L->out_c;
    const sweep_state s = state_at(state, L);
    for (int ci = 0; ci < Ci; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *d = dWk + sbp_conv_wt(L, ci, ky, k - 1 - kx);
                for (int co = 0; co < Co; co++)
                    d[co] += s.dW[(((size_t)co * k + ky) * k + kx) * Ci + ci];
            }
}

/* The geometry the steps use: kernel, channels, padded map row (columns), the run of a window
 * row (k·Cin floats: also a row of Wᵀ), the padded map row in floats, the output's and the
 * input's dividers (made once per chunk, not per step). */
typedef struct sweep_geom {
    int k;
    size_t Ci, Co, Wp, run, prow;
    sbp_divider by_co, by_wo, by_ci, by_wi;
} sweep_geom;

/* Where output neuron o's window starts in the padded maps; *co its channel. */
static inline size_t window_at(const sweep_geom *G, uint32_t o, size_t *co)
{
    const uint32_t pix = sbp_div(o, G->by_co), oy = sbp_div(pix, G->by_wo);
    const size_t ox = sbp_mod_q(pix, oy, G->by_wo);
    *co = o - (size_t)pix * G->Co;
    /* output (oy, ox)'s window: padded rows oy … oy + k − 1, columns ox … */
    return ((size_t)oy * G->Wp + ox) * G->Ci;
}

/* One nonzero Δ = d at output neuron o: its k window rows of dx += d·Wᵀ, of dW += d·X. */
static void delta_plain(const sweep_state *s, const sweep_geom *G, uint32_t o, float d)
{
    size_t co;
    const size_t at = window_at(G, o, &co);
    const float *w = s->Wt + co * (size_t)G->k * G->run;
    float *dw = s->dW + co * (size_t)G->k * G->run;
    for (int ky = 0; ky < G->k; ky++) {
        float *y = s->dx + at + (size_t)ky * G->prow;
        const float *x = s->X + at + (size_t)ky * G->prow;
        const float *wr = w + (size_t)ky * G->run;
        float *dr = dw + (size_t)ky * G->run;
        for (size_t j = 0; j < G->run; j++) {
            y[j] += d * wr[j];
            dr[j] += d * x[j];
        }
    }
}

/* Step t's Δ = g − gn, n outputs (where no AVX-512 runs). */
static void step_plain(const sweep_state *s, const sweep_geom *G, const float *g,
                       const float *gn, size_t n)
{
    for (size_t o = 0; o < n; o++)
        if (g[o] != gn[o])
            delta_plain(s, G, (uint32_t)o, g[o] - gn[o]);
}

/* After step t: dx[t] (dxt, n_in floats) = the inside of the dx map; then X[t − 1] = X[t] −
 * x[t], from the step's events. */
static void step_end(float *dxt, const sweep_state *s, const sweep_geom *G, const sbp_events *ev,
                     int t, const sbp_layer *L)
{
    const size_t pad = (size_t)L->spec.pad, row = (size_t)L->in_w * G->Ci;
    for (int iy = 0; dxt && iy < L->in_h; iy++)
        memcpy(dxt + (size_t)iy * row, s->dx + ((size_t)iy + pad) * G->prow + pad * G->Ci,
               sizeof(float) * row);
    for (size_t e = ev->off[t]; e < ev->off[t + 1]; e++)
        s->X[padded(ev->idx[e], L, G->by_ci, G->by_wi)] -= ev->val[e];
}

#ifdef SBP_RUNS_AVX512
/* A step's Δ, as two arrays: output neuron and value (each with 16 entries of slack: the scan
 * stores whole vectors). */
typedef struct delta_list {
    uint32_t *o;
    float *d;
} delta_list;

/* One term of a sum of scaled runs: d·p[off …]. */
typedef struct term {
    const float *p;
    float d;
} term;

/* A run part of NV vectors (the last masked by `last`) in registers: loaded from o, d·x added
 * term by term, stored back — loaded and stored once while the terms stream through. */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void part_load(const int NV, __m512 *acc,
                                                          const float *o, __mmask16 last)
{
    for (int j = 0; j < NV; j++)
        acc[j] = _mm512_maskz_loadu_ps(j < NV - 1 ? (__mmask16)0xFFFF : last, o + 16 * j);
}

static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void part_add(const int NV, __m512 *acc,
                                                         const float *x, float d, __mmask16 last)
{
    const __m512 vd = _mm512_set1_ps(d);
    for (int j = 0; j < NV; j++)
        acc[j] = _mm512_add_ps(
            acc[j], _mm512_mul_ps(vd, _mm512_maskz_loadu_ps(j < NV - 1 ? (__mmask16)0xFFFF : last,
                                                            x + 16 * j)));
}

static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void part_store(const int NV, float *o,
                                                           const __m512 *acc, __mmask16 last)
{
    for (int j = 0; j < NV - 1; j++)
        _mm512_storeu_ps(o + 16 * j, acc[j]);
    _mm512_mask_storeu_ps(o + 16 * (NV - 1), last, acc[NV - 1]);
}

/* o[0 … 16·NV) += Σ_e d_e·p_e[off …]. */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void sum_part(const int NV, float *o, const term *tm,
                                                         size_t n, size_t off, __mmask16 last)
{
    __m512 acc[16];
    part_load(NV, acc, o, last);
    for (size_t e = 0; e < n; e++)
        part_add(NV, acc, tm[e].p + off, tm[e].d, last);
    part_store(NV, o, acc, last);
}

static SBP_TARGET_AVX512 void sum_dispatch(int nv, float *o, const term *tm, size_t n,
                                           size_t off, __mmask16 last)
{
    switch (nv) {
#define CASE(N)                                                                                \
    case N:                                                                                    \
        sum_part(N, o, tm, n, off, last);                                                      \
        break;
        SBP_VECTOR_COUNTS(CASE)
#undef CASE
    }
}

/* o[0 … run) += Σ_e d_e·p_e[off …], in parts of up to 16 vectors. */
static SBP_TARGET_AVX512 void sum_run(float *o, const term *tm, size_t n, size_t run, size_t off)
{
    for (size_t p0 = 0; p0 < run; p0 += 256) {
        const size_t len = run - p0 < 256 ? run - p0 : 256;
        sum_dispatch((int)((len + 15) / 16), o + p0, tm, n, off + p0,
                     sbp_tail_mask(len % 16 ? len % 16 : 16));
    }
}

/* A Δ of one column, for dx: its weights (Wᵀ of its channel), output row and value. */
typedef struct col_term {
    const float *w;
    int32_t oy;
    float d;
} col_term;

/* o[0 … 16·NV) += Σ_e d_e·w_e[(r − oy_e)·run …]: the column's Δ that reach padded row r, each
 * through its kernel row r − oy. */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void col_part(const int NV, float *o,
                                                         const col_term *tm, size_t n, int r,
                                                         size_t run, size_t p0, __mmask16 last)
{
    __m512 acc[16];
    part_load(NV, acc, o, last);
    for (size_t e = 0; e < n; e++)
        part_add(NV, acc, tm[e].w + (size_t)(r - tm[e].oy) * run + p0, tm[e].d, last);
    part_store(NV, o, acc, last);
}

/* One column's visits: padded rows r = oy of its first Δ … oy of its last + k − 1, each run's
 * part [p0, p0 + 16·NV) loaded, summed into and stored once. */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void col_visits(const int NV, float *o, size_t row,
                                                           const col_term *tm, size_t n, int k,
                                                           size_t run, size_t p0,
                                                           __mmask16 last)
{
    size_t lo = 0, hi = 0;
    for (int r = tm[0].oy; r < tm[n - 1].oy + k; r++) {
        while (hi < n && tm[hi].oy <= r)
            hi++;
        while (tm[lo].oy + k <= r)
            lo++;
        if (lo == hi)
            continue;
        col_part(NV, o + (size_t)r * row + p0, tm + lo, hi - lo, r, run, p0, last);
    }
}

static SBP_TARGET_AVX512 void col_dispatch(int nv, float *o, size_t row, const col_term *tm,
                                           size_t n, int k, size_t run, size_t p0,
                                           __mmask16 last)
{
    switch (nv) {
#define CASE(N)                                                                                \
    case N:                                                                                    \
        col_visits(N, o, row, tm, n, k, run, p0, last);                                        \
        break;
        SBP_VECTOR_COUNTS(CASE)
#undef CASE
    }
}

/* A step's Δ = g − gn (n outputs), 16 at a time (most are unchanged: no spike at this step),
 * into r (in output order); then dx += Wᵀ Δ (ct: room for n_out terms, cstart for out_w + 1
 * counts). Returns their number. */
static SBP_TARGET_AVX512 size_t step_avx512(const sweep_state *s, const sweep_geom *G,
                                            const float *g, const float *gn, size_t n,
                                            const delta_list *r, col_term *ct, size_t *cstart)
{
    size_t nrec = 0;
    /* no branch on whether a vector changed: at a few percent of spikes a third of them do,
     * unpredictably (the scan with that branch took a third of the sweep); each vector's
     * changed lanes compressed in registers and stored whole, the lists' slack taking the rest */
    for (size_t o = 0; o < n; o += 16) {
        const __mmask16 m = sbp_lanes_mask(n - o);
        const __m512 a = _mm512_maskz_loadu_ps(m, g + o), b = _mm512_maskz_loadu_ps(m, gn + o);
        const __mmask16 ne = _mm512_mask_cmp_ps_mask(m, a, b, _CMP_NEQ_UQ);
        const __m512i lane = _mm512_add_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
            _mm512_set1_epi32((int)o));
        _mm512_storeu_si512(r->o + nrec, _mm512_maskz_compress_epi32(ne, lane));
        _mm512_storeu_ps(r->d + nrec, _mm512_maskz_compress_ps(ne, _mm512_sub_ps(a, b)));
        nrec += (size_t)__builtin_popcount((unsigned)ne);
    }
    /* dx += Wᵀ Δ by output column, as the forward's column form (conv_cols.c): a step's Δ in
     * column ox (by row, as found) all reach the same run of dx in whichever padded row r,
     * columns ox … ox + k − 1; for each r the run is loaded once, every Δ of the column whose
     * kernel row r − oy lies in [0, k) adds its weights, and it is stored once. Consecutive
     * visits are different rows: a pixel at a time, the windows of neighbouring pixels
     * (overlapping but for Cin floats) were reloaded from stores still in flight, and dx cost
     * 250 cycles per Δ (bench/results-2026-12-06i-cpu.md). */
    const size_t run = G->run, kr = (size_t)G->k * run, Wo = G->Wp - (size_t)G->k + 1;
    if (!nrec)
        return 0;
    memset(cstart, 0, sizeof(size_t) * (Wo + 1));
    for (size_t e = 0; e < nrec; e++) {
        const uint32_t pix = sbp_div(r->o[e], G->by_co);
        cstart[pix - sbp_div(pix, G->by_wo) * (uint32_t)Wo + 1]++;
    }
    for (size_t c = 0; c < Wo; c++)
        cstart[c + 1] += cstart[c];
    for (size_t e = 0; e < nrec; e++) { /* by column, each column's by row */
        const uint32_t pix = sbp_div(r->o[e], G->by_co), oy = sbp_div(pix, G->by_wo);
        ct[cstart[pix - oy * (uint32_t)Wo]++] =
            (col_term){s->Wt + (r->o[e] - pix * (uint32_t)G->Co) * kr, (int32_t)oy, r->d[e]};
    }
    /* cstart[c] is now column c's end */
    for (size_t ox = 0; ox < Wo; ox++) {
        const size_t b = ox ? cstart[ox - 1] : 0, e1 = cstart[ox];
        /* runs over 256 floats (k·Cin > 256) in parts of up to 16 vectors */
        for (size_t p0 = 0; b < e1 && p0 < run; p0 += 256) {
            const size_t len = run - p0 < 256 ? run - p0 : 256;
            col_dispatch((int)((len + 15) / 16), s->dx + ox * G->Ci, G->Wp * G->Ci, ct + b,
                         e1 - b, G->k, run, p0, sbp_tail_mask(len % 16 ? len % 16 : 16));
        }
    }
    return nrec;
}

/* dW += Σ over a step's Δ (nrec of them, in r) of d·X[t] at the Δ's window, X[t] the map as
 * it stands before the step's events leave it: the Δ by output channel into tm (pointing at
 * their windows), then for each channel and kernel row one sum of runs in registers (the
 * scatter's read-modify-write of dW per Δ and vector cost as much as the rest of the sweep).
 * A step at a time, from X itself: rows of X kept for a pass over 2 steps were 1.07× slower
 * at trained weights, and for the chunk's 5 took LeNet 127 KiB per engine
 * (results-2026-12-06i-cpu.md). */
static SBP_TARGET_AVX512 void wgrad_avx512(const sweep_state *s, const sweep_geom *G,
                                           const delta_list *r, size_t nrec, term *tm,
                                           size_t *start)
{
    memset(start, 0, sizeof(size_t) * (G->Co + 1));
    for (size_t e = 0; e < nrec; e++)
        start[r->o[e] - sbp_div(r->o[e], G->by_co) * (uint32_t)G->Co + 1]++;
    for (size_t c = 0; c < G->Co; c++)
        start[c + 1] += start[c];
    for (size_t e = 0; e < nrec; e++) {
        size_t co;
        const size_t at = window_at(G, r->o[e], &co);
        tm[start[co]++] = (term){s->X + at, r->d[e]};
    }
    /* start[c] is now channel c's end */
    const size_t run = G->run;
    for (size_t co = 0; co < G->Co; co++) {
        const size_t b = co ? start[co - 1] : 0, nr = start[co] - b;
        for (int ky = 0; nr && ky < G->k; ky++)
            sum_run(s->dW + (co * (size_t)G->k + (size_t)ky) * run, tm + b, nr, run,
                    (size_t)ky * G->prow);
    }
}

static SBP_TARGET_AVX512 void chunk_avx512(float *dx, sweep_state *s, const sweep_geom *G,
                                           const float *gI, const sbp_events *ev,
                                           const sbp_layer *L, int tc, float *ws)
{
    const size_t n = L->n_out;
    /* scratch (sbp_conv_sweep_scratch): a step's Δ; the terms of a sum (the step's visits',
     * then dW's by channel); the column starts; the channel counts */
    float *base = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63); /* the terms' pointers */
    delta_list r;
    r.o = (uint32_t *)(void *)base;
    r.d = (float *)(void *)(r.o + n + 16);
    term *tm = (term *)(void *)(r.d + n + 16);
    col_term *ct = (col_term *)(void *)tm; /* the step's visits, before dW's terms */
    size_t *cstart = (size_t *)(void *)(tm + n);
    size_t *start = cstart + L->out_w + 1;
    for (int t = tc - 1; t >= 0; t--) {
        const float *g = gI + (size_t)t * n;
        const size_t nrec = step_avx512(s, G, g, t + 1 < tc ? g + n : s->next, n, &r, ct, cstart);
        if (nrec)
            wgrad_avx512(s, G, &r, nrec, tm, start);
        step_end(dx ? dx + (size_t)t * L->n_in : NULL, s, G, ev, t, L);
    }
}
#endif

/* Scratch floats for a chunk of tc steps (chunk_avx512's parts: a step's Δ, 2 arrays of
 * n_out + 16; terms, a pointer and a float, 4 floats, for n_out; out_w + 1 and Cout + 1 counts,
 * 2 floats each; 16 for the alignment). */
size_t sbp_conv_sweep_scratch(const sbp_layer *L, int tc)
{
    (void)tc;
    if (!sbp_conv_sweep_floats(L, 0))
        return 0;
    const size_t n = L->n_out;
    return 2 * (n + 16) + 4 * n + 2 * ((size_t)L->out_w + (size_t)L->out_c + 2) + 16 + 16;
}

void sbp_conv_sweep_backward(float *dx, float *state, const float *WT, const float *gI,
                             const void *evp, const sbp_layer *L, int tc, float *ws)
{
    const sbp_events *ev = evp;
    const int k = L->spec.kernel, Ci = L->in_c, Co = L->out_c, Wo = L->out_w;
    const size_t n = L->n_out;
    sweep_state s = state_at(state, L);
    s.Wt = WT;
    sweep_geom G = {k,
                    (size_t)Ci,
                    (size_t)Co,
                    (size_t)Wo + (size_t)k - 1,
                    (size_t)k * (size_t)Ci,
                    0,
                    sbp_divider_make((uint32_t)Co),
                    sbp_divider_make((uint32_t)Wo),
                    sbp_divider_make((uint32_t)Ci),
                    sbp_divider_make((uint32_t)L->in_w)};
    G.prow = G.Wp * G.Ci;
#ifdef SBP_RUNS_AVX512
    if (sbp_use_avx512()) {
        chunk_avx512(dx, &s, &G, gI, ev, L, tc, ws);
        memcpy(s.next, gI, sizeof(float) * n);
        return;
    }
#endif
    (void)ws;
    for (int t = tc - 1; t >= 0; t--) {
        const float *g = gI + (size_t)t * n;
        step_plain(&s, &G, g, t + 1 < tc ? g + n : s.next, n);
        step_end(dx ? dx + (size_t)t * L->n_in : NULL, &s, &G, ev, t, L);
    }
    memcpy(s.next, gI, sizeof(float) * n);
}
