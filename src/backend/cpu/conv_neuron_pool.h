/*
 * conv_neuron_pool.h — a first convolution of unit spikes, its spiking neurons and the 2×2
 * pooling above them in one pass (cpu backend, AVX-512; backend.h:
 * synapse_neuron_pool_forward).
 */
#ifndef SBP_BACKEND_CPU_CONV_NEURON_POOL_H
#define SBP_BACKEND_CPU_CONV_NEURON_POOL_H

#include "backend/backend.h"

/* Scratch floats sbp_conv_neuron_pool_forward needs for layer L over chunks of tc steps. */
size_t sbp_conv_neuron_pool_scratch(const sbp_layer *L, int tc);

/* What sbp_conv_forward_fast (into a current I) and then sbp_neuron_pool_forward (from I)
 * would do, bit for bit, without I: the pooling layer Pl's current Ip (tc, n_out of Pl) and
 * L's neuron state and bits, from L's input x (tc, n_in) and weights Wt (kernel layout).
 * Returns 0, doing nothing the caller sees, where the convolution would not use its input
 * patterns (not a convolution of one channel of values 0 and 1, too dense, too wide; see
 * conv_patterns.c) or the neurons+pooling pass would decline. ws: the scratch above. */
int sbp_conv_neuron_pool_forward(float *Ip, const float *x, const float *Wt,
                                 sbp_neuron_state *st, const sbp_layer *L, const sbp_layer *Pl,
                                 int t0, int tc, float *ws);

/* The exact backward of the three for a first layer (no input gradient), chunks from last to
 * first: what sbp_neuron_pool_backward (into a gI) and then the convolution's backward from x
 * (tc, n_in) would do — L's carry as those, dWt (kernel layout) += the same products in
 * another order — without gI. Returns 0, doing nothing the caller sees, where the convolution
 * would not take its event-driven weight gradient (more than one input channel, too dense; see
 * conv_wgrad.c) or the neurons+pooling backward would decline. ws: the scratch above. */
int sbp_conv_neuron_pool_backward(float *dWt, const float *gP, const float *factor,
                                  const float *x, sbp_neuron_state *st, const sbp_layer *L,
                                  const sbp_layer *Pl, int t0, int tc, float *ws);

#endif
