/*
 * backend.c — the reference backend's table (backend.h): plain-loop synapses, one step per
 * chunk, channel-first rows, weights in PyTorch layout. Slow on purpose: it states the maths
 * and is the oracle the other backends are tested against (tests/test_backend.c,
 * tests/test_golden.c, tests/test_kernels.c).
 */
#include "backend/backend.h"

#include <string.h>

#include "backend/host/host.h"
#include "backend/host/neuron.h"
#include "backend/host/shortcut.h"
#include "backend/reference/reference.h"

static void pool_forward(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                         float *ws)
{
    sbp_pool_forward_ref(I, x, L, tc);
}

static void pool_backward(float *dx, float *dW, const float *gI, const float *x, const float *W,
                          const sbp_layer *L, int tc, float *ws)
{
    if (dx)
        sbp_pool_backward_ref(dx, gI, L, tc);
}

static size_t no_scratch(const sbp_layer *L, int tc)
{
    return 0;
}

/* Weights stay in PyTorch layout. */
static void weights_in(float *Wk, const float *W, const sbp_layer *L)
{
    memcpy(Wk, W, L->w_count * sizeof(float));
}

static void grad_out(float *dW, const float *dWk, const sbp_layer *L)
{
    sbp_host_add(dW, dWk, L->w_count);
}

static int one_step(const sbp_net *net, int T, int tc_override)
{
    return 1;
}

static size_t channel_first(const sbp_layer *L, size_t i)
{
    return i;
}

static int no_staging(const sbp_layer *L0)
{
    return 0;
}

static void shortcut_add(float *I, const float *x, const sbp_layer *sc, int tc)
{
    sbp_shortcut_forward_add(I, x, sc, tc, 0);
}

static void shortcut_add_backward(float *dx, const float *gI, const sbp_layer *sc, int tc)
{
    sbp_shortcut_backward_add(dx, gI, sc, tc, 0);
}

static void dropout_mask(float *m, const sbp_layer *L, int l, sbp_rng_key key, uint32_t epoch,
                         uint32_t sample)
{
    sbp_host_dropout_mask(m, L, l, key, epoch, sample, channel_first);
}

#define REF_DENSE                                                                              \
    {.forward = sbp_dense_forward_ref, .backward = sbp_dense_backward_ref,                   \
     .scratch = no_scratch, .weights_in = weights_in, .grad_out = grad_out}

const sbp_backend sbp_backend_reference = {
    .name = "reference",
    .chunk_steps = one_step,
    .neuron_index = channel_first,
    .input_staging = no_staging,
    .synapse =
        {
            [SBP_LAYER_CONV] = {.forward = sbp_conv_forward_ref,
                                .backward = sbp_conv_backward_ref,
                                .scratch = no_scratch,
                                .weights_in = weights_in,
                                .grad_out = grad_out},
            [SBP_LAYER_POOL] = {.forward = pool_forward,
                                .backward = pool_backward,
                                .scratch = no_scratch},
            [SBP_LAYER_DENSE] = REF_DENSE,
            [SBP_LAYER_OUTPUT] = REF_DENSE,
        },
    .shortcut_add = shortcut_add,
    .shortcut_add_backward = shortcut_add_backward,
    .dropout_mask = dropout_mask,
    SBP_HOST_OPERATIONS,
};
