/*
 * ops.h — the table of operations per layer kind (STYLE 5): each kind names its synapse
 * kernels; the engine never switches on the kind. `impl` picks the plain-loop reference or the
 * fast kernel where a layer kind has both.
 *
 * Weights reach the kernels in the implementation's layout: PyTorch layout for the reference,
 * "kernel layout" (the transpose, see conv.h) for the fast path. to_impl converts a layer's
 * weights into it and add_from_impl adds an implementation-layout gradient back into a
 * PyTorch-layout one.
 */
#ifndef SBP_LAYERS_OPS_H
#define SBP_LAYERS_OPS_H

#include "layers/layer.h"

typedef struct sbp_layer_ops {
    /* I (tc, n_out) from x (tc, n_in), in impl's layout (layer.h). */
    void (*current)(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                    float *ws, sbp_impl impl);
    /* dW += Σ_t gI ⊗ x (if the kind has weights); dx = (∂I/∂x)ᵀ gI, overwritten, NULL: skip. */
    void (*current_backward)(float *dx, float *dW, const float *gI, const float *x,
                             const float *W, const sbp_layer *L, int tc, float *ws,
                             sbp_impl impl);
    /* Floats of scratch for a chunk of tc steps. */
    size_t (*scratch)(const sbp_layer *L, int tc);
    /* Wk = W in impl's layout; dW += dWk converted back. NULL for kinds without weights. */
    void (*to_impl)(float *Wk, const float *W, const sbp_layer *L, sbp_impl impl);
    void (*add_from_impl)(float *dW, const float *dWk, const sbp_layer *L, sbp_impl impl);
} sbp_layer_ops;

const sbp_layer_ops *sbp_layer_ops_of(sbp_layer_kind kind);

#endif
