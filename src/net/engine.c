/*
 * engine.c — one sample through the network, forward and backward (§1–§3).
 *
 * Forward: for each chunk of tc steps, the input spikes of the chunk are produced, then every
 * layer turns its input chunk into an output chunk (synapse op for all tc steps at once, then
 * the elementwise neuron recursion). No synaptic delay: layer l+1 sees layer l's spikes of the
 * same step (§ notation).
 * Exact backward (§3): chunks from last to first, layers from top to bottom; each layer's input
 * spikes are rebuilt from the bits the layer below kept (or re-encoded: the encoder is a pure
 * function of (seed, epoch, sample, t, pixel)), so only bits are stored per step.
 * Aggregate backward (§3): one ANN-like pass over the count maps X; nothing per step is kept.
 */
#include "net/engine.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "layers/ops.h"
#include "core/transpose.h"
#include "layers/shortcut.h"

/* Chunk length budget: floats of one per-chunk row buffer, 64 Ki floats = 256 KiB (LeNet: 4 steps
 * per chunk). Measured on LeNet at T = 100, 2 threads: chunks of 2, 4 or 15 steps train and
 * infer at the same speed, and smaller chunks hold less memory (bench/). */
#define SBP_CHUNK_BUDGET_FLOATS ((size_t)1 << 16)
/* ... but at least this many steps per chunk: wide layers (VGG9's 64×32×32 maps) lose 7–17 %
 * in exact training at one step per call (per-call costs: spike bitmaps, tables, GEMM blocks). */
#define SBP_CHUNK_MIN_STEPS 4

static int has_weights(const sbp_layer *L)
{
    return L->w_count > 0;
}

static int is_spiking(const sbp_layer *L)
{
    return L->neuron != SBP_NEURON_INTEGRATOR;
}

