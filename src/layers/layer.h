/*
 * layer.h — the signature every kernel follows, over the geometry of net/layer.h.
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

#include "net/layer.h" /* sbp_layer: the geometry the kernels read */

#endif
