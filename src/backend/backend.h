/*
 * backend.h — THE seam between the engine and the hardware: one table of operations per compute
 * backend, in the spirit of ggml-backend. The engine (src/engine) decides which layer, which
 * chunk of steps and which buffer; everything that reads or writes those buffers is one of the
 * operations below. A backend is chosen once per run (sbp_backend_get), never per neuron or
 * event: the engine dispatches once per layer and chunk.
 *
 * Instances: `reference` (backend/reference: plain loops, one step per chunk, PyTorch's
 * channel-first rows — the oracle every other backend is tested against) and `cpu`
 * (backend/cpu: all steps of a chunk per call, event-driven or im2col + SGEMM synapses,
 * channel-last rows, AVX-512 where the CPU has it). Both keep their buffers in host memory and
 * share the host operations of backend/host (neurons, encoding, masks, vector helpers, SGD).
 * `cuda` (backend/cuda, built only where CMake found nvcc: SBP_HAVE_CUDA) is one more table:
 * device buffers, channel-first rows like the reference, cuBLAS synapses (backend/cuda/cuda.h),
 * in a plugin of its own, libspikebp-cuda.so, that sbp_backend_get loads on first use
 * (backend/cuda_loader.h) and hands out only when a CUDA device answers.
 *
 * Buffers. Every float or bit array the engine hands to an operation comes from `alloc` of the
 * same backend (device memory for a GPU; zeroed host memory here) and is owned by the engine,
 * which frees it with `release`. Pointers into a buffer (offsets) are fine; the engine never
 * dereferences them. Host memory crosses only where an operation says "host": the network's
 * parameters (params, PyTorch layout), the sample's input (sbp_input: pixels or given spikes),
 * the output row and its gradient, and the analysis history.
 *
 * Rows. A chunk of tc steps is time-major: tc rows of n neurons. Within a row, the neurons of
 * a C×H×W map are in the backend's order (`neuron_index`: channel-first for the reference,
 * channel-last for cpu); elementwise operations do not care. Weights live in the backend's
 * layout (`weights_in` converts a layer's PyTorch-layout weights; `grad_out` adds a gradient
 * back in PyTorch layout).
 *
 * Gradient rule (one everywhere): parameter gradients accumulate (+=), activation gradients
 * overwrite, except the *_add operations, which are fan-in points.
 *
 * Synchrony. The host backends run every operation to completion before returning. A device
 * backend may queue work asynchronously on one stream in call order; the operations marked
 * "(host)" that return data to host memory (read_output, sgd, grad_out, weights_out) are the
 * synchronisation points and must complete before returning.
 */
#ifndef SBP_BACKEND_BACKEND_H
#define SBP_BACKEND_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "data/encode.h"
#include "net/net.h"

/* Per-sample state of one layer's neurons, in backend memory; every array has n_out entries
 * unless noted. */
typedef struct sbp_neuron_state {
    float *v;        /* membrane (threshold units) after the last processed step */
    float *count;    /* γ: spikes so far; NULL when nobody reads it (evaluation) */
    float *trace;    /* LF: leaky spike trace; NULL when no backward will run (inference) */
    const float *mask; /* dropout scale per neuron, 0 or 1/(1−p); NULL = none (§1) */
    uint64_t *bits;  /* (T, row words) spike bits for exact backward, one 64-bit-aligned row
                        per step (sbp_spike_bit); NULL when not kept */
    float *carry;    /* g_U[t0 + tc] carried between backward chunks; the engine lets it
                        share v's memory (dead after the forward) and zeroes it before the
                        backward */
    float *history;  /* integrator only, optional, HOST memory: (T, n_out) membrane after
                        every step (analysis; host backends only) */
    int quiet[4];    /* rows at the top and bottom, columns at the left and right of the
                        layer's out_h × out_w map that no current reaches in this sample: there
                        V stays 0 and no neuron fires, so a kernel may skip them, writing what
                        they would write (zeros). 0 = none; the engine sets them (engine.c:
                        quiet_margins) */
} sbp_neuron_state;

