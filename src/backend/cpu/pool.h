/*
 * pool.h — 2×2 average pooling, stride 2 (§1), as the synapse op of a pooling layer whose IF
 * neurons live in neuron.c. Odd edges are dropped as in PyTorch's avg_pool2d. Backward: each of
 * the 4 pooled inputs receives gI/4 (§3). No weights.
 *
 * Time-major (backend/backend.h), channel-last: x (tc, H, W, C) → I (tc, H/2, W/2, C). The
 * arithmetic is the reference's (backend/reference/pool.c, channel-first) (a + b + c + d)/4 in
 * the same order, so the two agree bit for bit after the layout change.
 */
#ifndef SBP_BACKEND_CPU_POOL_H
#define SBP_BACKEND_CPU_POOL_H

#include "net/layer.h"

void sbp_pool_forward_fast(float *I, const float *x, const sbp_layer *L, int tc);
void sbp_pool_backward_fast(float *dx, const float *gI, const sbp_layer *L, int tc);

#endif