sbp_status sbp_engine_init(sbp_engine *e, const sbp_net *net, int T, sbp_impl impl, int train,
                           sbp_backward mode, int tc_override, sbp_error *err)
{
    memset(e, 0, sizeof *e);
    if (T < 1)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "timesteps must be at least 1 (got %d)", T);
    e->net = net;
    e->T = T;
    e->impl = impl;
    e->train = train;
    e->mode = mode;

    size_t maxn = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        maxn = L->n_in > maxn ? L->n_in : maxn;
        maxn = L->n_out > maxn ? L->n_out : maxn;
    }
    int tc = 1;
    if (impl != SBP_IMPL_REFERENCE) {
        if (tc_override > 0) {
            tc = tc_override < T ? tc_override : T;
        } else {
            /* per step: one row of the largest layer (the gemm path's column buffer is
             * bounded by blocks of steps, conv.c, so it does not scale with tc) */
            size_t per_step = maxn;
            size_t lim = SBP_CHUNK_BUDGET_FLOATS / (per_step ? per_step : 1);
            if (lim < SBP_CHUNK_MIN_STEPS)
                lim = SBP_CHUNK_MIN_STEPS;
            tc = lim > (size_t)T ? T : (int)lim;
            int chunks = (T + tc - 1) / tc; /* balance the chunks */
            tc = (T + chunks - 1) / chunks;
        }
    }
    e->tc = tc;

    /* Which outputs feed a shortcut. */
    int source[SBP_MAX_LAYERS] = {0}, input_source = 0, any_sc = 0;
    for (int l = 0; l < net->n_layers; l++)
        if (net->layers[l].sc) {
            any_sc = 1;
            int from = net->layers[l].spec.shortcut_from;
            if (from < 0)
                input_source = 1;
            else
                source[from] = 1;
        }

    /* Size the one block. */
    size_t total = 0, scratch = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        total += (train ? 4 : 2) * L->n_out; /* v, count, and for training trace, carry */
        if (L->spec.dropout > 0.0f)
            total += L->n_out;
        if (train && is_spiking(L))
            total += L->n_out; /* factor */
        if (train && mode == SBP_BACKWARD_AGGREGATE && has_weights(L))
            total += L->n_in; /* counts */
        size_t s = sbp_layer_ops_of(L->spec.kind)->scratch(L, tc);
        scratch = s > scratch ? s : scratch;
        if (source[l])
            total += (train ? 2 : 1) * (size_t)tc * L->n_out;
        if (L->sc) {
            size_t ss = sbp_layer_ops_of(SBP_LAYER_CONV)->scratch(L->sc, tc);
            scratch = ss > scratch ? ss : scratch;
            if (train && mode == SBP_BACKWARD_AGGREGATE)
                total += L->sc->n_in;
        }
    }
    if (input_source)
        total += (size_t)tc * net->layers[0].n_in;
    if (any_sc)
        total += (size_t)tc * maxn;
    total += 5 * (size_t)tc * maxn + scratch + 16 + net->layers[0].n_in;
    const sbp_layer *L0 = &net->layers[0];
    const int permute_input = impl != SBP_IMPL_REFERENCE && L0->in_c > 1 && L0->in_h * L0->in_w > 1;
    if (permute_input)
        total += (size_t)tc * L0->n_in;
    total += (train ? 2 : 1) * net->n_params;
    float *p = calloc(total ? total : 1, sizeof(float));
    if (!p)
        return sbp_fail(err, SBP_ERR_NOMEM, "engine: cannot allocate %zu MiB of working memory",
                        total * sizeof(float) >> 20);
    e->block = p;
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        sbp_neuron_state *st = &e->st[l];
        st->v = p, p += L->n_out;
        st->count = p, p += L->n_out;
        if (train) {
            st->trace = p, p += L->n_out;
            st->carry = p, p += L->n_out;
        }
        if (L->spec.dropout > 0.0f)
            e->mask[l] = p, p += L->n_out;
        if (train && is_spiking(L))
            e->factor[l] = p, p += L->n_out;
        if (train && mode == SBP_BACKWARD_AGGREGATE && has_weights(L))
            e->counts[l] = p, p += L->n_in;
        if (source[l]) {
            e->keep[l] = p, p += (size_t)tc * L->n_out;
            if (train)
                e->keep_grad[l] = p, p += (size_t)tc * L->n_out;
        }
        if (L->sc && train && mode == SBP_BACKWARD_AGGREGATE)
            e->sc_counts[l] = p, p += L->sc->n_in;
    }
    if (input_source)
        e->keep_in = p, p += (size_t)tc * net->layers[0].n_in;
    if (any_sc)
        e->cur_sc = p, p += (size_t)tc * maxn;
    for (int i = 0; i < 2; i++) {
        e->act[i] = p, p += (size_t)tc * maxn;
        e->grad[i] = p, p += (size_t)tc * maxn;
    }
    e->cur = p, p += (size_t)tc * maxn;
    if (permute_input)
        e->perm = p, p += (size_t)tc * L0->n_in;
    /* Kernels keep pointers and wide vectors in scratch: align it to 64 bytes. */
    p += (16 - ((uintptr_t)p / sizeof(float)) % 16) % 16;
    e->scratch = p, p += scratch;
    e->xval = p, p += net->layers[0].n_in;
    e->own_wk = p, p += net->n_params;
    e->wk = e->own_wk;
    if (train)
        e->gk = p;

    if (train && mode == SBP_BACKWARD_EXACT) {
        size_t words = 0;
        for (int l = 0; l < net->n_layers; l++)
            if (is_spiking(&net->layers[l]))
                words += (size_t)T * sbp_spike_row_words(net->layers[l].n_out);
        /* + the encoded input spikes, one byte each (the encoder's −1/0/1) */
        const size_t enc_words = ((size_t)T * net->layers[0].n_in + 7) / 8;
        e->bits = calloc(words + enc_words ? words + enc_words : 1, sizeof(uint64_t));
        if (!e->bits) {
            free(e->block);
            e->block = NULL;
            return sbp_fail(err, SBP_ERR_NOMEM, "engine: cannot allocate %zu KiB of spike bits",
                            words * 8 >> 10);
        }
        e->bits_words = words;
        e->enc = (int8_t *)(void *)(e->bits + words);
        uint64_t *b = e->bits;
        for (int l = 0; l < net->n_layers; l++)
            if (is_spiking(&net->layers[l])) {
                e->st[l].bits = b;
                b += (size_t)T * sbp_spike_row_words(net->layers[l].n_out);
            }
    }
    return SBP_OK;
}

