/*
 * ops.h — the table of operations per layer kind (STYLE 5): each kind names its synapse
 * kernels; the engine never switches on the kind. `impl` picks the plain-loop reference or the
 * fast kernel where a layer kind has both.
 */
#ifndef SBP_LAYERS_OPS_H
#define SBP_LAYERS_OPS_H

#include "layers/layer.h"

typedef struct sbp_layer_ops {
    /* I (C_out, tc, P) from x (tc, C_in, H, W). */
    void (*current)(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                    float *ws, sbp_impl impl);
    /* dW += Σ_t gI ⊗ x (if the kind has weights); dx = (∂I/∂x)ᵀ gI, overwritten, NULL: skip. */
    void (*current_backward)(float *dx, float *dW, const float *gI, const float *x,
                             const float *W, const sbp_layer *L, int tc, float *ws,
                             sbp_impl impl);
    /* Floats of scratch for a chunk of tc steps. */
    size_t (*scratch)(const sbp_layer *L, int tc);
} sbp_layer_ops;

const sbp_layer_ops *sbp_layer_ops_of(sbp_layer_kind kind);

#endif