/* 64-bit words of one step's row of spike bits for n neurons. */
static inline size_t sbp_spike_row_words(size_t n)
{
    return (n + 63) / 64;
}

/* Spike of neuron i at step t: bit sbp_spike_bit(n, t, i) of the bits array. */
static inline size_t sbp_spike_bit(size_t n, int t, size_t i)
{
    return (size_t)t * sbp_spike_row_words(n) * 64 + i;
}

static inline int sbp_spike_get(const uint64_t *bits, size_t b)
{
    return (int)((bits[b >> 6] >> (b & 63)) & 1u);
}

/* The synapse of one layer kind (net/layer.h has the geometry). x (tc, n_in) input spikes
 * (scaled by the dropout mask below), I (tc, n_out) synaptic current, W the layer's weights in
 * the backend's layout, ws scratch of at least scratch(L, tc) floats (64-byte aligned). */
typedef struct sbp_synapse_ops {
    /* I = the currents of all tc steps (overwrites). */
    void (*forward)(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                    float *ws);
    /* dW += Σ_t gI[t] ⊗ x[t] (kinds with weights); dx = (∂I/∂x)ᵀ gI (overwrites; NULL: skip).
     * A backend may leave dx undefined where x = 0: nothing below reads it there (§3: g_s[t]
     * matters only where the layer below spiked). */
    void (*backward)(float *dx, float *dW, const float *gI, const float *x, const float *W,
                     const sbp_layer *L, int tc, float *ws);
    size_t (*scratch)(const sbp_layer *L, int tc);
    /* Wk (backend layout, backend memory) = W (PyTorch layout, host). NULL: no weights. */
    void (*weights_in)(float *Wk, const float *W, const sbp_layer *L);
    /* dW (PyTorch layout, host) += dWk (backend layout). NULL: no weights. */
    void (*grad_out)(float *dW, const float *dWk, const sbp_layer *L);
    /* Optional (NULL: not offered): forward given, besides x, the event lists ev that the
     * backend's neuron_forward_events wrote for x — the same I as forward. x may be NULL
     * (neuron_forward_events wrote the lists alone): I from the lists, in the order the kernel
     * takes them at low density (a kernel that would read x at high density does not). */
    void (*forward_events)(float *I, const float *x, const void *ev, const float *W,
                           const sbp_layer *L, int tc, float *ws);
    /* Whether forward_events walks the lists for layer L (a kernel that reads x its own way
     * would leave them unread, and listing costs the neurons below some time); NULL: always. */
    int (*takes_events)(const sbp_layer *L);
    /* Optional (NULL: not offered): backward given, besides x, the event lists ev that the
     * backend's spikes_unpack_events wrote for x — the same dW and dx as backward. The kernel
     * may use ev as scratch (it is not read afterwards). */
    void (*backward_events)(float *dx, float *dW, const float *gI, const float *x, void *ev,
                            const float *W, const sbp_layer *L, int tc, float *ws);
    /* Optional: floats the backend's layout of L's weights takes, at least w_count (a layout
     * may pad rows to whole vectors); NULL: w_count. The engine starts every layer's weights
     * and gradient sum on a 64-byte boundary; padding is the backend's to fill (weights_in)
     * and to keep at 0 in gradients, which SGD then leaves at 0. */
    size_t (*weights_floats)(const sbp_layer *L);
    /* Optional (NULL, or sweep_floats 0 for L: not offered): the exact backward of a layer fed
     * by a spiking layer, over the whole window, by summation by parts — with
     * Δ[t] = gI[t] − gI[t+1] (gI[T] = 0) and X[t] = Σ_{t' ≤ t} x[t'],
     *     dW += Σ_t Δ[t] ⊗ X[t],   dx[t] = dx[t+1] + (∂I/∂x)ᵀ Δ[t]   (dx[T] = 0):
     * the same sums as backward, in real arithmetic. Over spiking neurons gI changes only at
     * their spikes, so the work goes with the layer's output spikes, not its input events.
     * sweep_floats(L, 0): floats of state the engine keeps for the window; (L, 1): floats of
     * the weights' copy WT that sweep_weights makes from W whenever W changes (engines that
     * share W share it). sweep_begin readies the state from the input's window totals (count:
     * the spike counts γ of the layer below, mask its dropout scale or NULL) and returns 1 if
     * the sweep pays off here (out_count: this layer's γ), 0 if the engine is to call backward
     * as usual. Then sweep_backward for each chunk, the last first, with the chunk's input
     * lists ev as for backward_events (dx written where x may be nonzero at least, as
     * backward) and sweep_scratch floats of ws; sweep_end adds dW. */
    size_t (*sweep_floats)(const sbp_layer *L, int part);
    void (*sweep_weights)(float *WT, const float *W, const sbp_layer *L);
    int (*sweep_begin)(float *state, const float *count, const float *mask,
                       const float *out_count, const sbp_layer *L);
    void (*sweep_backward)(float *dx, float *state, const float *WT, const float *gI,
                           const void *ev, const sbp_layer *L, int tc, float *ws);
    /* floats of ws sweep_backward needs for a chunk of tc steps (in any alignment) */
    size_t (*sweep_scratch)(const sbp_layer *L, int tc);
    void (*sweep_end)(float *dW, float *state, const sbp_layer *L);
} sbp_synapse_ops;