void sbp_engine_release(sbp_engine *e)
{
    free(e->block);
    free(e->bits);
    memset(e, 0, sizeof *e);
}

void sbp_engine_set_weights(sbp_engine *e, const float *params)
{
    float *wk = e->own_wk;
    e->wk = wk;
    for (int l = 0; l < e->net->n_layers; l++) {
        const sbp_layer *L = &e->net->layers[l];
        const sbp_layer_ops *ops = sbp_layer_ops_of(L->spec.kind);
        if (ops->to_impl)
            ops->to_impl(wk + L->w_offset, params + L->w_offset, L, e->impl);
        if (L->sc && L->sc->w_count)
            sbp_layer_ops_of(SBP_LAYER_CONV)
                ->to_impl(wk + L->sc->w_offset, params + L->sc->w_offset, L->sc, e->impl);
    }
}

void sbp_engine_get_weights(const sbp_engine *e, float *params)
{
    memset(params, 0, e->net->n_params * sizeof(float)); /* every weight belongs to a layer */
    for (int l = 0; l < e->net->n_layers; l++) {
        const sbp_layer *L = &e->net->layers[l];
        const sbp_layer_ops *ops = sbp_layer_ops_of(L->spec.kind);
        if (ops->add_from_impl)
            ops->add_from_impl(params + L->w_offset, e->own_wk + L->w_offset, L, e->impl);
        if (L->sc && L->sc->w_count)
            sbp_layer_ops_of(SBP_LAYER_CONV)
                ->add_from_impl(params + L->sc->w_offset, e->own_wk + L->sc->w_offset, L->sc,
                                e->impl);
    }
}

void sbp_engine_skip_counts(sbp_engine *e)
{
    if (e->train)
        return; /* the surrogate factor needs γ */
    for (int l = 0; l < e->net->n_layers; l++)
        e->st[l].count = NULL;
}

void sbp_engine_share_weights(sbp_engine *e, const sbp_engine *owner)
{
    e->wk = owner->wk;
}

void sbp_engine_take_grad(sbp_engine *e, float *dparams)
{
    for (int l = 0; l < e->net->n_layers; l++) {
        const sbp_layer *L = &e->net->layers[l];
        const sbp_layer_ops *ops = sbp_layer_ops_of(L->spec.kind);
        if (ops->add_from_impl)
            ops->add_from_impl(dparams + L->w_offset, e->gk + L->w_offset, L, e->impl);
        if (L->sc && L->sc->w_count)
            sbp_layer_ops_of(SBP_LAYER_CONV)
                ->add_from_impl(dparams + L->sc->w_offset, e->gk + L->sc->w_offset, L->sc,
                                e->impl);
    }
    memset(e->gk, 0, e->net->n_params * sizeof(float));
}

void sbp_engine_record_output(sbp_engine *e, float *history)
{
    e->st[e->net->n_layers - 1].history = history;
}

