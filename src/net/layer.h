/*
 * layer.h — the geometry of one resolved layer (shapes, weight offsets, neuron model and
 * constants), as shape inference (net.c, kinds/) fills it in: a synapse op (conv, dense or 2×2
 * average pool) feeding a neuron model (LIF, IF or a non-spiking leaky integrator), §1. What
 * computes it is a backend's business (backend/backend.h: the operations, their signatures and
 * row layouts).
 */
#ifndef SBP_NET_LAYER_H
#define SBP_NET_LAYER_H

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
