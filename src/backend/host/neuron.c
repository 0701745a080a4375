/* neuron.c — LIF, IF and leaky-integrator dynamics and the exact-mode per-neuron backward
 * (§1, §3). The membrane recursion is elementwise: each step is one pass over a row of n
 * neurons (time-major chunks, backend/backend.h), whatever the order of the neurons within it. */
#include "backend/host/neuron.h"

#include "core/cpu.h"
#include "core/runs.h"
#include "core/simd.h"

#include <math.h>
#include <string.h>

void sbp_neuron_reset(sbp_neuron_state *st, const sbp_layer *L)
{
    size_t n = L->n_out;
    memset(st->v, 0, n * sizeof(float));
    if (st->count)
        memset(st->count, 0, n * sizeof(float));
    if (st->trace)
        memset(st->trace, 0, n * sizeof(float));
    if (st->carry)
        memset(st->carry, 0, n * sizeof(float));
}

/* Packs one step's row of n spikes (floats 0/1) into its 64-bit-aligned bit row. */
static void pack_row_plain(uint64_t *restrict row, const float *restrict y, size_t n)
{
    for (size_t w = 0; w * 64 < n; w++) {
        uint64_t word = 0;
        const float *yy = y + w * 64;
        for (size_t j = 0; j < 64 && w * 64 + j < n; j++)
            word |= (uint64_t)(yy[j] != 0.0f) << j;
        row[w] = word;
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(SBP_NO_MULTIVERSION)
#include <immintrin.h>
/* AVX-512: one compare gives 16 bits (checked against the plain loop by tests/test_kernels). */
__attribute__((target("avx512f"))) static void pack_row_avx512(uint64_t *restrict row,
                                                              const float *restrict y, size_t n)
{
    const __m512 zero = _mm512_setzero_ps();
    for (size_t w = 0; w * 64 < n; w++) {
        uint64_t word = 0;
        for (size_t q = 0; q < 4 && w * 64 + q * 16 < n; q++) {
            const size_t i = w * 64 + q * 16;
            const __mmask16 live = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
            const __m512 v = _mm512_maskz_loadu_ps(live, y + i);
            word |= (uint64_t)_mm512_mask_cmp_ps_mask(live, v, zero, _CMP_NEQ_UQ) << (q * 16);
        }
        row[w] = word;
    }
}
#define SBP_PACK_AVX512 1
#endif

static void pack_row(uint64_t *restrict row, const float *restrict y, size_t n)
{
#ifdef SBP_PACK_AVX512
    if (sbp_use_avx512()) {
        pack_row_avx512(row, y, n);
        return;
    }
#endif
    pack_row_plain(row, y, n);
}

/* One step of P neurons: the recursion of §1, branch-free so that it vectorises; s is written
 * to y (and scaled by the mask after the bits are taken). The count γ and the trace LF are
 * kept only when someone reads them (keep_count: training and analysis; keep_trace: the
 * backward); the flags are constants at every call, so each combination compiles to its own
 * loop without the unused loads and stores. */
static SBP_ALWAYS_INLINE void lif_step(float *restrict v, float *restrict cnt,
                                       float *restrict tr, float *restrict y,
                                       const float *restrict I, size_t P, float leak, float th,
                                       const int keep_count, const int keep_trace)
{
    for (size_t p = 0; p < P; p++) {
        float u = v[p] + I[p];
        float s = u > th ? 1.0f : 0.0f; /* strictly greater (§1) */
        v[p] = (1.0f - s) * leak * u;   /* reset to exactly 0, else leak */
        if (keep_count)
            cnt[p] += s;
        if (keep_trace)
            tr[p] = leak * tr[p] + s;   /* LF ← λ·LF + s (§3) */
        y[p] = s;
    }
}

/* Neurons per block: a block's membrane, count and trace stay in L1 while it advances through
 * all tc steps (a multiple of 64, so blocks start on whole words of spike bits). */
#define SBP_NEURON_BLOCK 1024

#ifdef SBP_PACK_AVX512
/* The spiking recursion with the state in registers: each vector of 16 neurons advances
 * through all tc steps holding v, γ and LF in registers, so a step loads only its current and
 * stores only its spikes (and their 16 bits, which are the compare mask itself). The plain loop
 * stores the whole state back at every step, and on cores that split 512-bit stores in two
 * (Zen 4) the stores bound it. The same operations per neuron in the same order as lif_step —
 * u = v + I; s = u > Vth; v = s ? 0 : λ·u; γ += s; LF = λ·LF + s; y = s·mask — and no
 * contraction (-std=c11), so the same bits (tests/test_kernels.c compares both paths with the
 * scalar loop of SPEC §1). Full vectors use plain stores: masked stores are slow on Zen 4. */
static SBP_ALWAYS_INLINE __attribute__((target("avx512f"))) void spiking_vectors(
    const int NV, const int KEEP, float *y, const float *I, sbp_neuron_state *st, size_t n,
    size_t i, __m512 vl, __m512 vth, int t0, int tc, const int full, __mmask16 live,
    sbp_spike_lists *out)
{
    /* NV vectors (16·NV neurons from i) advance together: a step of one vector is a chain of
     * dependent operations (add, compare, masked multiply), and NV independent chains keep the
     * core busy where one would leave it waiting on each result. */
    const size_t words = sbp_spike_row_words(n);
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    /* KEEP: which of γ (1), LF (2) and the spike bits (4) are kept — a constant, so that the
     * loop over the steps tests none of them */
    float *cnt = KEEP & 1 ? st->count : NULL, *tr = KEEP & 2 ? st->trace : NULL;
    uint64_t *bits = KEEP & 4 ? st->bits : NULL;
#define LOAD(p) (full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(live, p))
#define STORE(p, x) (full ? _mm512_storeu_ps(p, x) : _mm512_mask_storeu_ps(p, live, x))
    __m512 v[4], c[4], lf[4], m[4];
    for (int j = 0; j < NV; j++) {
        const size_t k = i + 16 * (size_t)j;
        v[j] = LOAD(st->v + k);
        c[j] = KEEP & 1 ? LOAD(cnt + k) : zero;
        lf[j] = KEEP & 2 ? LOAD(tr + k) : zero;
        m[j] = st->mask ? LOAD(st->mask + k) : one;
    }
    /* the lists' arrays in registers: the vector stores below may alias anything, so read
     * through out they would be loaded again for every vector */
    uint32_t *const lidx = out ? out->idx : NULL;
    float *const lval = out ? out->val : NULL;
    size_t *const lcount = out ? out->count : NULL;
    const size_t lstride = out ? out->stride : 0;
    for (int t = 0; t < tc; t++) {
        /* this step's list length, in a register across the NV vectors */
        size_t listed = out ? lcount[t] : 0;
        for (int j = 0; j < NV; j++) {
            const size_t k = i + 16 * (size_t)j;
            const __m512 u = _mm512_add_ps(v[j], LOAD(I + (size_t)t * n + k));
            const __mmask16 s = _mm512_mask_cmp_ps_mask(live, u, vth, _CMP_GT_OQ);
            v[j] = _mm512_maskz_mul_ps((__mmask16)~s, vl, u);
            if (KEEP & 1)
                c[j] = _mm512_mask_add_ps(c[j], s, c[j], one);
            if (KEEP & 2)
                lf[j] = _mm512_add_ps(_mm512_mul_ps(vl, lf[j]), _mm512_maskz_mov_ps(s, one));
            const __m512 yv = _mm512_maskz_mov_ps(s, m[j]);
            if (y) /* a constant per case: NULL where only the lists are read */
                STORE(y + (size_t)t * n + k, yv);
            if (KEEP & 4)
                ((uint16_t *)(void *)(bits + (size_t)(t0 + t) * words))[k / 16] = s;
            if (out) { /* the nonzero outputs (a mask of 0 silences a spike), compressed in a
                          register and stored 8 at a time: the list's slack takes the
                          overhang. No test for an empty vector: at a few percent of spikes, a
                          third to most of the vectors hold one, and the branch mispredicted
                          costs more than two stores (LeNet inference 1.03-1.04x, bench/). The
                          upper half only when more than 8 fired (rare, so well predicted): a
                          512-bit store is two on Zen 4 (a pooling layer's neurons with lists
                          4.3 -> 3.55 ns per vector-step) */
                const __mmask16 nz = _mm512_mask_cmp_ps_mask(s, yv, zero, _CMP_NEQ_UQ);
                const __m512i lane = _mm512_add_epi32(
                    _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                    _mm512_set1_epi32((int)k));
                const size_t at = (size_t)t * lstride + listed;
                const __m512i ci = _mm512_maskz_compress_epi32(nz, lane);
                const __m512 cv = _mm512_maskz_compress_ps(nz, yv);
                const unsigned pc = (unsigned)__builtin_popcount((unsigned)nz);
                _mm256_storeu_si256((void *)(lidx + at), _mm512_castsi512_si256(ci));
                _mm256_storeu_ps(lval + at, _mm512_castps512_ps256(cv));
                if (pc > 8) {
                    const __m256d hi = _mm512_extractf64x4_pd(_mm512_castps_pd(cv), 1);
                    _mm256_storeu_si256((void *)(lidx + at + 8),
                                        _mm512_extracti64x4_epi64(ci, 1));
                    _mm256_storeu_ps(lval + at + 8, _mm256_castpd_ps(hi));
                }
                listed += pc;
            }
        }
        if (out)
            lcount[t] = listed;
    }
    for (int j = 0; j < NV; j++) {
        const size_t k = i + 16 * (size_t)j;
        STORE(st->v + k, v[j]);
        if (KEEP & 1)
            STORE(cnt + k, c[j]);
        if (KEEP & 2)
            STORE(tr + k, lf[j]);
    }
#undef LOAD
#undef STORE
}

/* Every vector of a layer: four at a time, then one at a time, the last one masked. */
static SBP_ALWAYS_INLINE __attribute__((target("avx512f"))) void spiking_all(
    const int KEEP, float *y, const float *I, sbp_neuron_state *st, size_t n, __m512 vl,
    __m512 vth, int t0, int tc, sbp_spike_lists *out)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        spiking_vectors(4, KEEP, y, I, st, n, i, vl, vth, t0, tc, 1, (__mmask16)0xFFFF, out);
    for (; i + 16 <= n; i += 16)
        spiking_vectors(1, KEEP, y, I, st, n, i, vl, vth, t0, tc, 1, (__mmask16)0xFFFF, out);
    if (i < n)
        spiking_vectors(1, KEEP, y, I, st, n, i, vl, vth, t0, tc, 0,
                        (__mmask16)((1u << (n - i)) - 1), out);
}

/* The list output and what is kept, compile-time cases: inference keeps nothing, aggregate
 * training γ and LF, exact training the bits too (and analysis γ alone). */
static SBP_ALWAYS_INLINE __attribute__((target("avx512f"))) void spiking_keep(
    float *y, const float *I, sbp_neuron_state *st, size_t n, __m512 vl, __m512 vth, int t0,
    int tc, sbp_spike_lists *out)
{
    const int keep = (st->count ? 1 : 0) | (st->trace ? 2 : 0) | (st->bits ? 4 : 0);
    switch (keep) {
#define KEEP_CASE(K)                                                                           \
    case K:                                                                                    \
        spiking_all(K, y, I, st, n, vl, vth, t0, tc, out);                                     \
        break;
        KEEP_CASE(0) KEEP_CASE(1) KEEP_CASE(2) KEEP_CASE(3)
        KEEP_CASE(4) KEEP_CASE(5) KEEP_CASE(6) KEEP_CASE(7)
#undef KEEP_CASE
    }
}

__attribute__((target("avx512f"))) static void spiking_forward_avx512(float *y, const float *I,
                                                                     sbp_neuron_state *st,
                                                                     size_t n, float leak,
                                                                     float th, int t0, int tc,
                                                                     sbp_spike_lists *out)
{
    const __m512 vl = _mm512_set1_ps(leak), vth = _mm512_set1_ps(th);
    /* the list output a compile-time case of its own, so the plain forward has no test for it;
     * so is a list output without the rows (LeNet inference 1.03 / 1.08,
     * bench/results-2026-12-06-cpu.md) */
    if (out && y)
        spiking_keep(y, I, st, n, vl, vth, t0, tc, out);
    else if (out)
        spiking_keep(NULL, I, st, n, vl, vth, t0, tc, out);
    else
        spiking_keep(y, I, st, n, vl, vth, t0, tc, NULL);
}
#endif

static SBP_HOT void forward(float *y, const float *I, sbp_neuron_state *st, const sbp_layer *L,
                            int t0, int tc, sbp_spike_lists *out)
{
    const size_t n = L->n_out, words = sbp_spike_row_words(n);
    const float leak = L->leak, th = L->threshold;
    float *v = st->v;

    if (L->neuron == SBP_NEURON_INTEGRATOR) {
        for (int t = 0; t < tc; t++) {
            const float *It = I + (size_t)t * n;
            for (size_t i = 0; i < n; i++)
                v[i] = leak * (v[i] + It[i]);
            if (st->history)
                memcpy(st->history + (size_t)(t0 + t) * n, v, n * sizeof(float));
        }
        return;
    }
#ifdef SBP_PACK_AVX512
    if (sbp_use_avx512()) {
        spiking_forward_avx512(y, I, st, n, leak, th, t0, tc, out);
        return;
    }
#endif
    /* Step t's output is the row y[t] of n spikes: keep its bits, then apply the dropout mask
     * (the bits record s, not s·mask); with lists, the block's nonzero outputs are appended to
     * step t's list (blocks in order: ascending indices). Without y (lists only) each block's
     * row is made in `own`. */
    float own[SBP_NEURON_BLOCK];
    for (size_t b0 = 0; b0 < n; b0 += SBP_NEURON_BLOCK) {
        const size_t nb = n - b0 < SBP_NEURON_BLOCK ? n - b0 : SBP_NEURON_BLOCK;
        for (int t = 0; t < tc; t++) {
            float *row = y ? y + (size_t)t * n + b0 : own;
            const float *It = I + (size_t)t * n + b0;
            if (st->trace) /* training: the trace implies the count */
                lif_step(v + b0, st->count + b0, st->trace + b0, row, It, nb, leak, th, 1, 1);
            else if (st->count)
                lif_step(v + b0, st->count + b0, NULL, row, It, nb, leak, th, 1, 0);
            else
                lif_step(v + b0, NULL, NULL, row, It, nb, leak, th, 0, 0);
            if (st->bits)
                pack_row(st->bits + (size_t)(t0 + t) * words + b0 / 64, row, nb);
            if (st->mask)
                for (size_t i = 0; i < nb; i++)
                    row[i] *= st->mask[b0 + i];
            if (out) { /* the lists as the vector path emits them */
                size_t k = out->count[t];
                for (size_t i = 0; i < nb; i++)
                    if (row[i] != 0.0f) {
                        out->idx[(size_t)t * out->stride + k] = (uint32_t)(b0 + i);
                        out->val[(size_t)t * out->stride + k] = row[i];
                        k++;
                    }
                out->count[t] = k;
            }
        }
    }
}

void sbp_neuron_forward(float *y, const float *I, sbp_neuron_state *st, const sbp_layer *L,
                        int t0, int tc)
{
    forward(y, I, st, L, t0, tc, NULL);
}

void sbp_neuron_forward_lists(float *y, sbp_spike_lists *out, const float *I,
                              sbp_neuron_state *st, const sbp_layer *L, int t0, int tc)
{
    for (int t = 0; t < tc; t++)
        out->count[t] = 0;
    forward(y, I, st, L, t0, tc, out);
}

/* The LIF factor in place of the trace tr (where the engine keeps it), written so that it
 * vectorises: the division always runs (by 1 where γ = 0, whose factor is 0 anyway), and
 * mask-free layers multiply by nothing. */
static SBP_ALWAYS_INLINE void lif_factor(float *restrict tr, const float *restrict cnt,
                                         const float *restrict mask, size_t n, float lnl,
                                         float inv_th, const int masked)
{
    for (size_t i = 0; i < n; i++) {
        const float g = cnt[i];
        const float q = lnl * tr[i] / (g > 0.0f ? g : 1.0f);
        const float ng = g > 0.0f ? 1.0f + q : 0.0f;
        tr[i] = masked ? ng * inv_th * mask[i] : ng * inv_th;
    }
}

/* Static, with an exported wrapper below: clang 14 emits no resolver for an exported
 * SBP_HOT function (the library did not link with it). */
static SBP_HOT void surrogate(float *factor, const sbp_neuron_state *st, const sbp_layer *L,
                              sbp_backward mode)
{
    const size_t n = L->n_out;
    if (L->neuron == SBP_NEURON_IF) {
        for (size_t i = 0; i < n; i++)
            factor[i] = (mode == SBP_BACKWARD_EXACT || st->count[i] > 0.0f) ? 1.0f : 0.0f;
        return;
    }
    const float lnl = logf(L->leak), inv_th = 1.0f / L->threshold;
    if (factor != st->trace) /* a caller's own array: start from the trace there */
        memcpy(factor, st->trace, n * sizeof(float));
    if (st->mask)
        lif_factor(factor, st->count, st->mask, n, lnl, inv_th, 1);
    else
        lif_factor(factor, st->count, NULL, n, lnl, inv_th, 0);
}

void sbp_neuron_surrogate(float *factor, const sbp_neuron_state *st, const sbp_layer *L,
                          sbp_backward mode)
{
    surrogate(factor, st, L, mode);
}

static void unpack_row_plain(float *restrict y, const uint64_t *restrict row,
                             const float *restrict mask, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const float sp = (float)((row[i >> 6] >> (i & 63)) & 1u);
        y[i] = mask ? sp * mask[i] : sp;
    }
}