void sbp_engine_draw_masks(sbp_engine *e, sbp_rng_key key, uint32_t epoch, uint32_t sample)
{
    for (int l = 0; l < e->net->n_layers; l++) {
        float *m = e->mask[l];
        const sbp_layer *L = &e->net->layers[l];
        e->st[l].mask = m;
        if (!m)
            continue;
        const float p = L->spec.dropout, keep = 1.0f / (1.0f - p);
        for (size_t i = 0; i < L->n_out; i += 4) {
            uint32_t w[4];
            sbp_rng_words(key, epoch, sample, (uint32_t)l, (uint32_t)(i / 4), w);
            for (size_t q = 0; q < 4 && i + q < L->n_out; q++)
                m[sbp_engine_neuron(e, l, i + q)] = sbp_rng_unit(w[q]) < p ? 0.0f : keep;
        }
    }
}

void sbp_engine_clear_masks(sbp_engine *e)
{
    for (int l = 0; l < e->net->n_layers; l++)
        e->st[l].mask = NULL;
}

void sbp_input_for(sbp_input *in, const sbp_dataset *ds, size_t i, sbp_rng_key key, uint32_t tag)
{
    memset(in, 0, sizeof *in);
    if (ds->spikes) {
        in->spikes8 = ds->spikes + i * (size_t)ds->timesteps * ds->c * ds->h * ds->w;
        return;
    }
    in->pixels = sbp_dataset_image(ds, i);
    in->mean = ds->mean;
    in->std = ds->std;
    in->gain = ds->gain;
    in->key = key;
    in->tag = tag;
    in->sample = (uint32_t)i;
}

/* The input chunk x (n, C, H, W) for steps t0 … t0+n−1 (§1 rate encoding). */
void sbp_input_values(float *xval, const sbp_input *in, int C, size_t P)
{
    for (int c = 0; c < C; c++)
        for (size_t p = 0; p < P; p++) {
            size_t j = (size_t)c * P + p;
            xval[j] = ((float)in->pixels[j] / 255.0f - in->mean[c]) / in->std[c] * in->gain;
        }
}

void sbp_input_spikes(float *out, const sbp_input *in, const float *xval, size_t n, int t0,
                      int steps)
{
    for (int t = 0; t < steps; t++) {
        float *xt = out + (size_t)t * n;
        size_t j = 0;
        /* 64 pixels (16 counters) at a time: the same words as below, drawn in one go */
        for (; j + 64 <= n; j += 64) {
            uint32_t w[4][16];
            sbp_rng_words16(in->key, in->tag, in->sample, (uint32_t)(t0 + t), (uint32_t)(j / 4),
                            w);
            for (size_t q = 0; q < 64; q++) {
                float v = xval[j + q];
                float a = v < 0.0f ? -v : v;
                xt[j + q] = a > sbp_rng_unit(w[q % 4][q / 4]) ? (v < 0.0f ? -1.0f : 1.0f) : 0.0f;
            }
        }
        for (; j < n; j += 4) {
            uint32_t w[4];
            sbp_rng_words(in->key, in->tag, in->sample, (uint32_t)(t0 + t), (uint32_t)(j / 4), w);
            for (size_t q = 0; q < 4 && j + q < n; q++) {
                float v = xval[j + q];
                float a = v < 0.0f ? -v : v;
                xt[j + q] = a > sbp_rng_unit(w[q]) ? (v < 0.0f ? -1.0f : 1.0f) : 0.0f;
            }
        }
    }
}

size_t sbp_engine_neuron(const sbp_engine *e, int l, size_t i)
{
    const sbp_layer *L = &e->net->layers[l];
    const size_t P = sbp_layer_positions(L);
    if (e->impl == SBP_IMPL_REFERENCE || P == 1 || L->out_c == 1)
        return i;
    return (i % P) * (size_t)L->out_c + i / P; /* channel-last (layer.h) */
}

/* The input chunk x (n, n_in) in the engine's layout: the data's channel-first steps,
 * rebuilt from the given spikes or re-encoded, and turned channel-last for the fast path. */
