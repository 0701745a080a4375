/*
 * conv.c — convolution synapses for a chunk of tc steps (§1, §3 "conv: weight-gradient
 * correlation per step / transposed convolution").
 *
 * Layouts (backend/backend.h): every chunk is time-major, one row of n neurons per step. The
 * reference loops (backend/reference/conv.c, channel-first, PyTorch-layout weights) are the
 * oracle these are tested against (tests/test_kernels.c). These work channel-last — x (tc, H, W, Cin), I
 * (tc, Ho, Wo, Cout) — with weights in "kernel layout" Wt (conv.h: rows of Cout, one block per
 * input channel and kernel row), so that the weights one input event touches are contiguous
 * rows and one GEMM (im2col rows × Wt) gives the neurons' layout directly; they choose per
 * chunk between an event-driven scatter (sparse input) and im2col + SGEMM (dense input).
 */
#include "backend/cpu/conv.h"

#include "core/cpu.h"
#include "core/runs.h"
#include "backend/cpu/events.h"

#include "core/blas.h"
#include <string.h>

#define KDIM(L) ((size_t)(L)->in_c * (size_t)(L)->spec.kernel * (size_t)(L)->spec.kernel)

static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* ------------------------------------------------------------------ fast path, channel-last
 *
 * x (tc, H, W, Cin), I and gI (tc, Ho, Wo, Cout). Kernel layout Wt: row r = k − 1 − kx of
 * block (ci, ky) at sbp_conv_wt (conv.h), the taps of one input channel and kernel row,
 * mirrored, in a block padded to whole vectors; im2col's K = k·k·Cin index (ci·k + ky)·k + r
 * without the padding.
 * With stride 1 an input event at (iy, ix) feeds, through kernel row ky, the outputs
 * ox = ix + pad − k + 1 + r of output row oy = iy + pad − ky: consecutive r reach consecutive
 * output pixels, whose Cout channels are adjacent in I, and their weights are adjacent rows of
 * Wt. So each (event, ky) is ONE contiguous multiply-add of up to k·Cout floats instead of k
 * separate rows, and the backward likewise one contiguous dot product and one update. */

/* Steps per im2col block: the column buffer is bounded (SBP_GEMM_BLOCK_FLOATS) whatever tc is,
 * so the gemm path's scratch does not grow with the chunk length. */
#define SBP_GEMM_BLOCK_FLOATS ((size_t)1 << 18)

static int gemm_block_steps(const sbp_layer *L, int tc)
{
    size_t per = KDIM(L) * sbp_layer_positions(L);
    size_t b = SBP_GEMM_BLOCK_FLOATS / (per ? per : 1);
    return b < 1 ? 1 : (b > (size_t)tc ? tc : (int)b);
}

/* col (nt·P, K): row t·P + oy·Wo + ox holds the receptive field of that output at step t, in
 * kernel-layout order (ci·k + ky)·k + r. */
static void im2col_hwc(float *col, const float *x, const sbp_layer *L, int nt)
{
    const int k = L->spec.kernel, s = L->spec.stride, pad = L->spec.pad;
    const int H = L->in_h, Wd = L->in_w, Ho = L->out_h, Wo = L->out_w, Ci = L->in_c;
    const size_t K = KDIM(L), kk = (size_t)k * k;
    float *row = col;
    for (int t = 0; t < nt; t++) {
        const float *xt = x + (size_t)t * L->n_in;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++, row += K)
                for (int ky = 0; ky < k; ky++) {
                    const int iy = oy * s - pad + ky;
                    for (int kx = 0; kx < k; kx++) {
                        const int ix = ox * s - pad + kx;
                        float *dst = row + (size_t)ky * k + (k - 1 - kx);
                        if (iy < 0 || iy >= H || ix < 0 || ix >= Wd) {
                            for (int c = 0; c < Ci; c++)
                                dst[c * kk] = 0.0f;
                            continue;
                        }
                        const float *src = xt + ((size_t)iy * Wd + ix) * Ci;
                        for (int c = 0; c < Ci; c++)
                            dst[c * kk] = src[c];
                    }
                }
    }
}

