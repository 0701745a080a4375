/*
 * conv_neuron_pool.c — the first convolution, its neurons and the pooling above them in one
 * pass, forward and exact backward (backend.h: synapse_neuron_pool_forward and _backward).
 *
 * Apart, the convolution by input patterns (conv_patterns.c) writes a chunk's current for the
 * whole map — LeNet's 28×28×20 over 4 steps, 250 KiB, zeros in the quiet margins included —
 * and the neurons+pooling pass (neuron_pool.c) reads it back from L2, the margins skipped.
 * Here the pass asks for the current two image rows at a time, just before their neurons step
 * (sbp_neuron_pool_forward_rows), and the patterns write those rows into a 17 KiB buffer that
 * stays in L1; rows in the margins are never made. The same table sums and the same neuron
 * arithmetic, so the same bits as the two calls (tests/test_kernels.c).
 */
#include "backend/cpu/conv_neuron_pool.h"

#include "backend/cpu/conv.h"
#include "backend/cpu/neuron_pool.h"

/* The prepared patterns (table and input bits) — or, backward, the events sorted by row — sit
 * after the neurons+pooling pass's scratch. */
static size_t patterns_at(const sbp_layer *L, int tc)
{
    return (sbp_neuron_pool_rows_scratch(L, tc) + 15) & ~(size_t)15;
}

size_t sbp_conv_neuron_pool_scratch(const sbp_layer *L, int tc)
{
    const size_t f = sbp_conv_patterns_scratch(L, tc), b = sbp_conv_wgrad_rows_scratch(L, tc);
    return patterns_at(L, tc) + (f > b ? f : b) + 16;
}

typedef struct {
    const float *ws;
    const sbp_layer *L;
} patterns_ctx;

static void pattern_rows(float *I, size_t tstride, int y0, int rows, int tc, const void *ctx)
{
    const patterns_ctx *p = ctx;
    sbp_conv_patterns_rows(I, tstride, y0, rows, p->ws, p->L, tc);
}

int sbp_conv_neuron_pool_forward(float *Ip, const float *x, const float *Wt,
                                 sbp_neuron_state *st, const sbp_layer *L, const sbp_layer *Pl,
                                 int t0, int tc, float *ws)
{
    if (L->spec.kind != SBP_LAYER_CONV || !sbp_neuron_pool_forward_applies(st, L, Pl))
        return 0;
    float *pw = ws + patterns_at(L, tc);
    if (!sbp_conv_forward_fast_patterns(pw, x, Wt, L, tc))
        return 0; /* not what the convolution would do alone: the engine calls the three */
    const patterns_ctx ctx = {pw, L};
    const sbp_current_rows src = {pattern_rows, &ctx};
    return sbp_neuron_pool_forward_rows(Ip, &src, st, L, Pl, t0, tc, ws);
}

/* Backward: apart, the neurons+pooling backward writes the chunk's gI for the whole map (250
 * KiB for LeNet, zeros outside the live windows included) and the weight gradient reads it back
 * from L2. Here the neurons' backward makes it two image rows at a time into an L1 buffer
 * (sbp_neuron_pool_backward_rows), and the weight gradient takes each pair as it is made
 * (sbp_conv_wgrad_rows): the same gI and carry, dW summed in another order. */
typedef struct {
    float *dWt;
    const float *ws;
    const sbp_layer *L;
} wgrad_ctx;

static void wgrad_rows(const float *g, size_t tstride, int y0, int rows, int tc, void *ctx)
{
    const wgrad_ctx *w = ctx;
    sbp_conv_wgrad_rows(w->dWt, g, tstride, y0, rows, w->ws, w->L, tc);
}

int sbp_conv_neuron_pool_backward(float *dWt, const float *gP, const float *factor,
                                  const float *x, sbp_neuron_state *st, const sbp_layer *L,
                                  const sbp_layer *Pl, int t0, int tc, float *ws)
{
    if (L->spec.kind != SBP_LAYER_CONV)
        return 0;
    float *pw = ws + patterns_at(L, tc);
    size_t nnz;
    if (!sbp_conv_wgrad_rows_prepare(pw, x, L, tc, &nnz) ||
        !sbp_conv_backward_takes_events(L, nnz, tc))
        return 0; /* not what the convolution would do alone: the engine calls the others */
    wgrad_ctx ctx = {dWt, pw, L};
    const sbp_grad_rows dst = {wgrad_rows, &ctx};
    /* it declines (an odd map, no pooling of L) before dWt is touched */
    return sbp_neuron_pool_backward_rows(&dst, gP, factor, st, L, Pl, t0, tc, ws);
}