static void input_fill(const sbp_engine *e, int t0, int n, float *x)
{
    const sbp_layer *L0 = &e->net->layers[0];
    const size_t nin = L0->n_in, P = (size_t)L0->in_h * L0->in_w;
    float *chw = e->perm ? e->perm : x;
    if (e->in.spikes) {
        memcpy(chw, e->in.spikes + (size_t)t0 * nin, sizeof(float) * (size_t)n * nin);
    } else if (e->in.spikes8) {
        const int8_t *s = e->in.spikes8 + (size_t)t0 * nin;
        for (size_t i = 0; i < (size_t)n * nin; i++)
            chw[i] = (float)s[i];
    } else {
        sbp_input_spikes(chw, &e->in, e->xval, nin, t0, n);
    }
    if (e->perm)
        for (int t = 0; t < n; t++)
            sbp_transpose(x + (size_t)t * nin, chw + (size_t)t * nin, (size_t)L0->in_c, P);
}

/* Whether the current sample's input is rate-encoded here (not given as spikes). */
static int encoded(const sbp_engine *e)
{
    return !e->in.spikes && !e->in.spikes8;
}

/* The input chunk of layer l, rebuilt from what was kept in the forward pass. */
static void layer_input(const sbp_engine *e, int l, int t0, int n, float *x)
{
    if (l == 0 && e->enc && encoded(e)) { /* kept by the forward: no second encoding */
        const size_t nin = e->net->layers[0].n_in;
        const int8_t *s = e->enc + (size_t)t0 * nin;
        for (size_t i = 0; i < (size_t)n * nin; i++)
            x[i] = (float)s[i];
        return;
    }
    if (l == 0) {
        input_fill(e, t0, n, x);
        return;
    }
    const sbp_neuron_state *st = &e->st[l - 1];
    const size_t nn = e->net->layers[l - 1].n_out;
    for (int t = 0; t < n; t++)
        sbp_spikes_unpack(x + (size_t)t * nn,
                          st->bits + (size_t)(t0 + t) * sbp_spike_row_words(nn), st->mask, nn);
}

/* sum (n) += Σ_t x[t], x (steps, n): the aggregate mode's count maps. */
static void add_rows(float *restrict sum, const float *restrict x, size_t n, int steps)
{
    for (int t = 0; t < steps; t++) {
        const float *restrict xt = x + (size_t)t * n;
        for (size_t i = 0; i < n; i++)
            sum[i] += xt[i];
    }
}

/* Adds layer l's shortcut current (block input xs (n, C, H, W)) into e->cur. */
static void shortcut_forward(sbp_engine *e, const sbp_layer *L, const float *xs, int n)
{
    const sbp_layer *sc = L->sc;
    if (L->spec.shortcut != SBP_SHORTCUT_CONV) {
        sbp_shortcut_forward_add(e->cur, xs, sc, n, e->impl);
        return;
    }
    sbp_layer_ops_of(SBP_LAYER_CONV)
        ->current(e->cur_sc, xs, e->wk + sc->w_offset, sc, n, e->scratch, e->impl);
    const size_t total = (size_t)n * L->n_out;
    for (size_t i = 0; i < total; i++)
        e->cur[i] += e->cur_sc[i];
}

/* The shortcut's share of the backward: dW of a conv shortcut, and the block input's gradient
 * added into keep_grad of the source (nothing for the network input). gI is e->cur. */
static void shortcut_backward(sbp_engine *e, const sbp_layer *L, const float *xs, int n)
{
    const sbp_layer *sc = L->sc;
    const int from = L->spec.shortcut_from;
    float *dst = from >= 0 ? e->keep_grad[from] : NULL;
    if (L->spec.shortcut != SBP_SHORTCUT_CONV) {
        if (dst)
            sbp_shortcut_backward_add(dst, e->cur, sc, n, e->impl);
        return;
    }
    sbp_layer_ops_of(SBP_LAYER_CONV)
        ->current_backward(dst ? e->cur_sc : NULL, e->gk + sc->w_offset, e->cur, xs,
                           e->wk + sc->w_offset, sc, n, e->scratch, e->impl);
    if (dst) {
        const size_t total = (size_t)n * sc->n_in;
        for (size_t i = 0; i < total; i++)
            dst[i] += e->cur_sc[i];
    }
}