static void backward_plain(float *gI, const float *gy, const float *factor, float *carry,
                           const uint64_t *bits, size_t n, int t0, int tc)
{
    const size_t words = sbp_spike_row_words(n);
    for (int t = tc - 1; t >= 0; t--) {
        const uint64_t *row = bits + (size_t)(t0 + t) * words;
        const float *restrict gyt = gy + (size_t)t * n;
        float *restrict gt = gI + (size_t)t * n;
        for (size_t w = 0; w < words; w++) {
            const uint64_t b = row[w];
            const size_t i0 = w * 64, i1 = i0 + 64 < n ? i0 + 64 : n;
            if (b)
                for (size_t i = i0; i < i1; i++)
                    carry[i] = (b >> (i - i0)) & 1u ? factor[i] * gyt[i] : carry[i];
            memcpy(gt + i0, carry + i0, (i1 - i0) * sizeof(float));
        }
    }
}

#ifdef SBP_PACK_AVX512
/* 16 neurons per instruction, the spike bits used directly as the lane mask. */
__attribute__((target("avx512f"))) static void unpack_row_avx512(float *restrict y,
                                                                const uint64_t *restrict row,
                                                                const float *restrict mask,
                                                                size_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 live = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        const __mmask16 s = (__mmask16)(row[i >> 6] >> (i & 63)) & live;
        const __m512 v = mask ? _mm512_maskz_loadu_ps(s, mask + i) : _mm512_maskz_mov_ps(s, one);
        _mm512_mask_storeu_ps(y + i, live, v);
    }
}

