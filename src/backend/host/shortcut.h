/*
 * shortcut.h — the parameter-free residual shortcuts of §1: the stride-2 subsample
 * (out[i,j] = in[2i,2j]) and the identity. The 1×1 convolution shortcut uses conv.h with the
 * shortcut's own geometry (layer.h, sbp_layer.sc). Both functions ADD into their output: the
 * forward into the layer's current, the backward into the block input's gradient (a fan-in
 * point, §3 "gradients ... are summed"). Time-major rows, channel-first or channel-last
 * (net/layer.h) as the calling backend keeps its neurons: one loop for both host backends.
 */
#ifndef SBP_BACKEND_HOST_SHORTCUT_H
#define SBP_BACKEND_HOST_SHORTCUT_H

#include "net/layer.h"

/* I (tc, n_out) += x (tc, n_in) sampled at stride sc->spec.stride. */
void sbp_shortcut_forward_add(float *I, const float *x, const sbp_layer *sc, int tc,
                              int channel_last);
/* dx (tc, n_in) += the adjoint: gI scattered back to the sampled positions. */
void sbp_shortcut_backward_add(float *dx, const float *gI, const sbp_layer *sc, int tc,
                               int channel_last);

#endif