/* The block input of layer l's shortcut for the current forward chunk. */
static const float *shortcut_source(const sbp_engine *e, const sbp_layer *L)
{
    return L->spec.shortcut_from < 0 ? e->keep_in : e->keep[L->spec.shortcut_from];
}

void sbp_engine_forward(sbp_engine *e, const sbp_input *in, float *out)
{
    const sbp_net *net = e->net;
    const float *params = e->wk;
    e->in = *in;
    if (!in->spikes && !in->spikes8) {
        const sbp_layer *L0 = &net->layers[0];
        sbp_input_values(e->xval, in, L0->in_c, (size_t)L0->in_h * L0->in_w);
    }
    for (int l = 0; l < net->n_layers; l++) {
        sbp_neuron_reset(&e->st[l], &net->layers[l]);
        if (e->counts[l])
            memset(e->counts[l], 0, sizeof(float) * net->layers[l].n_in);
        if (e->sc_counts[l])
            memset(e->sc_counts[l], 0, sizeof(float) * net->layers[l].sc->n_in);
    }
    if (e->bits)
        memset(e->bits, 0, sizeof(uint64_t) * e->bits_words);

    for (int t0 = 0; t0 < e->T; t0 += e->tc) {
        const int n = e->T - t0 < e->tc ? e->T - t0 : e->tc;
        int which = 0;
        float *x = e->act[0];
        input_fill(e, t0, n, x);
        if (e->enc && encoded(e)) { /* exact backward reads them again */
            const size_t nin = net->layers[0].n_in;
            int8_t *s = e->enc + (size_t)t0 * nin;
            for (size_t i = 0; i < (size_t)n * nin; i++)
                s[i] = (int8_t)x[i];
        }
        if (e->keep_in)
            memcpy(e->keep_in, x, sizeof(float) * (size_t)n * net->layers[0].n_in);
        for (int l = 0; l < net->n_layers; l++) {
            const sbp_layer *L = &net->layers[l];
            if (e->counts[l])
                add_rows(e->counts[l], x, L->n_in, n);
            sbp_layer_ops_of(L->spec.kind)
                ->current(e->cur, x, params + L->w_offset, L, n, e->scratch, e->impl);
            if (L->sc) {
                const float *xs = shortcut_source(e, L);
                shortcut_forward(e, L, xs, n);
                if (e->sc_counts[l])
                    add_rows(e->sc_counts[l], xs, L->sc->n_in, n);
            }
            float *y = e->act[1 - which];
            sbp_neuron_forward(is_spiking(L) ? y : NULL, e->cur, &e->st[l], L, t0, n);
            if (e->keep[l])
                memcpy(e->keep[l], y, sizeof(float) * (size_t)n * L->n_out);
            x = y;
            which = 1 - which;
        }
    }
    const sbp_layer *Lo = &net->layers[net->n_layers - 1];
    for (size_t k = 0; k < Lo->n_out; k++)
        out[k] = e->st[net->n_layers - 1].v[k] / (float)e->T;
}

/* g (n, C, P) += the gradient that shortcuts sent to layer l's output. */
static void add_shortcut_grad(sbp_engine *e, int l, float *g, int n)
{
    if (!e->keep_grad[l])
        return;
    const size_t total = (size_t)n * e->net->layers[l].n_out;
    for (size_t i = 0; i < total; i++)
        g[i] += e->keep_grad[l][i];
}

