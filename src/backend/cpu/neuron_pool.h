/*
 * neuron_pool.h — a spiking convolution layer's neurons and the 2×2 average pooling above them
 * in one pass, forward and exact backward (cpu backend, AVX-512; backend.h:
 * neuron_forward_pool, neuron_backward_pool).
 */
#ifndef SBP_BACKEND_CPU_NEURON_POOL_H
#define SBP_BACKEND_CPU_NEURON_POOL_H

#include "backend/backend.h"

/* Scratch floats sbp_neuron_pool_forward needs for layer L over chunks of tc steps. */
size_t sbp_neuron_pool_scratch(const sbp_layer *L, int tc);

/* Advances L's neurons over steps t0 … t0+tc−1 from I (tc, n_out of L), as the host's
 * sbp_neuron_forward does (the same v, γ, LF and spike bits), and writes the pooling layer P's
 * current (tc, n_out of P) as its synapse would from L's spikes — without writing L's spikes.
 * Returns 0, doing nothing, where it does not apply: no AVX-512, a dropout mask on L (the pool
 * would then sum scaled values, whose order matters), a map of odd size, or spike bits to keep
 * (exact mode) on a layer whose image rows are not whole 16-neuron words: placing each
 * vector's bits there (ORed across words, or staged and shifted in per row) cost what the
 * fusion saves (LeNet's 14×14×50: 6.4 µs per chunk apart, 6.3–7.3 µs fused).
 * ws: sbp_neuron_pool_scratch. */
int sbp_neuron_pool_forward(float *P, const float *I, sbp_neuron_state *st, const sbp_layer *L,
                            const sbp_layer *Pl, int t0, int tc, float *ws);

/* Whether sbp_neuron_pool_forward runs (its conditions above). */
int sbp_neuron_pool_forward_applies(const sbp_neuron_state *st, const sbp_layer *L,
                                    const sbp_layer *Pl);

/* Where the current comes from in sbp_neuron_pool_forward_rows: fill writes image rows
 * y0 … y0 + rows − 1 of L's current for steps 0 … tc − 1 of the chunk, row y of step t at
 * I + t·tstride + (y − y0)·out_w·out_c. */
typedef struct sbp_current_rows {
    void (*fill)(float *I, size_t tstride, int y0, int rows, int tc, const void *ctx);
    const void *ctx;
} sbp_current_rows;

/* sbp_neuron_pool_forward with the current made two image rows at a time by src, into a
 * buffer in ws that stays in L1, instead of read from a whole chunk of it: the same results
 * from the same currents. Only the rows of the windows outside the quiet margins are asked
 * for. ws: sbp_neuron_pool_rows_scratch floats. */
int sbp_neuron_pool_forward_rows(float *P, const sbp_current_rows *src, sbp_neuron_state *st,
                                 const sbp_layer *L, const sbp_layer *Pl, int t0, int tc,
                                 float *ws);
size_t sbp_neuron_pool_rows_scratch(const sbp_layer *L, int tc);

/* The exact backward of the two over steps t0 … t0+tc−1 (chunks from last to first), from the
 * pooling layer's current gradient gP (tc, n_out of P): L's neurons' gI (tc, n_out of L) and
 * carry as sbp_neuron_backward computes them from the gradient the pooling's backward would
 * give, without writing that. Declines as the forward does, except that a dropout mask (it is
 * in factor) and bits anywhere in a row are fine. ws: sbp_neuron_pool_scratch. */
int sbp_neuron_pool_backward(float *gI, const float *gP, const float *factor,
                             sbp_neuron_state *st, const sbp_layer *L, const sbp_layer *Pl,
                             int t0, int tc, float *ws);

/* Where the gradient goes in sbp_neuron_pool_backward_rows: take receives image rows y0 … y0 +
 * rows − 1 of L's gI for steps 0 … tc − 1 of the chunk, row y of step t at
 * g + t·tstride + (y − y0)·out_w·out_c. */
typedef struct sbp_grad_rows {
    void (*take)(const float *g, size_t tstride, int y0, int rows, int tc, void *ctx);
    void *ctx;
} sbp_grad_rows;

/* sbp_neuron_pool_backward with gI made two image rows at a time into a buffer in ws that stays
 * in L1 and handed to dst, instead of written for the whole chunk: the same values, and the
 * same carry. Rows outside the quiet margins' windows, all 0, are not handed over. Declines as
 * sbp_neuron_pool_backward does, before dst is called. ws: sbp_neuron_pool_rows_scratch floats. */
int sbp_neuron_pool_backward_rows(const sbp_grad_rows *dst, const float *gP,
                                  const float *factor, sbp_neuron_state *st, const sbp_layer *L,
                                  const sbp_layer *Pl, int t0, int tc, float *ws);

#endif
