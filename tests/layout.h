/*
 * layout.h — the fast kernels seen through the reference's layout, for the kernel tests.
 *
 * Every kernel is time-major, but the fast path orders the neurons of a map channel-last and
 * the reference channel-first (src/layers/layer.h). These wrappers turn a channel-first input
 * into the fast layout, call the fast kernel, and turn its outputs back, so that one test can
 * hold every implementation against the reference on the same arrays. The buffers the wrapped
 * kernel must overwrite are NaN-filled first, so "accumulated into garbage" still fails.
 */
#ifndef SBP_TESTS_LAYOUT_H
#define SBP_TESTS_LAYOUT_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/cpu/conv.h"
#include "backend/cpu/dense.h"
#include "backend/reference/reference.h"
#include "net/layer.h"

typedef void (*fwd_fn)(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                       float *ws);
typedef void (*bwd_fn)(float *dx, float *dW, const float *gI, const float *x, const float *W,
                       const sbp_layer *L, int tc, float *ws);

static float *layout_alloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

/* tc steps of a C×P map: channel-first (c, p) ↔ channel-last (p, c). */
static void to_channel_last(float *dst, const float *src, int C, size_t P, int tc)
{
    for (int t = 0; t < tc; t++)
        for (int c = 0; c < C; c++)
            for (size_t p = 0; p < P; p++)
                dst[((size_t)t * P + p) * C + c] = src[((size_t)t * C + c) * P + p];
}

static void to_channel_first(float *dst, const float *src, int C, size_t P, int tc)
{
    for (int t = 0; t < tc; t++)
        for (int c = 0; c < C; c++)
            for (size_t p = 0; p < P; p++)
                dst[((size_t)t * C + c) * P + p] = src[((size_t)t * P + p) * C + c];
}

static size_t in_positions(const sbp_layer *L)
{
    return (size_t)L->in_h * L->in_w;
}

/* Channel-first call of a channel-last forward kernel. */
static void chw_forward(fwd_fn f, float *I, const float *x, const float *Wt, const sbp_layer *L,
                        int tc, float *ws)
{
    float *xs = layout_alloc((size_t)tc * L->n_in), *Is = layout_alloc((size_t)tc * L->n_out);
    to_channel_last(xs, x, L->in_c, in_positions(L), tc);
    f(Is, xs, Wt, L, tc, ws);
    to_channel_first(I, Is, L->out_c, sbp_layer_positions(L), tc);
    free(xs), free(Is);
}

/* Channel-first call of a channel-last backward kernel (dW stays in kernel layout). */
static void chw_backward(bwd_fn f, float *dx, float *dWt, const float *gI, const float *x,
                         const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    float *xs = layout_alloc((size_t)tc * L->n_in), *gs = layout_alloc((size_t)tc * L->n_out);
    float *dxs = dx ? layout_alloc((size_t)tc * L->n_in) : NULL;
    to_channel_last(xs, x, L->in_c, in_positions(L), tc);
    to_channel_last(gs, gI, L->out_c, sbp_layer_positions(L), tc);
    f(dxs, dWt, gs, xs, Wt, L, tc, ws);
    if (dx)
        to_channel_first(dx, dxs, L->in_c, in_positions(L), tc);
    free(xs), free(gs), free(dxs);
}

/* fn_chw: fn behind the channel-first layout, with fn's own signature. */
#define CHW_FORWARD(fn)                                                                        \
    static void fn##_chw(float *I, const float *x, const float *W, const sbp_layer *L, int tc, \
                         float *ws)                                                            \
    {                                                                                          \
        chw_forward(fn, I, x, W, L, tc, ws);                                                   \
    }
#define CHW_BACKWARD(fn)                                                                       \
    static void fn##_chw(float *dx, float *dW, const float *gI, const float *x, const float *W, \
                         const sbp_layer *L, int tc, float *ws)                                \
    {                                                                                          \
        chw_backward(fn, dx, dW, gI, x, W, L, tc, ws);                                         \
    }

/* The dense GEMM kernels need no scratch; these give them the common signature. */
static void dense_forward_gemm(float *I, const float *x, const float *Wt, const sbp_layer *L,
                               int tc, float *ws)
{
    (void)ws;
    sbp_dense_forward_gemm(I, x, Wt, L, tc);
}

static void dense_backward_gemm(float *dx, float *dWt, const float *gI, const float *x,
                                const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    (void)ws;
    sbp_dense_backward_gemm(dx, dWt, gI, x, Wt, L, tc);
}

/* Every fast kernel behind the channel-first layout: name_chw. */
CHW_FORWARD(sbp_conv_forward_gemm)
CHW_FORWARD(sbp_conv_forward_sparse)
CHW_FORWARD(sbp_conv_forward_fast)
CHW_BACKWARD(sbp_conv_backward_gemm)
CHW_BACKWARD(sbp_conv_backward_sparse)
CHW_BACKWARD(sbp_conv_backward_fast)
CHW_FORWARD(dense_forward_gemm)
CHW_FORWARD(sbp_dense_forward_sparse)
CHW_FORWARD(sbp_dense_forward_fast)
CHW_BACKWARD(dense_backward_gemm)
CHW_BACKWARD(sbp_dense_backward_sparse)
CHW_BACKWARD(sbp_dense_backward_fast)

#endif