/* The adjoint of im2col_hwc: dx (nt, H, W, Cin) += Σ over the rows each input fed. */
static void col2im_hwc(float *dx, const float *col, const sbp_layer *L, int nt)
{
    const int k = L->spec.kernel, s = L->spec.stride, pad = L->spec.pad;
    const int H = L->in_h, Wd = L->in_w, Ho = L->out_h, Wo = L->out_w, Ci = L->in_c;
    const size_t K = KDIM(L), kk = (size_t)k * k;
    const float *row = col;
    for (int t = 0; t < nt; t++) {
        float *xt = dx + (size_t)t * L->n_in;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++, row += K)
                for (int ky = 0; ky < k; ky++) {
                    const int iy = oy * s - pad + ky;
                    if (iy < 0 || iy >= H)
                        continue;
                    for (int kx = 0; kx < k; kx++) {
                        const int ix = ox * s - pad + kx;
                        if (ix < 0 || ix >= Wd)
                            continue;
                        const float *src = row + (size_t)ky * k + (k - 1 - kx);
                        float *d = xt + ((size_t)iy * Wd + ix) * Ci;
                        for (int c = 0; c < Ci; c++)
                            d[c] += src[c * kk];
                    }
                }
    }
}

/* Whether the kernel layout pads its blocks, so that SGEMM needs an unpadded copy (K, Cout). */
static int padded(const sbp_layer *L)
{
    return sbp_conv_block(L) != (size_t)L->spec.kernel * L->out_c;
}

size_t sbp_conv_weights_floats(const sbp_layer *L)
{
    return (size_t)L->in_c * (size_t)L->spec.kernel * sbp_conv_block(L);
}

size_t sbp_conv_scratch(const sbp_layer *L, int tc)
{
    const size_t block = (size_t)gemm_block_steps(L, tc) * sbp_layer_positions(L) * KDIM(L);
    const size_t gemm = 2 * align16(block) + (padded(L) ? 2 * align16(KDIM(L) * L->out_c) : 0);
    size_t sparse = align16((size_t)L->out_c) + sbp_events_scratch(L->n_in, tc) +
                    sbp_conv_cols_scratch(L);
    if (sparse < sbp_conv_pull_scratch(L))
        sparse = sbp_conv_pull_scratch(L);
    if (sparse < sbp_conv_wgrad_scratch(L, tc))
        sparse = sbp_conv_wgrad_scratch(L, tc);
    if (sparse < sbp_conv_patterns_scratch(L, tc))
        sparse = sbp_conv_patterns_scratch(L, tc);
    return (gemm > sparse ? gemm : sparse) + 16;
}

/* Where PyTorch weight (·, ci, ky, kx) starts in Wt — see the layout above. */
static inline size_t wt_at(const sbp_layer *L, int ci, int ky, int kx)
{
    return sbp_conv_wt(L, ci, ky, L->spec.kernel - 1 - kx);
}

