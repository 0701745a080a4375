/*
 * dense.h — fully connected synapses (hidden LIF layers and the output integrator, §1).
 * Weights (out, in), `in` flattened in (c, h, w) order. x (tc, in); I, gI (out, tc).
 * Signatures follow layer.h.
 */
#ifndef SBP_LAYERS_DENSE_H
#define SBP_LAYERS_DENSE_H

#include "layers/layer.h"

void sbp_dense_forward_ref(float *I, const float *x, const float *W, const sbp_layer *L, int tc);
void sbp_dense_backward_ref(float *dx, float *dW, const float *gI, const float *x,
                            const float *W, const sbp_layer *L, int tc);
void sbp_dense_forward_fast(float *I, const float *x, const float *W, const sbp_layer *L, int tc);
void sbp_dense_backward_fast(float *dx, float *dW, const float *gI, const float *x,
                             const float *W, const sbp_layer *L, int tc);

#endif
