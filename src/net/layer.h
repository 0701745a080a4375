/*
 * layer.h — the geometry of one resolved layer and the signature every kernel follows.
 *
 * A layer is a synapse op (conv, dense or 2×2 average pool) feeding a neuron op (LIF, IF or a
 * non-spiking leaky integrator), §1. Kernels work on one chunk of `tc` consecutive steps,
 * time-major: one row of n neurons per step.
 *
 *   current(I, x, W, L, tc, ws)          I  (tc, n_out)  synaptic current per step
 *                                         x  (tc, n_in)   input spikes (scaled)
 *   current_backward(dx, dW, gI, x, W, L, tc, ws)
 *                                         dW += Σ_t gI[t] ⊗ x[t]   (accumulates)
 *                                         dx  = (∂I/∂x)ᵀ gI        (overwrites; NULL: skip)
 *
 * Within a row the neurons of a C×H×W map are ordered by the implementation (sbp_impl): the
 * reference keeps PyTorch's channel-first order (c, y, x); the fast path is channel-last
 * (y, x, c), so that an input event's taps and an output pixel's channels are contiguous.
 * Neuron recursions are elementwise and do not care; pooling, shortcuts and the synapse
 * kernels come in both, and the engine converts at its edges (input spikes, dropout masks,
 * sbp_engine_neuron).
 *
 * One gradient rule everywhere: parameter gradients accumulate (+=), activation gradients
 * overwrite. `ws` is scratch memory of at least sbp_layer_scratch() floats.
 */
#ifndef SBP_LAYERS_LAYER_H
#define SBP_LAYERS_LAYER_H

#include <stddef.h>

#include "spikebp.h"

typedef enum sbp_neuron {
    SBP_NEURON_LIF,        /* leak λ, threshold Vth, reset to 0 (§1) */
    SBP_NEURON_IF,         /* pooling: no leak, threshold θp (§1) */
    SBP_NEURON_INTEGRATOR, /* output: M[t] = λ(M[t−1] + I[t]), never spikes (§1) */
} sbp_neuron;

typedef struct sbp_layer {
    sbp_layer_spec spec;
    int in_c, in_h, in_w;    /* input shape */
    int out_c, out_h, out_w; /* output shape */
    size_t n_in, n_out;      /* in_c·in_h·in_w, out_c·out_h·out_w */
    size_t w_offset;         /* first weight in the parameter arena */
    size_t w_count;          /* number of weights (0 for pooling) */
    int fan_in;              /* k·k·C_in (conv), in features (dense) */
    sbp_neuron neuron;
    float leak, threshold;   /* neuron constants (threshold +inf for the integrator) */
    /* Residual shortcut (spec.shortcut != NONE): its own geometry, with kind CONV, kernel 1,
     * the layer's stride, padding 0, input = the block input, output = this layer's output;
     * w_offset/w_count of the shortcut give its weights (0 for parameter-free shortcuts). */
    struct sbp_layer *sc;
} sbp_layer;

static inline size_t sbp_layer_positions(const sbp_layer *L)
{
    return (size_t)L->out_h * (size_t)L->out_w;
}

#endif
