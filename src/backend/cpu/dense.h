/*
 * dense.h — fully connected synapses (hidden LIF layers and the output integrator, §1).
 * The cpu backend's kernels, time-major (backend/backend.h): x (tc, in), I and gI (tc, out);
 * the variants mirror conv.h: *_gemm, *_sparse and *_fast with Wt (in, out) in kernel
 * layout, its rows in the channel-last order (h, w, c) of the fast path's input, and the same
 * dx contract for the sparse kernel (exact where x ≠ 0, 0 elsewhere).
 */
#ifndef SBP_BACKEND_CPU_DENSE_H
#define SBP_BACKEND_CPU_DENSE_H

#include "net/layer.h"

size_t sbp_dense_scratch(const sbp_layer *L, int tc);


void sbp_dense_to_kernel_layout(float *Wt, const float *W, const sbp_layer *L);
void sbp_dense_add_from_kernel_layout(float *dW, const float *dWt, const sbp_layer *L);

void sbp_dense_forward_gemm(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc);
void sbp_dense_backward_gemm(float *dx, float *dWt, const float *gI, const float *x,
                             const float *Wt, const sbp_layer *L, int tc);
void sbp_dense_forward_sparse(float *I, const float *x, const float *Wt, const sbp_layer *L,
                              int tc, float *ws);
void sbp_dense_backward_sparse(float *dx, float *dWt, const float *gI, const float *x,
                               const float *Wt, const sbp_layer *L, int tc, float *ws);
void sbp_dense_forward_fast(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc,
                            float *ws);
/* sbp_dense_forward_fast given x's event lists (events.h): the same I without scanning x. */
void sbp_dense_forward_events(float *I, const float *x, const void *ev, const float *Wt,
                              const sbp_layer *L, int tc, float *ws);
void sbp_dense_backward_fast(float *dx, float *dWt, const float *gI, const float *x,
                             const float *Wt, const sbp_layer *L, int tc, float *ws);
/* sbp_dense_backward_fast given x's event lists (events.h: sbp_events_unpack): the same dW
 * and dx without scanning x. */
void sbp_dense_backward_events(float *dx, float *dWt, const float *gI, const float *x,
                               void *ev, const float *Wt, const sbp_layer *L, int tc, float *ws);

#endif
