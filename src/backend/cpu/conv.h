/*
 * conv.h — 2-D convolution synapses (§1: k×k, stride, zero padding, no bias), all steps of a
 * chunk at once; cross-correlation as in PyTorch's conv2d: the cpu backend's kernels
 * (backend/backend.h has the signature; the reference loops are backend/reference/conv.c).
 *
 * *_gemm  im2col + SGEMM; *_sparse event-driven scatter over the input's nonzeros;
 * *_fast  picks one of the two per chunk from the input's density.
 * They work channel-last (x (tc, H, W, Cin), I (tc, Ho, Wo, Cout)) and take weights Wt and
 * accumulate gradients dWt in kernel layout: for each input channel ci and kernel row ky one
 * block of sbp_conv_block(L) floats, the k·Cout weights of the row's taps r = k − 1 − kx
 * (mirrored, so that an input event's taps along a row are one run, conv.c), Cout apiece, then
 * zeros up to a whole number of vectors, so that every block starts on a 64-byte line (LeNet's
 * 20 → 50 blocks of 250 floats started anywhere, and the loads that straddled two lines cost
 * its forward 10 %); converted with the two *_kernel_layout functions.
 *
 * The input gradient dx of the sparse kernel is computed only where x ≠ 0 and is 0 elsewhere.
 * That is all a spiking layer below ever reads: its g_s[t] matters only at steps where it
 * spiked (§3 recursion), and where it spiked but dropout zeroed its output, its factor is 0.
 * The gemm kernel (like the reference) computes dx everywhere.
 */
#ifndef SBP_BACKEND_CPU_CONV_H
#define SBP_BACKEND_CPU_CONV_H

#include "net/layer.h"

/* Stride 1: the kernel indices j ∈ [*lo, *hi] whose output o = i + pad − j lies in [0, out)
 * (empty when *lo > *hi) — the taps of input coordinate i along one axis. */
static inline void sbp_conv_taps_s1(int i, int pad, int k, int out, int *lo, int *hi)
{
    const int a = i + pad - out + 1, b = i + pad;
    *lo = a > 0 ? a : 0;
    *hi = b < k - 1 ? b : k - 1;
}

/* Floats of one (input channel, kernel row) block of the kernel layout: k·Cout rounded up to 16. */
static inline size_t sbp_conv_block(const sbp_layer *L)
{
    return ((size_t)L->spec.kernel * (size_t)L->out_c + 15) & ~(size_t)15;
}

/* Where weight (ci, ky, tap r = k − 1 − kx) starts in the kernel layout (Cout floats). */
static inline size_t sbp_conv_wt(const sbp_layer *L, int ci, int ky, int r)
{
    return ((size_t)ci * (size_t)L->spec.kernel + (size_t)ky) * sbp_conv_block(L) +
           (size_t)r * (size_t)L->out_c;
}

/* Floats of the kernel layout: Cin · k blocks (backend.h: weights_floats). */
size_t sbp_conv_weights_floats(const sbp_layer *L);

/* Floats of scratch the fast kernels need for a chunk of tc steps (64-byte aligned). */
size_t sbp_conv_scratch(const sbp_layer *L, int tc);


/* Wt (kernel layout, sbp_conv_weights_floats, padding included) = W (PyTorch layout). */
void sbp_conv_to_kernel_layout(float *Wt, const float *W, const sbp_layer *L);
/* dW (PyTorch layout) += dWt (kernel layout). */
void sbp_conv_add_from_kernel_layout(float *dW, const float *dWt, const sbp_layer *L);

void sbp_conv_forward_gemm(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc,
                           float *ws);
void sbp_conv_backward_gemm(float *dx, float *dWt, const float *gI, const float *x,
                            const float *Wt, const sbp_layer *L, int tc, float *ws);
void sbp_conv_forward_sparse(float *I, const float *x, const float *Wt, const sbp_layer *L,
                             int tc, float *ws);
void sbp_conv_backward_sparse(float *dx, float *dWt, const float *gI, const float *x,
                              const float *Wt, const sbp_layer *L, int tc, float *ws);
/* The event-driven forward in output-stationary form (conv_pull.c): returns 0, doing nothing,
 * where the CPU lacks AVX-512 (then the scatter form runs). Scratch: sbp_conv_pull_scratch. */
int sbp_conv_forward_pull(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc,
                          float *ws);
size_t sbp_conv_pull_scratch(const sbp_layer *L);
/* Whether sbp_conv_forward_pull runs here (AVX-512, kernel ≤ 16). */
int sbp_conv_pull_usable(const sbp_layer *L);

/* The first layer's forward by input patterns (conv_patterns.c): one input channel of values 0
 * and 1, stride 1, k ≤ 5, Cout ≤ 32, in_w + 2·pad ≤ 64, AVX-512. Returns 0 where it does not
 * apply (then I may hold anything: the caller's other forward overwrites it); else I, summed in
 * another order than the reference. Scratch: sbp_conv_patterns_scratch. */
int sbp_conv_forward_patterns(float *I, const float *x, const float *Wt, const sbp_layer *L,
                              int tc, float *ws);
size_t sbp_conv_patterns_scratch(const sbp_layer *L, int tc);
int sbp_conv_patterns_usable(const sbp_layer *L);
/* sbp_conv_forward_patterns in two parts, for a caller that takes the output a few rows at a
 * time (conv_neuron_pool.c): prepare reads x and the weights into ws (returning 0 where the
 * patterns do not apply, as above), then rows writes output rows oy0 … oy0 + rows − 1 of every
 * step, row oy of step t at I + t·tstride + (oy − oy0)·out_w·out_c — the same values. */
