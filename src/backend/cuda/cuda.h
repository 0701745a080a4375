/*
 * cuda.h — the cuda backend's operations (backend.h), implemented in CUDA C (*.cu, compiled by
 * nvcc) and collected into the table sbp_backend_cuda by table.c. C linkage, so that the C11
 * table calls them like any other function. All of src/backend/cuda is one plugin,
 * libspikebp-cuda.so, loaded by the library on first use (plugin.h): nothing here is visible
 * outside it but the entry point.
 *
 * Layout (the same as the reference backend, so tests compare them element by element):
 *   - rows are channel-first (c, y, x) within a step, time-major over a chunk: (tc, C, H, W);
 *   - weights stay in PyTorch layout: conv (Cout, Cin, k, k) = a row-major (Cout, Cin·k·k)
 *     matrix, dense (out, in); weights_in is a copy to the device, grad_out a copy back + add;
 *   - spike bits as sbp_spike_bit defines them: one 64-bit-aligned row per step, neuron i at
 *     bit i of the row (written 32 bits at a time, one warp ballot per 32 neurons).
 *
 * Memory and streams: every buffer is device memory from cudaMalloc. Every operation is queued
 * on the calling host thread's default stream (cudaStreamPerThread; the .cu files are built
 * with --default-stream per-thread), so the engines of several OpenMP workers run on separate
 * streams. The points where the host waits: read_output, grad_out, weights_in (so that other
 * workers' streams see the new weights), reduce (cudaDeviceSynchronize first: it sums every
 * worker's gradient) and sgd (returns a host value). cuBLAS is loaded at run time and runs on
 * one handle per host thread (blas.cu: the table has no context argument to hold them).
 *
 * Not supported: nothing; st->history (analysis) is copied to the host step by step, which is
 * slow but exact (analysis is meant for the cpu backend).
 */
#ifndef SBP_BACKEND_CUDA_CUDA_H
#define SBP_BACKEND_CUDA_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" { /* the library's C headers, and the functions below, have C linkage */
#endif

#include "backend/backend.h"

/* The table (table.c). */
extern const sbp_backend sbp_backend_cuda;

/* 1 when a CUDA device can be used from this process (and a cuBLAS handle made on this
 * thread); else 0 with why (cap bytes) naming the reason as the CUDA runtime gives it. */
int sbp_cuda_usable(char *why, size_t cap);

/* The library's sbp_input_values (data/encode.h), lent to the plugin when it was opened
 * (plugin.cu). */
void sbp_cuda_input_values(float *xval, const sbp_input *in, int C, size_t P);

/* buffers and vector helpers (backend.cu) */
void *sbp_cuda_alloc(size_t bytes);
void sbp_cuda_release(void *p);
void sbp_cuda_zero(void *p, size_t bytes);
void sbp_cuda_copy(void *dst, const void *src, size_t bytes);
int sbp_cuda_chunk_steps(const sbp_net *net, int T, int tc_override);
void sbp_cuda_add(float *y, const float *x, size_t n);
void sbp_cuda_add_rows(float *sum, const float *x, size_t n, int steps);
void sbp_cuda_fill_rows(float *rows, const float *g, float div, size_t n, int steps);
void sbp_cuda_read_output(float *out, const float *v, size_t n, float div);
void sbp_cuda_reduce(float *const *g, int workers, size_t n, int threads);
long sbp_cuda_sgd(float *w, float *g, size_t n, float lr, float wd, int threads);

/* synapses (synapse.cu): conv = im2col + cuBLAS SGEMM, dense = cuBLAS SGEMM, pool and the
 * parameter-free shortcuts = one kernel each */
void sbp_cuda_conv_forward(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                           float *ws);
void sbp_cuda_conv_backward(float *dx, float *dW, const float *gI, const float *x,
                            const float *W, const sbp_layer *L, int tc, float *ws);
size_t sbp_cuda_conv_scratch(const sbp_layer *L, int tc);
void sbp_cuda_dense_forward(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                            float *ws);
void sbp_cuda_dense_backward(float *dx, float *dW, const float *gI, const float *x,
                             const float *W, const sbp_layer *L, int tc, float *ws);
void sbp_cuda_pool_forward(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                           float *ws);
void sbp_cuda_pool_backward(float *dx, float *dW, const float *gI, const float *x,
                            const float *W, const sbp_layer *L, int tc, float *ws);
size_t sbp_cuda_no_scratch(const sbp_layer *L, int tc);
void sbp_cuda_weights_in(float *Wk, const float *W, const sbp_layer *L);
void sbp_cuda_grad_out(float *dW, const float *dWk, const sbp_layer *L);
void sbp_cuda_shortcut_add(float *I, const float *x, const sbp_layer *sc, int tc);
void sbp_cuda_shortcut_add_backward(float *dx, const float *gI, const sbp_layer *sc, int tc);

/* neurons (neuron.cu) */
void sbp_cuda_neuron_reset(sbp_neuron_state *st, const sbp_layer *L);
void sbp_cuda_neuron_forward(float *y, const float *I, sbp_neuron_state *st, const sbp_layer *L,
                             int t0, int tc);
void sbp_cuda_neuron_surrogate(float *factor, const sbp_neuron_state *st, const sbp_layer *L,
                               sbp_backward mode);
void sbp_cuda_neuron_backward(float *gI, const float *gy, const float *factor,
                              sbp_neuron_state *st, const sbp_layer *L, int t0, int tc);
void sbp_cuda_mul(float *gI, const float *gy, const float *factor, size_t n);
void sbp_cuda_spikes_unpack(float *y, const uint64_t *bits, const float *mask, size_t n, int t0,
                            int steps);

/* input and masks (encode.cu): the same Philox draws as data/encode.c and backend/host */
void sbp_cuda_encode_values(float *xval, const sbp_input *in, const sbp_layer *L0);
void sbp_cuda_encode(float *x, float *stage, const sbp_input *in, const float *xval,
                     const sbp_layer *L0, int t0, int steps);
void sbp_cuda_spikes_keep8(int8_t *dst, const float *x, size_t count);
void sbp_cuda_spikes_load8(float *x, const int8_t *src, size_t count);
void sbp_cuda_dropout_mask(float *mask, const sbp_layer *L, int l, sbp_rng_key key,
                           uint32_t epoch, uint32_t sample);

#ifdef __cplusplus
}
#endif

#endif
