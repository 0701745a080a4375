/*
 * engine.h — one sample's pass through the network: forward over T steps in chunks of tc
 * steps (every layer advances a chunk before the next chunk starts, so the float working set
 * is O(tc), never O(T)), the loss gradient, and either backward mode of §3.
 *
 * An engine is per thread: it owns every buffer one sample needs and is reused sample after
 * sample. The reference implementation runs the same orchestration with tc = 1 and the
 * plain-loop kernels, one step at a time: the oracle for the fast path.
 */
#ifndef SBP_NET_ENGINE_H
#define SBP_NET_ENGINE_H

#include "core/rng.h"
#include "data/dataset.h"
#include "layers/neuron.h"
#include "net/net.h"

/* Where a sample's input spikes come from. */
typedef struct sbp_input {
    const float *spikes;    /* (T, C, H, W) given spikes, or NULL to rate-encode `pixels` */
    const int8_t *spikes8;  /* the same as int8 (pre-encoded data sets), or NULL */
    const uint8_t *pixels;  /* (C, H, W) raw image */
    const float *mean, *std; /* per channel, of pixel/255 */
    float gain;             /* spike probability = |x|·gain (§1) */
    sbp_rng_key key;        /* ENCODE stream */
    uint32_t tag;           /* epoch for training, a fixed tag for evaluation */
    uint32_t sample;        /* dataset index: the spikes depend on it, not on the batch */
} sbp_input;

/* Counter tag of the encoding in evaluation (training uses the epoch), shared by every path
 * that must see the same input spikes as sbp_eval (analysis, plots). */
#define SBP_INPUT_EVAL_TAG 0xE7A1u

/* The input of image i of ds: its pre-encoded spike trains, or its pixels to rate-encode with
 * key under counter tag `tag` (the epoch in training, SBP_INPUT_EVAL_TAG in evaluation). */
void sbp_input_for(sbp_input *in, const sbp_dataset *ds, size_t i, sbp_rng_key key, uint32_t tag);

/* The rate code of §1, split so that callers can keep the value map: xval (C·P) gets
 * |x|·gain with x's sign, x = (pixel/255 − mean[c]) / std[c]; then steps t0 … t0+steps−1 of
 * spikes sign(x)·[|x|·gain > r] go to out (steps, C·P). out may overlap xval only if xval is
 * the last row written (each value is read before its slot is written). */
void sbp_input_values(float *xval, const sbp_input *in, int C, size_t P);
void sbp_input_spikes(float *out, const sbp_input *in, const float *xval, size_t n, int t0,
                      int steps);

typedef struct sbp_engine {
    const sbp_net *net;
    int T, tc;              /* steps per window, steps per chunk */
    sbp_impl impl;
    int train;              /* 1: keep what `mode`'s backward needs */
    sbp_backward mode;
    sbp_neuron_state st[SBP_MAX_LAYERS];
    float *mask[SBP_MAX_LAYERS];   /* (n_out) dropout scale, or NULL when p = 0 */
    float *factor[SBP_MAX_LAYERS]; /* (n_out) §3 surrogate factor, spiking layers */
    float *counts[SBP_MAX_LAYERS]; /* (n_in) aggregate mode: X = Σ_t x_in[t] */
    /* Residual blocks: outputs of layers that feed a shortcut are kept for the chunk, and the
     * gradient the shortcut sends back to them is summed until the backward reaches them. */
    float *keep[SBP_MAX_LAYERS];      /* (tc, n_out) output of a shortcut source */
    float *keep_grad[SBP_MAX_LAYERS]; /* (tc, n_out) gradient arriving through shortcuts */
    float *keep_in;                   /* (tc, n_in of layer 0) input, if a shortcut uses it */
    float *sc_counts[SBP_MAX_LAYERS]; /* (n_in of the shortcut) aggregate mode: its input X */
    float *cur_sc;                    /* (tc · max n) shortcut current / its input gradient */
    float *act[2];          /* (tc · max n) layer inputs/outputs, time-major */
    float *grad[2];         /* (tc · max n) activation gradients, time-major */
    float *cur;             /* (tc · max n) I or gI, time-major */
    float *perm;            /* (tc · n_in) channel-first input before the fast path's
                               channel-last copy, or NULL when the layouts agree */
    float *scratch;         /* kernel scratch */
    float *xval;            /* (n_in of layer 0) encoded input values |x|·gain, signed */
    const float *wk;        /* (n_params) weights in the implementation's layout (ops.h):
                               own_wk, or another engine's (sbp_engine_share_weights) */
    float *own_wk;          /* this engine's copy (untouched, so never resident, if shared) */
    float *gk;              /* (n_params) gradient sum in that layout (training only) */
    sbp_input in;           /* the current sample's input */
    void *block;            /* the single allocation behind every float buffer above */
    uint64_t *bits;         /* all spike bit arrays (exact mode) */
    int8_t *enc;            /* (T, n_in of layer 0) the encoded input spikes of the current
                               sample, exact mode (inside the bits allocation) */
    size_t bits_words;
} sbp_engine;