void sbp_conv_to_kernel_layout(float *Wt, const float *W, const sbp_layer *L)
{
    const int k = L->spec.kernel, Ci = L->in_c;
    const size_t C = (size_t)L->out_c, run = (size_t)k * C, B = sbp_conv_block(L);
    for (int ci = 0; ci < Ci; ci++) /* the padding of every block */
        for (int ky = 0; ky < k; ky++)
            memset(Wt + sbp_conv_wt(L, ci, ky, 0) + run, 0, (B - run) * sizeof(float));
    for (size_t co = 0; co < C; co++)
        for (int ci = 0; ci < Ci; ci++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    Wt[wt_at(L, ci, ky, kx) + co] = W[((co * Ci + ci) * k + ky) * k + kx];
}

void sbp_conv_add_from_kernel_layout(float *dW, const float *dWt, const sbp_layer *L)
{
    const int k = L->spec.kernel, Ci = L->in_c;
    const size_t C = (size_t)L->out_c;
    for (size_t co = 0; co < C; co++)
        for (int ci = 0; ci < Ci; ci++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    dW[((co * Ci + ci) * k + ky) * k + kx] += dWt[wt_at(L, ci, ky, kx) + co];
}

/* The padded kernel layout's blocks as the (K, Cout) matrix SGEMM takes (packed = Wt), and
 * back (Wt = packed; the padding untouched). */
static void pack_blocks(float *packed, const float *Wt, const sbp_layer *L)
{
    const size_t run = (size_t)L->spec.kernel * L->out_c, B = sbp_conv_block(L);
    for (size_t b = 0; b < (size_t)L->in_c * L->spec.kernel; b++)
        memcpy(packed + b * run, Wt + b * B, run * sizeof(float));
}

static void unpack_blocks(float *Wt, const float *packed, const sbp_layer *L)
{
    const size_t run = (size_t)L->spec.kernel * L->out_c, B = sbp_conv_block(L);
    for (size_t b = 0; b < (size_t)L->in_c * L->spec.kernel; b++)
        memcpy(Wt + b * B, packed + b * run, run * sizeof(float));
}

void sbp_conv_forward_gemm(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc,
                           float *ws)
{
    const size_t K = KDIM(L), P = sbp_layer_positions(L);
    const int C = L->out_c, tb = gemm_block_steps(L, tc);
    if (padded(L)) { /* SGEMM takes (K, Cout) without gaps: a packed copy after the columns */
        float *packed = ws + 2 * align16((size_t)tb * P * K);
        pack_blocks(packed, Wt, L);
        Wt = packed;
    }
    for (int t0 = 0; t0 < tc; t0 += tb) {
        const int nt = tc - t0 < tb ? tc - t0 : tb;
        im2col_hwc(ws, x + (size_t)t0 * L->n_in, L, nt);
        /* I (nt·P, Cout) = col (nt·P, K) × Wt (K, Cout) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(nt * P), C, (int)K, 1.0f,
                    ws, (int)K, Wt, C, 0.0f, I + (size_t)t0 * L->n_out, C);
    }
}

void sbp_conv_backward_gemm(float *dx, float *dWt, const float *gI, const float *x,
                            const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    const size_t K = KDIM(L), P = sbp_layer_positions(L);
    const int C = L->out_c, tb = gemm_block_steps(L, tc);
    float *col = ws, *dcol = ws + align16((size_t)tb * P * K);
    /* padded layout: W and dW packed after the columns (SGEMM adds into dW as before, so the
     * same bits), dW unpacked below */
    float *dWp = dWt;
    if (padded(L)) {
        float *packed = ws + 2 * align16((size_t)tb * P * K);
        dWp = packed + align16(K * (size_t)C);
        pack_blocks(packed, Wt, L);
        pack_blocks(dWp, dWt, L);
        Wt = packed;
    }
    for (int t0 = 0; t0 < tc; t0 += tb) {
        const int nt = tc - t0 < tb ? tc - t0 : tb, M = (int)(nt * P);
        const float *g = gI + (size_t)t0 * L->n_out;
        im2col_hwc(col, x + (size_t)t0 * L->n_in, L, nt);
        /* dWt (K, Cout) += colᵀ (K, M) × gI (M, Cout) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, C, M, 1.0f, col, (int)K, g,
                    C, 1.0f, dWp, C);
        if (!dx)
            continue;
        /* dcol (M, K) = gI (M, Cout) × Wtᵀ (Cout, K) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, (int)K, C, 1.0f, g, C, Wt, C,
                    0.0f, dcol, (int)K);
        float *d = dx + (size_t)t0 * L->n_in;
        memset(d, 0, sizeof(float) * (size_t)nt * L->n_in);
        col2im_hwc(d, dcol, L, nt);
    }
    if (dWp != dWt)
        unpack_blocks(dWt, dWp, L);
}

/* The taps of input coordinate i along one axis (size `in` → `out`, kernel k, stride s, pad):
 * for kernel index kk the output o = (i + pad − kk)/s if that divides exactly and lies inside,
 * else −1. */
static inline int tap(int i, int pad, int kk, int s, int out)
{
    int num = i + pad - kk;
    if (num < 0 || num % s)
        return -1;
    num /= s;
    return num < out ? num : -1;
}


typedef void (*axpy_fn)(float *restrict o, const float *restrict w, float v, size_t n);
typedef float (*update_dot_fn)(float *restrict dw, const float *restrict w,
                               const float *restrict g, float v, size_t n);
typedef void (*update_fn)(float *restrict dw, const float *restrict g, float v, size_t n);

/* The event-driven forward over the event lists ev, compiled once per run primitive
 * (core/runs.h). */
static SBP_ALWAYS_INLINE void forward_events(float *I, const sbp_events *ev, const float *Wt,
                                             const sbp_layer *L, int tc, axpy_fn axpy)
{
    const int k = L->spec.kernel, s = L->spec.stride, pad = L->spec.pad;
    const int Wd = L->in_w, Ho = L->out_h, Wo = L->out_w, Ci = L->in_c;
    const size_t C = (size_t)L->out_c;
    memset(I, 0, sizeof(float) * (size_t)tc * L->n_out);
    for (int t = 0; t < tc; t++) {
        float *It = I + (size_t)t * L->n_out;
        for (size_t e = ev->off[t]; e < ev->off[t + 1]; e++) {
            const uint32_t i = ev->idx[e];
            const float v = ev->val[e];
            const int pix = (int)(i / (uint32_t)Ci), ci = (int)(i % (uint32_t)Ci);
            const int iy = pix / Wd, ix = pix % Wd;
            if (s == 1) { /* one run per kernel row (see the layout above) */
                int ky0, ky1, kx0, kx1;
                sbp_conv_taps_s1(iy, pad, k, Ho, &ky0, &ky1);
                sbp_conv_taps_s1(ix, pad, k, Wo, &kx0, &kx1);
                if (kx0 > kx1)
                    continue;
                const int r0 = k - 1 - kx1, ox0 = ix + pad - kx1;
                const size_t len = (size_t)(kx1 - kx0 + 1) * C;
                for (int ky = ky0; ky <= ky1; ky++) {
                    const int oy = iy + pad - ky;
                    axpy(It + ((size_t)oy * Wo + ox0) * C, Wt + sbp_conv_wt(L, ci, ky, r0), v,
                         len);
                }
                continue;
            }
            for (int ky = 0; ky < k; ky++) {
                const int oy = tap(iy, pad, ky, s, Ho);
                if (oy < 0)
                    continue;
                for (int kx = 0; kx < k; kx++) {
                    const int ox = tap(ix, pad, kx, s, Wo);
                    if (ox >= 0)
                        axpy(It + ((size_t)oy * Wo + ox) * C, Wt + wt_at(L, ci, ky, kx), v, C);
                }
            }
        }
    }
}

/* The event-driven backward, compiled once per run primitive (core/runs.h). */
static SBP_ALWAYS_INLINE void backward_sparse(float *dx, float *dWt, const float *gI,
                                              const float *x, const sbp_events *ev,
                                              const float *Wt, const sbp_layer *L, int tc,
                                              float *ws, update_dot_fn update_dot,
                                              update_fn update)
{
    const int k = L->spec.kernel, s = L->spec.stride, pad = L->spec.pad;
    const int Wd = L->in_w, Ho = L->out_h, Wo = L->out_w, Ci = L->in_c;
    const size_t C = (size_t)L->out_c;
    size_t nev;
    if (!ev) /* x's lists, unless given */
        ev = sbp_events_build(ws, x, L->n_in, tc, &nev);
    if (dx)
        memset(dx, 0, sizeof(float) * (size_t)tc * L->n_in);
    for (int t = 0; t < tc; t++) {
        const float *g = gI + (size_t)t * L->n_out;
        for (size_t e = ev->off[t]; e < ev->off[t + 1]; e++) {
            const uint32_t i = ev->idx[e];
            const float v = ev->val[e];
            const int pix = (int)(i / (uint32_t)Ci), ci = (int)(i % (uint32_t)Ci);
            const int iy = pix / Wd, ix = pix % Wd;
            /* dx at this event: Σ over its taps and the output channels of w·g. */
            float d = 0.0f;
            if (s == 1) {
                int ky0, ky1, kx0, kx1;
                sbp_conv_taps_s1(iy, pad, k, Ho, &ky0, &ky1);
                sbp_conv_taps_s1(ix, pad, k, Wo, &kx0, &kx1);
                if (kx0 <= kx1) {
                    const int r0 = k - 1 - kx1, ox0 = ix + pad - kx1;
                    const size_t len = (size_t)(kx1 - kx0 + 1) * C;
                    for (int ky = ky0; ky <= ky1; ky++) {
                        const int oy = iy + pad - ky;
                        const size_t wi = sbp_conv_wt(L, ci, ky, r0);
                        const float *gr = g + ((size_t)oy * Wo + ox0) * C;
                        if (dx)
                            d += update_dot(dWt + wi, Wt + wi, gr, v, len);
                        else /* a first layer: no dx, so no dot product (nor W) */
                            update(dWt + wi, gr, v, len);
                    }
                }
            } else {
                for (int ky = 0; ky < k; ky++) {
                    const int oy = tap(iy, pad, ky, s, Ho);
                    if (oy < 0)
                        continue;
                    for (int kx = 0; kx < k; kx++) {
                        const int ox = tap(ix, pad, kx, s, Wo);
                        if (ox < 0)
                            continue;
                        const size_t wi = wt_at(L, ci, ky, kx);
                        const float *gr = g + ((size_t)oy * Wo + ox) * C;
                        if (dx)
                            d += update_dot(dWt + wi, Wt + wi, gr, v, C);
                        else
                            update(dWt + wi, gr, v, C);
                    }
                }
            }
            if (dx)
                dx[(size_t)t * L->n_in + i] = d;
        }
    }
}

static void forward_events_plain(float *I, const sbp_events *ev, const float *Wt,
                                 const sbp_layer *L, int tc)
{
    forward_events(I, ev, Wt, L, tc, sbp_axpy_plain);
}

static void backward_sparse_plain(float *dx, float *dWt, const float *gI, const float *x,
                                  const sbp_events *ev, const float *Wt, const sbp_layer *L,
                                  int tc, float *ws)
{
    backward_sparse(dx, dWt, gI, x, ev, Wt, L, tc, ws, sbp_update_dot_plain, sbp_update_plain);
}

#ifdef SBP_RUNS_AVX512
static SBP_TARGET_AVX512 void forward_events_avx512(float *I, const sbp_events *ev,
                                                    const float *Wt, const sbp_layer *L, int tc)
{
    forward_events(I, ev, Wt, L, tc, sbp_axpy_avx512);
}

static SBP_TARGET_AVX512 void backward_sparse_avx512(float *dx, float *dWt, const float *gI,
                                                     const float *x, const sbp_events *ev,
                                                     const float *Wt, const sbp_layer *L, int tc,
                                                     float *ws)
{
    backward_sparse(dx, dWt, gI, x, ev, Wt, L, tc, ws, sbp_update_dot_avx512, sbp_update_avx512);
}
#endif

/* The scatter form over event lists; by input column (conv_cols.c) where that applies, its
 * scratch after ev's room in ws. */
static void scatter(float *I, const sbp_events *ev, const float *Wt, const sbp_layer *L, int tc,
                    float *ws)
{
    if (sbp_conv_forward_cols(I, ev, Wt, L, tc, ws + sbp_events_scratch(L->n_in, tc)))
        return;
#ifdef SBP_RUNS_AVX512
    if (sbp_use_avx512()) {
        forward_events_avx512(I, ev, Wt, L, tc);
        return;
    }
#endif
    forward_events_plain(I, ev, Wt, L, tc);
}

void sbp_conv_forward_sparse(float *I, const float *x, const float *Wt, const sbp_layer *L,
                             int tc, float *ws)
{
    /* Wide layers: the output-stationary form (conv_pull.c) where the CPU has AVX-512. Measured
     * with bench_kernels at densities 1–15 %: 1.7–1.9× faster than the scatter at 64 output
     * channels, 1.2–1.3× at 128, 1.1–1.2× at 256; slower on narrow layers (LeNet's 20 and 50),
     * where the per-pixel scan of the receptive field costs more than the few events. */
    if (L->out_c >= 64 && sbp_conv_forward_pull(I, x, Wt, L, tc, ws))
        return;
    /* An image layer of unit spikes: gathered by input patterns (conv_patterns.c), no events.
     * LeNet on MNIST, T = 100, 1 thread (2026-12-05, Emerald Rapids): the first layer 16 % →
     * 11 % of inference, which runs 1.05× (best batches 1.07×), aggregate training best
     * batches 1.12× (bench/results-2026-12-05h-cpu.md). */
    if (sbp_conv_forward_patterns(I, x, Wt, L, tc, ws))
        return;
    size_t nev;
    const sbp_events *ev = sbp_events_build(ws, x, L->n_in, tc, &nev);
    scatter(I, ev, Wt, L, tc, ws);
}

/* The scatter backward over x's event lists ev (NULL: made from x). */
static void backward_scatter(float *dx, float *dWt, const float *gI, const float *x,
                             const sbp_events *ev, const float *Wt, const sbp_layer *L, int tc,
                             float *ws)
{
#ifdef SBP_RUNS_AVX512
    if (sbp_use_avx512()) {
        backward_sparse_avx512(dx, dWt, gI, x, ev, Wt, L, tc, ws);
        return;
    }
#endif
    backward_sparse_plain(dx, dWt, gI, x, ev, Wt, L, tc, ws);
}

/* The weight gradient in registers (conv_wgrad.c) where it applies: the same bits, measured
 * 1.04× on LeNet's exact training (conv2: 10 % less time in the backward); else the scatter. */
static void backward_sparse_any(float *dx, float *dWt, const float *gI, const float *x,
                                sbp_events *ev, const float *Wt, const sbp_layer *L, int tc,
                                float *ws)
{
    if (!sbp_conv_backward_wgrad_events(dx, dWt, gI, x, ev, Wt, L, tc, ws))
        backward_scatter(dx, dWt, gI, x, ev, Wt, L, tc, ws);
}

void sbp_conv_backward_sparse(float *dx, float *dWt, const float *gI, const float *x,
                              const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    backward_sparse_any(dx, dWt, gI, x, NULL, Wt, L, tc, ws);
}

void sbp_conv_backward_scatter(float *dx, float *dWt, const float *gI, const float *x,
                               const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    backward_scatter(dx, dWt, gI, x, NULL, Wt, L, tc, ws);
}

/* Highest input density at which the event-driven kernels beat im2col + SGEMM, measured with
 * build/bench_kernels (1 thread, OpenBLAS 0.3.21, AVX-512; 2026-11-28): the crossover rises as
 * the layer narrows, because SGEMM is inefficient on few output channels while the event
 * kernels' cost is per event. 1→20 k5, 20→50 k5, 3→64 k3 (fan-in 27; with the output-stationary
 * forward, tc 4): events faster at every density up to 0.5; 64→64 k3 32×32: forward 0.35, backward 0.33; 128→128 k3: forward 0.30, backward 0.25;
 * 256→256 k3: forward 0.27, backward 0.22. */
static double sparse_max_density(const sbp_layer *L, int backward)
{
    if (L->out_c < 64 || KDIM(L) <= 32) /* few outputs or a tiny fan-in: GEMM is inefficient */
        return 0.5;
    if (L->out_c < 128)
        return 0.3;
    return backward ? 0.2 : 0.25;
}

void sbp_conv_forward_fast(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc,
                           float *ws)
{
    size_t nnz = sbp_events_count(x, L->n_in, tc);
    if ((double)nnz <= sparse_max_density(L, 0) * (double)L->n_in * tc)
        sbp_conv_forward_sparse(I, x, Wt, L, tc, ws);
    else
        sbp_conv_forward_gemm(I, x, Wt, L, tc, ws);
}

int sbp_conv_forward_fast_patterns(float *ws, const float *x, const float *Wt,
                                   const sbp_layer *L, int tc)
{
    /* the choices of sbp_conv_forward_fast and sbp_conv_forward_sparse, up to the patterns */
    if ((L->out_c >= 64 && sbp_conv_pull_usable(L)) || !sbp_conv_patterns_usable(L))
        return 0;
    const size_t nnz = sbp_events_count(x, L->n_in, tc);
    return (double)nnz <= sparse_max_density(L, 0) * (double)L->n_in * tc &&
           sbp_conv_patterns_prepare(ws, x, Wt, L, tc);
}

void sbp_conv_forward_events(float *I, const float *x, const void *evp, const float *Wt,
                             const sbp_layer *L, int tc, float *ws)
{
    /* the choices of sbp_conv_forward_fast, with the count and the lists given (without x:
     * the lists at any density) */
    const sbp_events *ev = evp;
    if (!x)
        scatter(I, ev, Wt, L, tc, ws);
    else if ((double)ev->off[tc] > sparse_max_density(L, 0) * (double)L->n_in * tc)
        sbp_conv_forward_gemm(I, x, Wt, L, tc, ws);
    else if (!(L->out_c >= 64 && sbp_conv_forward_pull(I, x, Wt, L, tc, ws)))
        scatter(I, ev, Wt, L, tc, ws);
}

int sbp_conv_takes_events(const sbp_layer *L)
{
    return !(L->out_c >= 64 && sbp_conv_pull_usable(L)); /* the choice of forward_sparse */
}

int sbp_conv_backward_takes_events(const sbp_layer *L, size_t nnz, int tc)
{
    return (double)nnz <= sparse_max_density(L, 1) * (double)L->n_in * tc;
}

void sbp_conv_backward_fast(float *dx, float *dWt, const float *gI, const float *x,
                            const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    if (sbp_conv_backward_takes_events(L, sbp_events_count(x, L->n_in, tc), tc))
        sbp_conv_backward_sparse(dx, dWt, gI, x, Wt, L, tc, ws);
    else
        sbp_conv_backward_gemm(dx, dWt, gI, x, Wt, L, tc, ws);
}

void sbp_conv_backward_events(float *dx, float *dWt, const float *gI, const float *x, void *evp,
                              const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    /* the choices of sbp_conv_backward_fast, with the count and the lists given */
    sbp_events *ev = evp;
    if (sbp_conv_backward_takes_events(L, ev->off[tc], tc))
        backward_sparse_any(dx, dWt, gI, x, ev, Wt, L, tc, ws);
    else
        sbp_conv_backward_gemm(dx, dWt, gI, x, Wt, L, tc, ws);
}
