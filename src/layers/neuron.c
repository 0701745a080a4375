/* neuron.c — LIF, IF and leaky-integrator dynamics and the exact-mode per-neuron backward
 * (§1, §3). The membrane recursion is elementwise; the loops run over positions innermost so
 * that one channel's neurons advance together. */
#include "layers/neuron.h"

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

/* Packs one step's row of n spikes (floats 0/1) into its 64-bit-aligned bit row, branch-free. */
static void pack_row(uint64_t *restrict row, const float *restrict y, size_t n)
{
    size_t w = 0;
    for (; (w + 1) * 64 <= n; w++) {
        uint64_t word = 0;
        const float *yy = y + w * 64;
        for (int j = 0; j < 64; j++)
            word |= (uint64_t)(yy[j] != 0.0f) << j;
        row[w] = word;
    }
    if (w * 64 < n) {
        uint64_t word = 0;
        for (size_t j = 0; w * 64 + j < n; j++)
            word |= (uint64_t)(y[w * 64 + j] != 0.0f) << j;
        row[w] = word;
    }
}

/* One step of one channel: the recursion of §1 for P neurons, branch-free so that it
 * vectorises; s is written to y (and scaled by the mask after the bits are taken). */
static inline void lif_step(float *restrict v, float *restrict cnt, float *restrict tr,
                            float *restrict y, const float *restrict I, size_t P, float leak,
                            float th)
{
    for (size_t p = 0; p < P; p++) {
        float u = v[p] + I[p];
        float s = u > th ? 1.0f : 0.0f; /* strictly greater (§1) */
        v[p] = (1.0f - s) * leak * u;   /* reset to exactly 0, else leak */
        cnt[p] += s;
        tr[p] = leak * tr[p] + s;       /* LF ← λ·LF + s (§3) */
        y[p] = s;
    }
}

SBP_HOT void sbp_neuron_forward(float *y, const float *I, sbp_neuron_state *st,
                                const sbp_layer *L, int t0, int tc)
{
    const int C = L->out_c;
    const size_t P = sbp_layer_positions(L), n = L->n_out;
    const float leak = L->leak, th = L->threshold;
    float *v = st->v;

    if (L->neuron == SBP_NEURON_INTEGRATOR) {
        for (int c = 0; c < C; c++)
            for (int t = 0; t < tc; t++) {
                const float *Ic = I + ((size_t)c * tc + t) * P;
                float *vc = v + (size_t)c * P;
                for (size_t p = 0; p < P; p++)
                    vc[p] = leak * (vc[p] + Ic[p]);
                if (st->history)
                    for (size_t p = 0; p < P; p++)
                        st->history[(size_t)(t0 + t) * n + (size_t)c * P + p] = vc[p];
            }
        return;
    }
    for (int c = 0; c < C; c++) {
        float *vc = v + (size_t)c * P, *gc = st->count + (size_t)c * P;
        float *lc = st->trace + (size_t)c * P;
        for (int t = 0; t < tc; t++)
            lif_step(vc, gc, lc, y + ((size_t)t * C + c) * P, I + ((size_t)c * tc + t) * P, P,
                     leak, th);
    }
    /* Step t's output is the contiguous row y[t] of n spikes: keep its bits, then apply the
     * dropout mask (the bits record s, not s·mask). */
    for (int t = 0; t < tc; t++) {
        float *row = y + (size_t)t * n;
        if (st->bits)
            pack_row(st->bits + (size_t)(t0 + t) * sbp_spike_row_words(n), row, n);
        if (st->mask)
            for (size_t i = 0; i < n; i++)
                row[i] *= st->mask[i];
    }
}

void sbp_neuron_surrogate(float *factor, const sbp_neuron_state *st, const sbp_layer *L,
                          sbp_backward mode)
{
    const size_t n = L->n_out;
    if (L->neuron == SBP_NEURON_IF) {
        for (size_t i = 0; i < n; i++)
            factor[i] = (mode == SBP_BACKWARD_EXACT || st->count[i] > 0.0f) ? 1.0f : 0.0f;
        return;
    }
    const float lnl = logf(L->leak), inv_th = 1.0f / L->threshold;
    for (size_t i = 0; i < n; i++) {
        float g = st->count[i];
        float ng = g > 0.0f ? 1.0f + lnl * st->trace[i] / g : 0.0f;
        factor[i] = ng * inv_th * (st->mask ? st->mask[i] : 1.0f);
    }
}

SBP_HOT void sbp_neuron_backward(float *gI, const float *gy, const float *factor,
                                 sbp_neuron_state *st, const sbp_layer *L, int t0, int tc)
{
    const int C = L->out_c;
    const size_t P = sbp_layer_positions(L), n = L->n_out;
    const uint64_t *bits = st->bits;
    for (int c = 0; c < C; c++) {
        float *restrict carry = st->carry + (size_t)c * P;
        const float *restrict fc = factor + (size_t)c * P;
        for (int t = tc - 1; t >= 0; t--) {
            const float *restrict gyc = gy + ((size_t)t * C + c) * P;
            float *restrict gc = gI + ((size_t)c * tc + t) * P;
            const size_t base = sbp_spike_bit(n, t0 + t, (size_t)c * P);
            for (size_t p = 0; p < P; p++) {
                const int s = sbp_spike_get(bits, base + p);
                carry[p] = s ? fc[p] * gyc[p] : carry[p];
                gc[p] = carry[p];
            }
        }
    }
}