int sbp_conv_patterns_prepare(float *ws, const float *x, const float *Wt, const sbp_layer *L,
                              int tc);
void sbp_conv_patterns_rows(float *I, size_t tstride, int oy0, int rows, const float *ws,
                            const sbp_layer *L, int tc);
/* Where sbp_conv_forward_fast gathers x by input patterns: ws prepared as above, 1; else 0. */
int sbp_conv_forward_fast_patterns(float *ws, const float *x, const float *Wt,
                                   const sbp_layer *L, int tc);

/* The event-driven forward by input column (conv_cols.c): returns 0, doing nothing, where it
 * does not apply (no AVX-512, stride ≠ 1, k·Cout > 256); else the scatter's I summed in
 * another order. Scratch (after the event lists): sbp_conv_cols_scratch. */
struct sbp_events;
int sbp_conv_forward_cols(float *I, const struct sbp_events *ev, const float *Wt,
                          const sbp_layer *L, int tc, float *ws);
size_t sbp_conv_cols_scratch(const sbp_layer *L);
int sbp_conv_cols_usable(const sbp_layer *L);

/* The two event-driven backwards sbp_conv_backward_sparse chooses between: the scatter, and
 * the weight gradient in registers (conv_wgrad.c), which returns 0, doing nothing, where it
 * does not apply (no AVX-512, stride ≠ 1, k·Cout > 256, maps over 256 × 256) and otherwise
 * gives the scatter's result bit for bit. Scratch: sbp_conv_wgrad_scratch. */
void sbp_conv_backward_scatter(float *dx, float *dWt, const float *gI, const float *x,
                               const float *Wt, const sbp_layer *L, int tc, float *ws);
int sbp_conv_backward_wgrad(float *dx, float *dWt, const float *gI, const float *x,
                            const float *Wt, const sbp_layer *L, int tc, float *ws);
/* The same given x's event lists ev (NULL: made from x), which it overwrites. */
int sbp_conv_backward_wgrad_events(float *dx, float *dWt, const float *gI, const float *x,
                                   struct sbp_events *ev, const float *Wt, const sbp_layer *L,
                                   int tc, float *ws);
size_t sbp_conv_wgrad_scratch(const sbp_layer *L, int tc);
int sbp_conv_wgrad_usable(const sbp_layer *L);
/* The weight gradient in registers for a caller that has the output gradient a few rows at a
 * time (conv_neuron_pool.c), for a first layer (no dx) of one input channel: prepare sorts x's
 * events by input row into ws (sbp_conv_wgrad_rows_scratch floats) and gives their number in
 * *count, returning 0 where the kernel does not apply; then rows adds into dWt what output rows
 * oy0 … oy0 + rows − 1 of every step give, row oy of step t at g + t·tstride + (oy − oy0)·
 * out_w·out_c. Over all rows: backward_wgrad's dWt summed in another order. */
size_t sbp_conv_wgrad_rows_scratch(const sbp_layer *L, int tc);
int sbp_conv_wgrad_rows_prepare(float *ws, const float *x, const sbp_layer *L, int tc,
                                size_t *count);
void sbp_conv_wgrad_rows(float *dWt, const float *g, size_t tstride, int oy0, int rows,
                         const float *ws, const sbp_layer *L, int tc);

void sbp_conv_forward_fast(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc,
                           float *ws);
/* sbp_conv_forward_fast given x's event lists (events.h: sbp_events_neuron_forward): the
 * same I without scanning x. */
void sbp_conv_forward_events(float *I, const float *x, const void *ev, const float *Wt,
                             const sbp_layer *L, int tc, float *ws);
/* Whether sbp_conv_forward_events walks the lists for L (not where the output-stationary form
 * runs: it reads x as a bitmap). */
int sbp_conv_takes_events(const sbp_layer *L);
/* sbp_conv_backward_fast given x's event lists (events.h: sbp_events_unpack), which it may
 * overwrite: the same dW and dx without scanning x. */
void sbp_conv_backward_events(float *dx, float *dWt, const float *gI, const float *x, void *ev,
                              const float *Wt, const sbp_layer *L, int tc, float *ws);
void sbp_conv_backward_fast(float *dx, float *dWt, const float *gI, const float *x,
                            const float *Wt, const sbp_layer *L, int tc, float *ws);
/* Whether sbp_conv_backward_fast takes the event-driven kernels for an input of nnz nonzeros
 * over tc steps (else im2col + SGEMM). */
int sbp_conv_backward_takes_events(const sbp_layer *L, size_t nnz, int tc);

/* The exact backward over a whole window by summation by parts (conv_sweep.c; stride 1):
 * backend.h's sweep_* operations (sweep_floats 0: not offered for L). */
size_t sbp_conv_sweep_floats(const sbp_layer *L, int part);
void sbp_conv_sweep_weights(float *WT, const float *Wk, const sbp_layer *L);
int sbp_conv_sweep_begin(float *state, const float *count, const float *mask,
                         const float *out_count, const sbp_layer *L);
void sbp_conv_sweep_backward(float *dx, float *state, const float *WT, const float *gI,
                             const void *ev, const sbp_layer *L, int tc, float *ws);
void sbp_conv_sweep_end(float *dWk, float *state, const sbp_layer *L);
/* Scratch floats sbp_conv_sweep_backward needs for a chunk of tc steps (any alignment). */
size_t sbp_conv_sweep_scratch(const sbp_layer *L, int tc);
#endif
