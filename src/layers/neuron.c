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

static inline void bit_set(uint64_t *bits, size_t i)
{
    bits[i >> 6] |= (uint64_t)1 << (i & 63);
}

static inline int bit_get(const uint64_t *bits, size_t i)
{
    return (int)((bits[i >> 6] >> (i & 63)) & 1u);
}

SBP_HOT void sbp_neuron_forward(float *y, const float *I, sbp_neuron_state *st, const sbp_layer *L,
                        int t0, int tc)
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
            }
        return;
    }
    for (int c = 0; c < C; c++) {
        float *vc = v + (size_t)c * P, *gc = st->count + (size_t)c * P;
        float *lc = st->trace + (size_t)c * P;
        const float *mc = st->mask ? st->mask + (size_t)c * P : NULL;
        for (int t = 0; t < tc; t++) {
            const float *Ic = I + ((size_t)c * tc + t) * P;
            float *yc = y + ((size_t)t * C + c) * P;
            const size_t base = (size_t)(t0 + t) * n + (size_t)c * P;
            for (size_t p = 0; p < P; p++) {
                float u = vc[p] + Ic[p];
                float s = u > th ? 1.0f : 0.0f; /* strictly greater (§1) */
                vc[p] = s > 0.0f ? 0.0f : leak * u;
                gc[p] += s;
                lc[p] = L->leak * lc[p] + s; /* LF ← λ·LF + s (§3); unused for IF */
                yc[p] = mc ? s * mc[p] : s;
                if (s > 0.0f && st->bits)
                    bit_set(st->bits, base + p);
            }
        }
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

SBP_HOT void sbp_neuron_backward(float *gI, const float *gy, const float *factor, sbp_neuron_state *st,
                         const sbp_layer *L, int t0, int tc)
{
    const int C = L->out_c;
    const size_t P = sbp_layer_positions(L), n = L->n_out;
    for (int c = 0; c < C; c++) {
        float *carry = st->carry + (size_t)c * P;
        const float *fc = factor + (size_t)c * P;
        for (int t = tc - 1; t >= 0; t--) {
            const float *gyc = gy + ((size_t)t * C + c) * P;
            float *gc = gI + ((size_t)c * tc + t) * P;
            size_t base = (size_t)(t0 + t) * n + (size_t)c * P;
            for (size_t p = 0; p < P; p++) {
                if (bit_get(st->bits, base + p))
                    carry[p] = fc[p] * gyc[p];
                gc[p] = carry[p];
            }
        }
    }
}
