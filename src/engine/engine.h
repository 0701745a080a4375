/*
 * engine.h — one sample's pass through the network: forward over T steps in chunks of tc
 * steps (every layer advances a chunk before the next chunk starts, so the float working set
 * is O(tc), never O(T)), the loss gradient, and either backward mode of §3.
 *
 * Orchestration only: which layer, which chunk of steps, which buffer. Every buffer comes from
 * the backend (backend/backend.h) and every operation on one is a call through its table, once
 * per layer and chunk; the engine itself never reads or writes them. Rows are time-major
 * (tc, n) in the backend's neuron order; the chunk length tc is the backend's choice
 * (chunk_steps: 1 for the reference, a memory budget for cpu).
 *
 * An engine is per worker (a host thread for the host backends): it owns every buffer one
 * sample needs and is reused sample after sample. The reference backend runs the same
 * orchestration with tc = 1 and plain-loop kernels: the oracle for every other backend.
 */
#ifndef SBP_NET_ENGINE_H
#define SBP_NET_ENGINE_H

#include "backend/backend.h"
#include "core/rng.h"
#include "data/encode.h"
#include "net/net.h"

typedef struct sbp_engine {
    const sbp_net *net;
    int T, tc;              /* steps per window, steps per chunk */
    const sbp_backend *be;  /* every buffer below is this backend's memory */
    int train;              /* 1: keep what `mode`'s backward needs */
    sbp_backward mode;
    sbp_neuron_state st[SBP_MAX_LAYERS];
    float *mask[SBP_MAX_LAYERS];   /* (n_out) dropout scale, or NULL when p = 0 */
    float *factor[SBP_MAX_LAYERS]; /* (n_out) §3 surrogate factor, spiking layers */
    float *counts[SBP_MAX_LAYERS]; /* (n_in) aggregate mode: X = Σ_t x_in[t] */
    /* Exact mode: the state of layer l's backward by summation by parts (backend.h:
     * sweep_floats), where the backend offers it, followed by this engine's room for the
     * weights' copy; sweep_w[l] the copy in use (this engine's, or the one of the engine whose
     * weights it shares); sweeping[l]: taken for this window */
    float *sweep[SBP_MAX_LAYERS];
    const float *sweep_w[SBP_MAX_LAYERS];
    int sweeping[SBP_MAX_LAYERS];
    /* Residual blocks: outputs of layers that feed a shortcut are kept for the chunk, and the
     * gradient the shortcut sends back to them is summed until the backward reaches them. */
    float *keep[SBP_MAX_LAYERS];      /* (tc, n_out) output of a shortcut source */
    float *keep_grad[SBP_MAX_LAYERS]; /* (tc, n_out) gradient arriving through shortcuts */
    float *keep_in;                   /* (tc, n_in of layer 0) input, if a shortcut uses it */
    float *sc_counts[SBP_MAX_LAYERS]; /* (n_in of the shortcut) aggregate mode: its input X */
    float *cur_sc;                    /* (tc · max n) shortcut current / its input gradient */
    float *act[2];          /* (tc · max n) layer inputs/outputs, time-major */
    void *ev;               /* event lists of the current layer input where the backend has
                               them (backend.h: events_bytes), else NULL: one buffer, since a
                               layer's synapse has read its input's lists before its neurons
                               write theirs; in the exact backward, the input lists of the
                               layer whose synapse runs (spikes_unpack_events) */
    size_t ev_n;            /* the inputs ev has room for */
    int lists[SBP_MAX_LAYERS]; /* layer l's neurons write event lists into ev (decided once) */
    int fuse_pool[SBP_MAX_LAYERS]; /* layer l's neurons and the pooling above in one call,
                                      where the backend can (backend.h: neuron_forward_pool) */
    float *grad[2];         /* (tc · max n) activation gradients, time-major */
    float *cur;             /* (tc · max n) I or gI, time-major */
    float *perm;            /* (tc · n_in) channel-first input staged before the backend's
                               order (input_staging), or NULL */
    float *scratch;         /* kernel scratch */
    float *xval;            /* (n_in of layer 0) encoded input values |x|·gain, signed */
    const float *wk;        /* (nk) weights in the backend's layout (weights_in): own_wk,
                               or another engine's (sbp_engine_share_weights) */
    float *own_wk;          /* this engine's copy (untouched, so never resident, if shared) */
    float *gk;              /* (nk) gradient sum in that layout (training only) */
    /* Where each geometry's weights start in wk and gk: layer l's at koff[l], its convolution
     * shortcut's at koff_sc[l], each on a 64-byte boundary and as long as the backend's layout
     * needs (weights_floats, else w_count); nk floats in all. */
    size_t koff[SBP_MAX_LAYERS], koff_sc[SBP_MAX_LAYERS], nk;
    sbp_input in;           /* the current sample's input */
    void *block;            /* the single backend allocation behind every float buffer above */
    uint64_t *bits;         /* all spike bit arrays (exact mode) */
    int8_t *enc;            /* (T, n_in of layer 0) the encoded input spikes of the current
                               sample, exact mode (inside the bits allocation) */
    size_t bits_words;
} sbp_engine;

