/*
 * neuron.h — the three neuron models of §1 over a chunk of tc steps, and the per-neuron
 * backward of §3.
 *
 *   LIF         U = V + I;  s = [U > Vth];  V = λ(1 − s)U            (hidden conv/dense)
 *   IF          U = V + I;  s = [U > θp];   V = (1 − s)U            (pooling, λ = 1)
 *   INTEGRATOR  M = λ(M + I)                                        (output, o = M[T−1]/T)
 *
 * Spiking neurons also keep γ (spike count) and LF (leaky spike trace, LF ← λ·LF + s) for the
 * approximate derivative NG = 1 + ln(λ)·LF/γ (0 if γ = 0) of §3.
 */
#ifndef SBP_LAYERS_NEURON_H
#define SBP_LAYERS_NEURON_H

#include <stdint.h>

#include "layers/layer.h"

/* Per-sample state of one layer's neurons; every array has n_out entries unless noted. */
typedef struct sbp_neuron_state {
    float *v;        /* membrane (threshold units) after the last processed step */
    float *count;    /* γ: spikes so far; NULL when nobody reads it (evaluation) */
    float *trace;    /* LF: leaky spike trace; NULL when no backward will run (inference) */
    const float *mask; /* dropout scale per neuron, 0 or 1/(1−p); NULL = none (§1) */
    uint64_t *bits;  /* (T, row words) spike bits for exact backward, one 64-bit-aligned row
                        per step (sbp_spike_bit); NULL when not kept */
    float *carry;    /* g_U[t0 + tc] carried between backward chunks */
    float *history;  /* integrator only, optional: (T, n_out) membrane after every step */
} sbp_neuron_state;

/* 64-bit words of one step's row of spike bits for n neurons. */
static inline size_t sbp_spike_row_words(size_t n)
{
    return (n + 63) / 64;
}

/* Spike of neuron i at step t: bit sbp_spike_bit(n, t, i) of the bits array. */
static inline size_t sbp_spike_bit(size_t n, int t, size_t i)
{
    return (size_t)t * sbp_spike_row_words(n) * 64 + i;
}

static inline int sbp_spike_get(const uint64_t *bits, size_t b)
{
    return (int)((bits[b >> 6] >> (b & 63)) & 1u);
}

/* y (n) = one step's spikes from its bit row, times the dropout scale mask (n) if not NULL:
 * what the layer's forward output was at that step (exact backward). */
void sbp_spikes_unpack(float *y, const uint64_t *row, const float *mask, size_t n);

/* Zeroes v, count, trace and carry (start of a sample's window). */
void sbp_neuron_reset(sbp_neuron_state *st, const sbp_layer *L);

/* Advances steps t0 … t0+tc−1. I (tc, n) current; y (tc, n) output spikes × mask
 * (NULL for the integrator, which has no output). */
void sbp_neuron_forward(float *y, const float *I, sbp_neuron_state *st, const sbp_layer *L,
                        int t0, int tc);

/* The factor that turns ∂L/∂y into ∂L/∂s at the end of the window (§3):
 *   LIF: NG·mask/Vth;  IF: 1 in exact mode, [γ > 0] in aggregate mode. */
void sbp_neuron_surrogate(float *factor, const sbp_neuron_state *st, const sbp_layer *L,
                          sbp_backward mode);

/* Exact-mode backward over steps t0 … t0+tc−1, called for chunks from the last to the first:
 *   g_s[t] = factor ⊙ gy[t];  g_U[t] = s[t]·g_s[t] + (1 − s[t])·g_U[t+1];  gI[t] = g_U[t].
 * gy (tc, n); gI (tc, n) (overwritten). Spiking neurons only. */
void sbp_neuron_backward(float *gI, const float *gy, const float *factor, sbp_neuron_state *st,
                         const sbp_layer *L, int t0, int tc);

#endif
