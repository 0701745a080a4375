/*
 * host.h — the operations both host backends (reference and cpu) share: buffers in ordinary
 * memory, the vector helpers, input encoding, dropout masks, the workers' gradient reduction
 * and the SGD step. Each is the plain loop; the backends differ in their synapse kernels, their
 * neuron order within a row and their chunk length (backend.h), not here.
 */
#ifndef SBP_BACKEND_HOST_HOST_H
#define SBP_BACKEND_HOST_HOST_H

#include "backend/backend.h"

void *sbp_host_alloc(size_t bytes);
void sbp_host_release(void *p);
void sbp_host_zero(void *p, size_t bytes);
void sbp_host_copy(void *dst, const void *src, size_t bytes);

void sbp_host_add(float *y, const float *x, size_t n);
void sbp_host_add_rows(float *sum, const float *x, size_t n, int steps);
void sbp_host_fill_rows(float *rows, const float *g, float div, size_t n, int steps);
void sbp_host_read_output(float *out, const float *v, size_t n, float div);
void sbp_host_mul(float *gI, const float *gy, const float *factor, size_t n);

void sbp_host_spikes_unpack(float *y, const uint64_t *bits, const float *mask, size_t n, int t0,
                            int steps);
void sbp_host_encode_values(float *xval, const sbp_input *in, const sbp_layer *L0);
void sbp_host_encode(float *x, float *stage, const sbp_input *in, const float *xval,
                     const sbp_layer *L0, int t0, int steps);
void sbp_host_spikes_keep8(int8_t *dst, const float *x, size_t count);
void sbp_host_spikes_load8(float *x, const int8_t *src, size_t count);
/* The dropout draw of backend.h with the neuron order given by index(L, i). */
void sbp_host_dropout_mask(float *mask, const sbp_layer *L, int l, sbp_rng_key key,
                           uint32_t epoch, uint32_t sample,
                           size_t (*index)(const sbp_layer *L, size_t i));

void sbp_host_reduce(float *const *g, int workers, size_t n, int threads);
long sbp_host_sgd(float *w, float *g, size_t n, float lr, float wd, int threads);

/* The operations both host backends take as they are (a designated-initializer list for their
 * tables): buffers in ordinary memory, the neurons, encoding, vector helpers, reduction, SGD. */
#define SBP_HOST_OPERATIONS                                                                    \
    .host_memory = 1,                                                                          \
    .alloc = sbp_host_alloc, .release = sbp_host_release, .zero = sbp_host_zero,              \
    .copy = sbp_host_copy, .neuron_reset = sbp_neuron_reset,                                  \
    .neuron_forward = sbp_neuron_forward, .neuron_surrogate = sbp_neuron_surrogate,           \
    .neuron_backward = sbp_neuron_backward, .neuron_backward_aggregate = sbp_host_mul,        \
    .spikes_unpack = sbp_host_spikes_unpack, .encode_values = sbp_host_encode_values,         \
    .encode = sbp_host_encode, .spikes_keep8 = sbp_host_spikes_keep8,                         \
    .spikes_load8 = sbp_host_spikes_load8, .add = sbp_host_add, .add_rows = sbp_host_add_rows, \
    .fill_rows = sbp_host_fill_rows, .read_output = sbp_host_read_output,                     \
    .reduce = sbp_host_reduce, .sgd = sbp_host_sgd

#endif
