/* ops.c — the per-kind operation table and the reference/fast dispatch of each kernel. */
#include "layers/ops.h"

#include "layers/conv.h"
#include "layers/dense.h"
#include "layers/pool.h"

#include <string.h>

static void conv_current(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                         float *ws, sbp_impl impl)
{
    if (impl == SBP_IMPL_REFERENCE)
        sbp_conv_forward_ref(I, x, W, L, tc);
    else
        sbp_conv_forward_fast(I, x, W, L, tc, ws);
}

static void conv_backward(float *dx, float *dW, const float *gI, const float *x, const float *W,
                          const sbp_layer *L, int tc, float *ws, sbp_impl impl)
{
    if (impl == SBP_IMPL_REFERENCE)
        sbp_conv_backward_ref(dx, dW, gI, x, W, L, tc);
    else
        sbp_conv_backward_fast(dx, dW, gI, x, W, L, tc, ws);
}

static void dense_current(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                          float *ws, sbp_impl impl)
{
    if (impl == SBP_IMPL_REFERENCE)
        sbp_dense_forward_ref(I, x, W, L, tc);
    else
        sbp_dense_forward_fast(I, x, W, L, tc, ws);
}

static void dense_backward(float *dx, float *dW, const float *gI, const float *x, const float *W,
                           const sbp_layer *L, int tc, float *ws, sbp_impl impl)
{
    if (impl == SBP_IMPL_REFERENCE)
        sbp_dense_backward_ref(dx, dW, gI, x, W, L, tc);
    else
        sbp_dense_backward_fast(dx, dW, gI, x, W, L, tc, ws);
}

static void pool_current(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                         float *ws, sbp_impl impl)
{
    if (impl == SBP_IMPL_REFERENCE)
        sbp_pool_forward_ref(I, x, L, tc);
    else
        sbp_pool_forward_fast(I, x, L, tc);
}

static void pool_backward(float *dx, float *dW, const float *gI, const float *x, const float *W,
                          const sbp_layer *L, int tc, float *ws, sbp_impl impl)
{
    if (dx && impl == SBP_IMPL_REFERENCE)
        sbp_pool_backward_ref(dx, gI, L, tc);
    else if (dx)
        sbp_pool_backward_fast(dx, gI, L, tc);
}

static size_t no_scratch(const sbp_layer *L, int tc)
{
    return 0;
}

static void conv_to_impl(float *Wk, const float *W, const sbp_layer *L, sbp_impl impl)
{
    if (impl == SBP_IMPL_REFERENCE)
        memcpy(Wk, W, L->w_count * sizeof(float));
    else
        sbp_conv_to_kernel_layout(Wk, W, L);
}

static void conv_add_from_impl(float *dW, const float *dWk, const sbp_layer *L, sbp_impl impl)
{
    if (impl == SBP_IMPL_REFERENCE)
        for (size_t i = 0; i < L->w_count; i++)
            dW[i] += dWk[i];
    else
        sbp_conv_add_from_kernel_layout(dW, dWk, L);
}

static void dense_to_impl(float *Wk, const float *W, const sbp_layer *L, sbp_impl impl)
{
    if (impl == SBP_IMPL_REFERENCE)
        memcpy(Wk, W, L->w_count * sizeof(float));
    else
        sbp_dense_to_kernel_layout(Wk, W, L);
}

static void dense_add_from_impl(float *dW, const float *dWk, const sbp_layer *L, sbp_impl impl)
{
    if (impl == SBP_IMPL_REFERENCE)
        for (size_t i = 0; i < L->w_count; i++)
            dW[i] += dWk[i];
    else
        sbp_dense_add_from_kernel_layout(dW, dWk, L);
}

static const sbp_layer_ops ops[] = {
    [SBP_LAYER_CONV] = {conv_current, conv_backward, sbp_conv_scratch, conv_to_impl,
                        conv_add_from_impl},
    [SBP_LAYER_POOL] = {pool_current, pool_backward, no_scratch, NULL, NULL},
    [SBP_LAYER_DENSE] = {dense_current, dense_backward, sbp_dense_scratch, dense_to_impl,
                         dense_add_from_impl},
    [SBP_LAYER_OUTPUT] = {dense_current, dense_backward, sbp_dense_scratch, dense_to_impl,
                          dense_add_from_impl},
};
_Static_assert(sizeof ops / sizeof ops[0] == SBP_LAYER_KIND_COUNT, "one entry per layer kind");

const sbp_layer_ops *sbp_layer_ops_of(sbp_layer_kind kind)
{
    return &ops[kind];
}
