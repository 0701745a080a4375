/*
 * conv.h — 2-D convolution synapses (§1: k×k, stride, zero padding, no bias), all steps of a
 * chunk at once. Weights (C_out, C_in, k, k); cross-correlation as in PyTorch's conv2d.
 * Signatures follow layer.h. *_ref are the plain-loop oracles; *_fast use im2col + SGEMM.
 */
#ifndef SBP_LAYERS_CONV_H
#define SBP_LAYERS_CONV_H

#include "layers/layer.h"

/* Floats of scratch the fast kernels need for a chunk of tc steps. */
size_t sbp_conv_scratch(const sbp_layer *L, int tc);

void sbp_conv_forward_ref(float *I, const float *x, const float *W, const sbp_layer *L, int tc);
void sbp_conv_backward_ref(float *dx, float *dW, const float *gI, const float *x, const float *W,
                           const sbp_layer *L, int tc);
void sbp_conv_forward_fast(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                           float *ws);
void sbp_conv_backward_fast(float *dx, float *dW, const float *gI, const float *x,
                            const float *W, const sbp_layer *L, int tc, float *ws);

#endif