static void backward_exact(sbp_engine *e, const float *g_out)
{
    const float *params = e->wk;
    float *dW = e->gk;
    const sbp_net *net = e->net;
    const int last = net->n_layers - 1;
    const sbp_layer *Lo = &net->layers[last];
    const int nchunks = (e->T + e->tc - 1) / e->tc;
    for (int ci = nchunks - 1; ci >= 0; ci--) {
        const int t0 = ci * e->tc, n = e->T - t0 < e->tc ? e->T - t0 : e->tc;
        /* Output layer: gI = g_out/T at every step; the leak is not differentiated (§3). */
        for (int t = 0; t < n; t++)
            for (size_t k = 0; k < Lo->n_out; k++)
                e->cur[(size_t)t * Lo->n_out + k] = g_out[k] / (float)e->T;
        int which = 0;
        for (int l = 0; l < last; l++)
            if (e->keep_grad[l])
                memset(e->keep_grad[l], 0, sizeof(float) * (size_t)n * net->layers[l].n_out);
        layer_input(e, last, t0, n, e->act[0]);
        sbp_layer_ops_of(Lo->spec.kind)
            ->current_backward(last > 0 ? e->grad[0] : NULL, dW + Lo->w_offset, e->cur, e->act[0],
                               params + Lo->w_offset, Lo, n, e->scratch, e->impl);
        for (int l = last - 1; l >= 0; l--) {
            const sbp_layer *L = &net->layers[l];
            add_shortcut_grad(e, l, e->grad[which], n);
            sbp_neuron_backward(e->cur, e->grad[which], e->factor[l], &e->st[l], L, t0, n);
            if (has_weights(L))
                layer_input(e, l, t0, n, e->act[0]);
            sbp_layer_ops_of(L->spec.kind)
                ->current_backward(l > 0 ? e->grad[1 - which] : NULL, dW + L->w_offset, e->cur,
                                   e->act[0], params + L->w_offset, L, n, e->scratch, e->impl);
            if (L->sc) {
                layer_input(e, L->spec.shortcut_from + 1, t0, n, e->act[1]);
                shortcut_backward(e, L, e->act[1], n);
            }
            which = 1 - which;
        }
    }
}

static void backward_aggregate(sbp_engine *e, const float *g_out)
{
    const float *params = e->wk;
    float *dW = e->gk;
    const sbp_net *net = e->net;
    const int last = net->n_layers - 1;
    const sbp_layer *Lo = &net->layers[last];
    for (size_t k = 0; k < Lo->n_out; k++)
        e->cur[k] = g_out[k] / (float)e->T; /* δ_out = g_out/T */
    int which = 0;
    for (int l = 0; l < last; l++)
        if (e->keep_grad[l])
            memset(e->keep_grad[l], 0, sizeof(float) * net->layers[l].n_out);
    sbp_layer_ops_of(Lo->spec.kind)
        ->current_backward(last > 0 ? e->grad[0] : NULL, dW + Lo->w_offset, e->cur, e->counts[last],
                           params + Lo->w_offset, Lo, 1, e->scratch, e->impl);
    for (int l = last - 1; l >= 0; l--) {
        const sbp_layer *L = &net->layers[l];
        float *g = e->grad[which];
        const float *f = e->factor[l];
        add_shortcut_grad(e, l, g, 1);
        for (size_t i = 0; i < L->n_out; i++)
            e->cur[i] = f[i] * g[i]; /* δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ factor (§3) */
        sbp_layer_ops_of(L->spec.kind)
            ->current_backward(l > 0 ? e->grad[1 - which] : NULL, dW + L->w_offset, e->cur,
                               e->counts[l], params + L->w_offset, L, 1, e->scratch, e->impl);
        if (L->sc)
            shortcut_backward(e, L, e->sc_counts[l], 1);
        which = 1 - which;
    }
}

void sbp_engine_backward(sbp_engine *e, const float *g_out)
{
    for (int l = 0; l < e->net->n_layers; l++)
        if (e->factor[l])
            sbp_neuron_surrogate(e->factor[l], &e->st[l], &e->net->layers[l], e->mode);
    if (e->mode == SBP_BACKWARD_EXACT)
        backward_exact(e, g_out);
    else
        backward_aggregate(e, g_out);
}
