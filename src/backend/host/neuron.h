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
#ifndef SBP_BACKEND_HOST_NEURON_H
#define SBP_BACKEND_HOST_NEURON_H

#include <stdint.h>

#include "backend/backend.h"

/* y (n) = one step's spikes from its bit row, times the dropout scale mask (n) if not NULL:
 * what the layer's forward output was at that step (exact backward). */
void sbp_spikes_unpack(float *y, const uint64_t *row, const float *mask, size_t n);

/* Zeroes v, count, trace and carry (start of a sample's window). */
void sbp_neuron_reset(sbp_neuron_state *st, const sbp_layer *L);

/* Advances steps t0 … t0+tc−1. I (tc, n) current; y (tc, n) output spikes × mask
 * (NULL for the integrator, which has no output). */
void sbp_neuron_forward(float *y, const float *I, sbp_neuron_state *st, const sbp_layer *L,
                        int t0, int tc);

/* Where sbp_neuron_forward_lists writes a chunk's spikes as lists: step t's nonzero outputs
 * y[t][i] as idx[t·stride + k] = i (ascending) and val[t·stride + k] = y[t][i], k < count[t].
 * stride ≥ n + 16: the vector path stores 16 entries at a time past the last one. */
typedef struct sbp_spike_lists {
    uint32_t *idx;
    float *val;
    size_t *count; /* (tc) */
    size_t stride;
} sbp_spike_lists;

/* sbp_neuron_forward for a spiking layer that also lists each step's nonzero outputs (what an
 * event-driven synapse above would otherwise find by scanning y). Same y, state and bits; y
 * may be NULL, where only the lists are read. */
void sbp_neuron_forward_lists(float *y, sbp_spike_lists *out, const float *I,
                              sbp_neuron_state *st, const sbp_layer *L, int t0, int tc);

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