/* The exact backward recursion with the carry in a register: each vector of 16 neurons goes
 * through the chunk's steps from last to first, loading its factor once and, per step, only
 * the spike bits (as the lane mask) and gy where a lane spiked, storing gI[t] = carry. The same
 * products as backward_plain (the carry is only ever replaced), so the same bits. */
static SBP_ALWAYS_INLINE __attribute__((target("avx512f"))) void backward_vector(
    float *gI, const float *gy, const float *factor, float *carry, const uint64_t *bits,
    size_t n, size_t i, int t0, int tc, const int full, __mmask16 live)
{
    const size_t words = sbp_spike_row_words(n);
    __m512 c = full ? _mm512_loadu_ps(carry + i) : _mm512_maskz_loadu_ps(live, carry + i);
    const __m512 f = full ? _mm512_loadu_ps(factor + i) : _mm512_maskz_loadu_ps(live, factor + i);
    for (int t = tc - 1; t >= 0; t--) {
        const uint64_t *row = bits + (size_t)(t0 + t) * words;
        const __mmask16 s = (__mmask16)(row[i >> 6] >> (i & 63)) & live;
        /* only spiking lanes change the carry; no test for a silent vector (an unpredictable
         * branch at a few percent of spikes: the masked load and multiply cost less) */
        c = _mm512_mask_mul_ps(c, s, f, _mm512_maskz_loadu_ps(s, gy + (size_t)t * n + i));
        if (full)
            _mm512_storeu_ps(gI + (size_t)t * n + i, c);
        else
            _mm512_mask_storeu_ps(gI + (size_t)t * n + i, live, c);
    }
    if (full)
        _mm512_storeu_ps(carry + i, c);
    else
        _mm512_mask_storeu_ps(carry + i, live, c);
}

