/*
 * backend.c — the cpu backend's table (backend.h): all steps of a chunk per kernel call,
 * channel-last rows (an input event's taps and an output pixel's channels are contiguous),
 * weights in kernel layout (cpu/conv.h, cpu/dense.h), event-driven or im2col + SGEMM synapses
 * chosen per chunk from the measured density, AVX-512 paths chosen at run time.
 */
#include "backend/backend.h"

#include "backend/cpu/conv.h"
#include "backend/cpu/conv_neuron_pool.h"
#include "backend/cpu/dense.h"
#include "backend/cpu/neuron_pool.h"
#include "backend/cpu/events.h"
#include "backend/cpu/pool.h"
#include "backend/host/host.h"
#include "backend/host/neuron.h"
#include "backend/host/shortcut.h"

/* Chunk length budget: floats of one per-chunk row buffer, 64 Ki floats = 256 KiB (LeNet: 4 steps
 * per chunk). Measured on LeNet at T = 100, 2 threads: chunks of 2, 4 or 15 steps train and
 * infer at the same speed, and smaller chunks hold less memory (bench/). */
#define SBP_CHUNK_BUDGET_FLOATS ((size_t)1 << 16)
/* ... but at least this many steps per chunk: wide layers (VGG9's 64×32×32 maps) lose 7–17 %
 * in exact training at one step per call (per-call costs: spike bitmaps, tables, GEMM blocks). */
#define SBP_CHUNK_MIN_STEPS 4

static int chunk_steps(const sbp_net *net, int T, int tc_override)
{
    if (tc_override > 0)
        return tc_override < T ? tc_override : T;
    /* per step: one row of the largest layer (the gemm path's column buffer is bounded by
     * blocks of steps, conv.c, so it does not scale with tc) */
    size_t per_step = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        per_step = L->n_in > per_step ? L->n_in : per_step;
        per_step = L->n_out > per_step ? L->n_out : per_step;
    }
    size_t lim = SBP_CHUNK_BUDGET_FLOATS / (per_step ? per_step : 1);
    if (lim < SBP_CHUNK_MIN_STEPS)
        lim = SBP_CHUNK_MIN_STEPS;
    int tc = lim > (size_t)T ? T : (int)lim;
    const int chunks = (T + tc - 1) / tc; /* balance the chunks */
    return (T + chunks - 1) / chunks;
}

/* Channel-last (y, x, c) within a row; dense rows and single maps need no reordering. */
static size_t channel_last(const sbp_layer *L, size_t i)
{
    const size_t P = sbp_layer_positions(L);
    if (P == 1 || L->out_c == 1)
        return i;
    return (i % P) * (size_t)L->out_c + i / P;
}

/* The data are channel-first: a multi-channel image is staged, then transposed. */
static int input_staging(const sbp_layer *L0)
{
    return L0->in_c > 1 && L0->in_h * L0->in_w > 1;
}

static void pool_forward(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                         float *ws)
{
    sbp_pool_forward_fast(I, x, L, tc);
}

static void pool_backward(float *dx, float *dW, const float *gI, const float *x, const float *W,
                          const sbp_layer *L, int tc, float *ws)
{
    if (dx)
        sbp_pool_backward_fast(dx, gI, L, tc);
}

static size_t no_scratch(const sbp_layer *L, int tc)
{
    return 0;
}

static void shortcut_add(float *I, const float *x, const sbp_layer *sc, int tc)
{
    sbp_shortcut_forward_add(I, x, sc, tc, 1);
}

static void shortcut_add_backward(float *dx, const float *gI, const sbp_layer *sc, int tc)
{
    sbp_shortcut_backward_add(dx, gI, sc, tc, 1);
}

static void dropout_mask(float *m, const sbp_layer *L, int l, sbp_rng_key key, uint32_t epoch,
                         uint32_t sample)
{
    sbp_host_dropout_mask(m, L, l, key, epoch, sample, channel_last);
}

#define CPU_DENSE                                                                              \
    {.forward = sbp_dense_forward_fast,                                                        \
     .backward = sbp_dense_backward_fast,                                                      \
     .scratch = sbp_dense_scratch,                                                             \
     .weights_in = sbp_dense_to_kernel_layout,                                                 \
     .grad_out = sbp_dense_add_from_kernel_layout,                                             \
     .forward_events = sbp_dense_forward_events,                                               \
     .backward_events = sbp_dense_backward_events}

const sbp_backend sbp_backend_cpu = {
    .name = "cpu",
    .chunk_steps = chunk_steps,
    .neuron_index = channel_last,
    .input_staging = input_staging,
    .synapse =
        {
            [SBP_LAYER_CONV] = {.forward = sbp_conv_forward_fast,
                                .backward = sbp_conv_backward_fast,
                                .scratch = sbp_conv_scratch,
                                .weights_in = sbp_conv_to_kernel_layout,
                                .grad_out = sbp_conv_add_from_kernel_layout,
                                .forward_events = sbp_conv_forward_events,
                                .takes_events = sbp_conv_takes_events,
                                .backward_events = sbp_conv_backward_events,
                                .weights_floats = sbp_conv_weights_floats,
                                .sweep_floats = sbp_conv_sweep_floats,
                                .sweep_weights = sbp_conv_sweep_weights,
                                .sweep_begin = sbp_conv_sweep_begin,
                                .sweep_backward = sbp_conv_sweep_backward,
                                .sweep_end = sbp_conv_sweep_end,
                                .sweep_scratch = sbp_conv_sweep_scratch},
            [SBP_LAYER_POOL] = {.forward = pool_forward,
                                .backward = pool_backward,
                                .scratch = no_scratch},
            [SBP_LAYER_DENSE] = CPU_DENSE,
            [SBP_LAYER_OUTPUT] = CPU_DENSE,
        },
    .shortcut_add = shortcut_add,
    .shortcut_add_backward = shortcut_add_backward,
    .dropout_mask = dropout_mask,
    .events_bytes = sbp_events_bytes,
    .neuron_forward_events = sbp_events_neuron_forward,
    .spikes_unpack_events = sbp_events_unpack,
    .neuron_forward_pool = sbp_neuron_pool_forward,
    .neuron_pool_scratch = sbp_neuron_pool_scratch,
    .neuron_backward_pool = sbp_neuron_pool_backward,
    .synapse_neuron_pool_forward = sbp_conv_neuron_pool_forward,
    .synapse_neuron_pool_scratch = sbp_conv_neuron_pool_scratch,
    .synapse_neuron_pool_backward = sbp_conv_neuron_pool_backward,
    SBP_HOST_OPERATIONS,
};
