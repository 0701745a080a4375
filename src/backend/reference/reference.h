/*
 * reference.h — the reference backend's synapse kernels: direct loops that state the maths
 * (§1 forward, §3 backward), one row per step in PyTorch's channel-first order
 * (x (tc, Cin, H, W), I (tc, Cout, Ho, Wo)), weights in PyTorch layout. The conv and dense
 * kernels have backend.h's sbp_synapse_ops signature (they take no scratch: ws is ignored), so
 * the table and the tests use them as they are. The oracle of every other backend.
 */
#ifndef SBP_BACKEND_REFERENCE_REFERENCE_H
#define SBP_BACKEND_REFERENCE_REFERENCE_H

#include "net/layer.h"

void sbp_conv_forward_ref(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                          float *ws);
void sbp_conv_backward_ref(float *dx, float *dW, const float *gI, const float *x, const float *W,
                           const sbp_layer *L, int tc, float *ws);
void sbp_dense_forward_ref(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                           float *ws);
void sbp_dense_backward_ref(float *dx, float *dW, const float *gI, const float *x,
                            const float *W, const sbp_layer *L, int tc, float *ws);
void sbp_pool_forward_ref(float *I, const float *x, const sbp_layer *L, int tc);
void sbp_pool_backward_ref(float *dx, const float *gI, const sbp_layer *L, int tc);

#endif