__attribute__((target("avx512f"))) static void backward_avx512(float *gI, const float *gy,
                                                              const float *factor, float *carry,
                                                              const uint64_t *bits, size_t n,
                                                              int t0, int tc)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        backward_vector(gI, gy, factor, carry, bits, n, i, t0, tc, 1, (__mmask16)0xFFFF);
    if (i < n)
        backward_vector(gI, gy, factor, carry, bits, n, i, t0, tc, 0,
                        (__mmask16)((1u << (n - i)) - 1));
}
#endif

void sbp_spikes_unpack(float *y, const uint64_t *row, const float *mask, size_t n)
{
#ifdef SBP_PACK_AVX512
    if (sbp_use_avx512()) {
        unpack_row_avx512(y, row, mask, n);
        return;
    }
#endif
    unpack_row_plain(y, row, mask, n);
}

void sbp_neuron_backward(float *gI, const float *gy, const float *factor, sbp_neuron_state *st,
                         const sbp_layer *L, int t0, int tc)
{
#ifdef SBP_PACK_AVX512
    if (sbp_use_avx512()) {
        backward_avx512(gI, gy, factor, st->carry, st->bits, L->n_out, t0, tc);
        return;
    }
#endif
    backward_plain(gI, gy, factor, st->carry, st->bits, L->n_out, t0, tc);
}