/* tc_override > 0 asks the backend for chunks of that many steps (the reference always uses
 * 1); 0 lets it choose. */
sbp_status sbp_engine_init(sbp_engine *e, const sbp_net *net, int T, const sbp_backend *be,
                           int train, sbp_backward mode, int tc_override, sbp_error *err);
void sbp_engine_release(sbp_engine *e);

/* Draws dropout masks for a sample (§1: one per sample and neuron, held for all T steps). */
void sbp_engine_draw_masks(sbp_engine *e, sbp_rng_key key, uint32_t epoch, uint32_t sample);
/* Clears masks (inference, or layers without dropout). */
void sbp_engine_clear_masks(sbp_engine *e);

/* Takes the weights (PyTorch layout, n_params) to use from now on. Call after every update. */
void sbp_engine_set_weights(sbp_engine *e, const float *params);

/* params (n_params, PyTorch layout, host) = this engine's own weights, converted back: after
 * an update applied to them in the backend's layout (sbp_engine_sgd). */
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
 * engine's per-neuron arrays (st[l].v, count, trace, bits, …): the backend's order. */
size_t sbp_engine_neuron(const sbp_engine *e, int l, size_t i);

/* For engines whose spike counts nobody reads (evaluation: neither a backward nor analysis):
 * the neurons stop keeping them. Call after sbp_engine_init, on an inference engine. */
void sbp_engine_skip_counts(sbp_engine *e);

/* Runs T steps; out (classes) gets o = M[T−1]/T (§1). */
void sbp_engine_forward(sbp_engine *e, const sbp_input *in, float *out);

/* Backward for the last forward: g_out (classes) = ∂L/∂o; adds ∂L/∂W to the engine's sum. */
void sbp_engine_backward(sbp_engine *e, const float *g_out);

/* dparams (n_params, PyTorch layout, host) += the engine's gradient sum, which is then zeroed. */
void sbp_engine_take_grad(sbp_engine *e, float *dparams);

/* Drops the engine's gradient sum (zeroes it), e.g. after a non-finite loss. */
void sbp_engine_drop_grad(sbp_engine *e);

/* The gradient sums of n engines (workers of one backend) add up in eng[0]'s, in worker order;
 * the others are zeroed. threads: host threads to use. */
void sbp_engine_reduce(sbp_engine *eng, int n, int threads);

/* The gradient sum of e (after sbp_engine_reduce: the sum over all workers): *n = e->nk floats
 * in the backend's layout and memory (its padding zeros included), for a communicator to sum
 * across processes in place (only where e->be->host_memory). Elementwise sums of it are the
 * same bits in any layout. */
float *sbp_engine_grad_arena(sbp_engine *e, size_t *n);

/* One SGD step with weight decay (§3) on e's own weights with e's gradient sum, both in the
 * backend's layout (elementwise, so the same bits as in PyTorch layout), then the gradient sum
 * is zero. If a gradient or an updated weight is not finite nothing changes (the gradient is
 * dropped) and the index of the network layer holding it is returned; else −1. Call
 * sbp_engine_get_weights after a successful step. */
int sbp_engine_sgd(sbp_engine *e, float lr, float wd, int threads);

#endif
