/*
 * conv_neuron_pool.c — the first convolution, its neurons and the pooling above them in one
 * pass (backend.h: synapse_neuron_pool_forward).
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

/* The prepared patterns (table and input bits) sit after the neurons+pooling pass's scratch. */
static size_t patterns_at(const sbp_layer *L, int tc)
{
    return (sbp_neuron_pool_rows_scratch(L, tc) + 15) & ~(size_t)15;
}

size_t sbp_conv_neuron_pool_scratch(const sbp_layer *L, int tc)
{
    return patterns_at(L, tc) + sbp_conv_patterns_scratch(L, tc) + 16;
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