typedef struct sbp_backend {
    const char *name;
    /* 1: every buffer from alloc is ordinary host memory (the host backends), so other parts
     * of the program may read and write it directly, e.g. the MPI communicator summing the
     * gradient arena across processes (train/comm.h); 0 (a device backend): they may not. */
    int host_memory;

    /* ---- buffers (see the header comment) */
    void *(*alloc)(size_t bytes); /* zeroed; NULL when out of memory */
    void (*release)(void *p);
    void (*zero)(void *p, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes); /* both in backend memory */

    /* ---- layout and chunking */
    /* Steps per chunk for a network (never more than T); tc_override > 0 asks for that many
     * (clamped to T), backends that run one step at a time ignore it. */
    int (*chunk_steps)(const sbp_net *net, int T, int tc_override);
    /* Where neuron i of layer L, counted channel-first (c, y, x), sits in the backend's rows. */
    size_t (*neuron_index)(const sbp_layer *L, size_t i);
    /* Whether the input chunk needs a channel-first staging row (n_in floats per step) before
     * encode turns it into the backend's order. */
    int (*input_staging)(const sbp_layer *L0);

    /* ---- synapses: one row per layer kind; the 1×1 convolution shortcut uses the CONV row
     * with the shortcut's own geometry (L->sc) */
    sbp_synapse_ops synapse[SBP_LAYER_KIND_COUNT];
    /* Parameter-free shortcuts (subsample, identity): I (tc, n_out) += x sampled; dx (tc, n_in)
     * += the adjoint. sc is the shortcut's geometry. */
    void (*shortcut_add)(float *I, const float *x, const sbp_layer *sc, int tc);
    void (*shortcut_add_backward)(float *dx, const float *gI, const sbp_layer *sc, int tc);

    /* ---- neurons (§1, §3); st's arrays in backend memory */
    void (*neuron_reset)(sbp_neuron_state *st, const sbp_layer *L);
    /* Steps t0 … t0+tc−1: I (tc, n) current; y (tc, n) spikes × mask (NULL: integrator). */
    void (*neuron_forward)(float *y, const float *I, sbp_neuron_state *st, const sbp_layer *L,
                           int t0, int tc);
    /* factor (n) that turns ∂L/∂y into ∂L/∂s at the end of the window (§3). factor may be
     * st->trace itself (elementwise, in place): the engine puts it there, since the trace is
     * read only to make the factor. */
    void (*neuron_surrogate)(float *factor, const sbp_neuron_state *st, const sbp_layer *L,
                             sbp_backward mode);
    /* Exact backward over steps t0 … t0+tc−1, chunks from last to first: gI (tc, n) from
     * gy (tc, n) (overwrites). */
    void (*neuron_backward)(float *gI, const float *gy, const float *factor,
                            sbp_neuron_state *st, const sbp_layer *L, int t0, int tc);
    /* Aggregate backward: gI (n) = factor ⊙ gy (§3 δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ factor). */
    void (*neuron_backward_aggregate)(float *gI, const float *gy, const float *factor,
                                      size_t n);
    /* Optional, both or neither (NULL: the backend has no event lists). A spiking layer whose
     * outputs feed a synapse with forward_events may write them as event lists too: ev is a
     * buffer of events_bytes(n_out, tc) bytes (from alloc) that neuron_forward_events fills in
     * the backend's own layout, besides doing all that neuron_forward does; the synapse above
     * reads it instead of scanning y (an event-driven CPU backend spends ~7 % of its time there).
     * y may be NULL: the lists, state and bits alone, where nothing else reads the rows (the
     * engine then gives forward_events x = NULL). */
    size_t (*events_bytes)(size_t n, int tc);
    void (*neuron_forward_events)(float *y, void *ev, const float *I, sbp_neuron_state *st,
                                  const sbp_layer *L, int t0, int tc);
    /* Optional, both or neither (NULL: not fused). A spiking layer L and the pooling layer P
     * above it in one pass: L's neurons over steps t0 … t0+tc−1 as neuron_forward advances
     * them (the same state and bits), and P's current Ip (tc, n_out of P) as P's synapse would
     * make it from L's spikes — which are not written. Returns 0, doing nothing, where the
     * backend does not fuse them (the engine then calls the two); ws holds
     * neuron_pool_scratch(L, tc) floats. */
    int (*neuron_forward_pool)(float *Ip, const float *I, sbp_neuron_state *st,
                               const sbp_layer *L, const sbp_layer *P, int t0, int tc,
                               float *ws);
    size_t (*neuron_pool_scratch)(const sbp_layer *L, int tc);
    /* Optional (NULL: not fused; needs the two above). Their exact backward, chunks from last
     * to first: L's neurons' gI (tc, n_out of L) and carry from the pooling layer's current
     * gradient gP (tc, n_out of P), as neuron_backward computes them from the gradient P's
     * synapse backward makes — which is not written. Returns 0, doing nothing, where the
     * backend does not fuse them. ws as above. */
    int (*neuron_backward_pool)(float *gI, const float *gP, const float *factor,
                                sbp_neuron_state *st, const sbp_layer *L, const sbp_layer *P,
                                int t0, int tc, float *ws);
    /* Optional, both or neither (NULL: not fused; needs neuron_forward_pool). A layer's
     * synapse too: what synapse[L's kind].forward from x (tc, n_in of L) and w, then
     * neuron_forward_pool, would do — the same Ip, state and bits — without writing L's
     * current. Returns 0, doing nothing, where the backend does not fuse the three (the engine
     * then calls them); ws holds synapse_neuron_pool_scratch(L, tc) floats. */
    int (*synapse_neuron_pool_forward)(float *Ip, const float *x, const float *w,
                                       sbp_neuron_state *st, const sbp_layer *L,
                                       const sbp_layer *P, int t0, int tc, float *ws);
    size_t (*synapse_neuron_pool_scratch)(const sbp_layer *L, int tc);
    /* Optional (NULL: not fused; needs neuron_backward_pool and synapse_neuron_pool_scratch).
     * The exact backward of the three for the first layer (no input gradient), chunks from
     * last to first: neuron_backward_pool's carry, and dw (L's slice of the gradient sum) +=
     * what synapse[L's kind].backward would add from x (tc, n_in of L) and the gI that
     * neuron_backward_pool would write — which is not written — summed in an order of the
     * backend's. Returns 0, doing nothing, where the backend does not fuse the three (the
     * engine then calls them); ws holds synapse_neuron_pool_scratch(L, tc) floats. */
    int (*synapse_neuron_pool_backward)(float *dw, const float *gP, const float *factor,
                                        const float *x, sbp_neuron_state *st,
                                        const sbp_layer *L, const sbp_layer *P, int t0, int tc,
                                        float *ws);
    /* y (steps, n) = the spikes of steps t0 … t0+steps−1 from a layer's bits, × mask. */
    void (*spikes_unpack)(float *y, const uint64_t *bits, const float *mask, size_t n, int t0,
                          int steps);
    /* Optional (NULL: not offered; needs events_bytes): spikes_unpack, and the same spikes as
     * event lists in ev (events_bytes(n, steps) bytes, the layout of neuron_forward_events)
     * for a synapse's backward_events — read from the bits instead of found again in y. */
    void (*spikes_unpack_events)(float *y, void *ev, const uint64_t *bits, const float *mask,
                                 size_t n, int t0, int steps);

    /* ---- input (§1 rate code, the same Philox draws on every backend) */
    /* xval (n_in) = |x|·gain with x's sign, channel-first, from in's pixels (host). */
    void (*encode_values)(float *xval, const sbp_input *in, const sbp_layer *L0);
    /* x (steps, n_in) in the backend's order = steps t0 … of the sample's input: given spikes
     * (in->spikes / in->spikes8, host) or rate-encoded from xval; stage (steps, n_in) or NULL
     * as input_staging says. */
    void (*encode)(float *x, float *stage, const sbp_input *in, const float *xval,
                   const sbp_layer *L0, int t0, int steps);
    /* Keeps / restores a chunk of input spikes (−1, 0, 1) as one byte each. */
    void (*spikes_keep8)(int8_t *dst, const float *x, size_t count);
    void (*spikes_load8)(float *x, const int8_t *src, size_t count);
    /* mask (n_out) = dropout scale of layer l for one sample (§1: one draw per sample and
     * neuron, held for all T steps), in the backend's order. */
    void (*dropout_mask)(float *mask, const sbp_layer *L, int l, sbp_rng_key key,
                         uint32_t epoch, uint32_t sample);

    /* ---- vector helpers over backend memory */
    void (*add)(float *y, const float *x, size_t n);                  /* y += x */
    void (*add_rows)(float *sum, const float *x, size_t n, int steps); /* sum += Σ_t x[t] */
    /* rows (steps, n) = g (n, host) / div at every step (§3 δ_out = g_out/T). */
    void (*fill_rows)(float *rows, const float *g, float div, size_t n, int steps);
    /* out (n, host) = v (n) / div (§1 o = M[T−1]/T). */
    void (*read_output)(float *out, const float *v, size_t n, float div);

    /* ---- gradient reduction across the backend's workers, and the SGD step */
    /* g[0] (n) += g[1] + … + g[workers−1], in worker order (the same bits as summing them in
     * PyTorch layout); the others are zeroed. threads: host threads to use. */
    void (*reduce)(float *const *g, int workers, size_t n, int threads);
    /* SGD with weight decay on the backend-layout arrays (§3): w ← w − lr·(g + wd·w), then
     * g = 0. Checks first: if any g or updated w is not finite, nothing changes and the index
     * of the first such element is returned; else −1 (host). */
    long (*sgd)(float *w, float *g, size_t n, float lr, float wd, int threads);
} sbp_backend;

/* The backend `id` (spikebp.h), or NULL with err saying why it is not available here (a
 * backend this build lacks, or a device this machine lacks). */
const sbp_backend *sbp_backend_get(sbp_backend_id id, sbp_error *err);

extern const sbp_backend sbp_backend_reference;
extern const sbp_backend sbp_backend_cpu;

#endif
