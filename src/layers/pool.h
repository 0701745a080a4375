/*
 * pool.h — 2×2 average pooling, stride 2 (§1), as the synapse op of a pooling layer whose IF
 * neurons live in neuron.c. x (tc, C, H, W) → I (C, tc, H/2·W/2); odd edges are dropped as in
 * PyTorch's avg_pool2d. Backward: each of the 4 pooled inputs receives gI/4 (§3). No weights.
 * Cheap and elementwise, so there is a single implementation (it is its own reference).
 */
#ifndef SBP_LAYERS_POOL_H
#define SBP_LAYERS_POOL_H

#include "layers/layer.h"

void sbp_pool_forward(float *I, const float *x, const sbp_layer *L, int tc);
void sbp_pool_backward(float *dx, const float *gI, const sbp_layer *L, int tc);

#endif