/* tc_override 0 picks the chunk length from a memory budget; REFERENCE always uses 1. */
sbp_status sbp_engine_init(sbp_engine *e, const sbp_net *net, int T, sbp_impl impl, int train,
                           sbp_backward mode, int tc_override, sbp_error *err);
void sbp_engine_release(sbp_engine *e);

/* Draws dropout masks for a sample (§1: one per sample and neuron, held for all T steps). */
void sbp_engine_draw_masks(sbp_engine *e, sbp_rng_key key, uint32_t epoch, uint32_t sample);
/* Clears masks (inference, or layers without dropout). */
void sbp_engine_clear_masks(sbp_engine *e);

/* Takes the weights (PyTorch layout, n_params) to use from now on. Call after every update. */
void sbp_engine_set_weights(sbp_engine *e, const float *params);

/* params (n_params, PyTorch layout) = this engine's own weights, converted back: after an
 * update applied to own_wk in the implementation's layout. */
void sbp_engine_get_weights(const sbp_engine *e, float *params);

/* Uses owner's converted weights, read-only, instead of converting its own copy: engines of one
 * network on several threads hold the weights once. Valid while the owner lives and until the
 * owner's next sbp_engine_set_weights, after which this is called again; a later
 * sbp_engine_set_weights on e goes back to e's own copy. */
void sbp_engine_share_weights(sbp_engine *e, const sbp_engine *owner);

/* Optional: keep the output layer's membrane after every step in history (T, classes), so
 * that the prediction argmax M[t] can be read for every window length t + 1 (analysis). NULL
 * stops recording. The caller owns the buffer. */
void sbp_engine_record_output(sbp_engine *e, float *history);

/* Where neuron i of layer l, counted in PyTorch's channel-first order (c, y, x), sits in the
 * engine's per-neuron arrays (st[l].v, count, trace, bits, …): the fast path keeps neurons
 * channel-last (layer.h). */
size_t sbp_engine_neuron(const sbp_engine *e, int l, size_t i);

/* For engines whose spike counts nobody reads (evaluation: neither a backward nor analysis):
 * the neurons stop keeping them. Call after sbp_engine_init, on an inference engine. */
void sbp_engine_skip_counts(sbp_engine *e);

/* Runs T steps; out (classes) gets o = M[T−1]/T (§1). */
void sbp_engine_forward(sbp_engine *e, const sbp_input *in, float *out);

/* Backward for the last forward: g_out (classes) = ∂L/∂o; adds ∂L/∂W to the engine's sum. */
void sbp_engine_backward(sbp_engine *e, const float *g_out);

/* dparams (n_params, PyTorch layout) += the engine's gradient sum, which is then zeroed. */
void sbp_engine_take_grad(sbp_engine *e, float *dparams);

#endif
