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
#include "engine/engine.h"

#include <string.h>

#include "core/error.h"

static int has_weights(const sbp_layer *L)
{
    return L->w_count > 0;
}

/* Floats of geometry G's weights in the backend's layout, rounded up to 64 bytes. */
static size_t kernel_floats(const sbp_backend *be, const sbp_layer *G)
{
    const sbp_synapse_ops *syn = &be->synapse[G->spec.kind];
    const size_t n = syn->weights_floats ? syn->weights_floats(G) : G->w_count;
    return (n + 15) & ~(size_t)15;
}

/* Where geometry G (a layer or its shortcut) keeps its weights in wk and gk. */
static size_t koff(const sbp_engine *e, const sbp_layer *G)
{
    for (int l = 0; l < e->net->n_layers; l++)
        if (G == e->net->layers[l].sc)
            return e->koff_sc[l];
    return e->koff[G - e->net->layers];
}

static int is_spiking(const sbp_layer *L)
{
    return L->neuron != SBP_NEURON_INTEGRATOR;
}

/* Whether layer l's neurons write their outputs as event lists too: where the backend has
 * them and the synapse above walks them. */
static int lists_wanted(const sbp_backend *be, const sbp_net *net, int l)
{
    if (!be->events_bytes || !be->neuron_forward_events || l + 1 >= net->n_layers ||
        !is_spiking(&net->layers[l]))
        return 0;
    const sbp_layer *above = &net->layers[l + 1];
    const sbp_synapse_ops *syn = &be->synapse[above->spec.kind];
    return syn->forward_events && (!syn->takes_events || syn->takes_events(above));
}

/* Floats of layer l's summation-by-parts state and weights' copy (backend.h: sweep_floats,
 * parts 0 and 1, each rounded up to 64 bytes; *state the first): exact training, a layer with
 * weights fed by a spiking layer that writes event lists in the forward (the window keeps its
 * spike bits and counts; the sweep reads its input from the lists' buffer — a wider buffer for
 * it alone did not pay: VGG9's 64 → 64 layer 1.16× faster for 4.5 MiB more). */
static size_t sweep_floats(const sbp_backend *be, const sbp_net *net, int l, int train,
                           sbp_backward mode, size_t *state)
{
    const sbp_layer *L = &net->layers[l];
    const sbp_synapse_ops *syn = &be->synapse[L->spec.kind];
    *state = 0;
    if (!train || mode != SBP_BACKWARD_EXACT || l == 0 || !has_weights(L) ||
        !lists_wanted(be, net, l - 1) || !syn->sweep_floats || !be->spikes_unpack_events ||
        !syn->sweep_floats(L, 0))
        return 0;
    *state = (syn->sweep_floats(L, 0) + 15) & ~(size_t)15;
    return *state + ((syn->sweep_floats(L, 1) + 15) & ~(size_t)15);
}

/* Whether layer l's neurons and the pooling layer above may run as one backend call
 * (neuron_forward_pool): nothing but that pooling reads l's spikes (no shortcut keeps them, no
 * event lists, no input counts of a pooling layer, which has no weights), and nothing enters
 * the pooling layer besides them. */
static int pool_fusable(const sbp_backend *be, const sbp_net *net, int l, const int *source)
{
    if (!be->neuron_forward_pool || l + 1 >= net->n_layers || !is_spiking(&net->layers[l]))
        return 0;
    const sbp_layer *P = &net->layers[l + 1];
    return P->spec.kind == SBP_LAYER_POOL && !P->sc && !source[l] && !lists_wanted(be, net, l);
}

sbp_status sbp_engine_init(sbp_engine *e, const sbp_net *net, int T, const sbp_backend *be,
                           int train, sbp_backward mode, int tc_override, sbp_error *err)
{
    memset(e, 0, sizeof *e);
    if (T < 1)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "timesteps must be at least 1 (got %d)", T);
    e->net = net;
    e->T = T;
    e->be = be;
    e->train = train;
    e->mode = mode;

    size_t maxn = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        maxn = L->n_in > maxn ? L->n_in : maxn;
        maxn = L->n_out > maxn ? L->n_out : maxn;
    }
    const int tc = be->chunk_steps(net, T, tc_override);
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
        /* v, count, and for training the trace. Two more arrays live in these: the surrogate
         * factor in the trace (it is made from the trace at the start of the backward, which
         * reads nothing else of it), and the exact backward's carry in v (the membrane is dead
         * once the window ends; the backward zeroes the carry first). LeNet: 250 KiB less per
         * worker. */
        total += (train ? 3 : 2) * L->n_out;
        if (L->spec.dropout > 0.0f)
            total += L->n_out;
        if (train && mode == SBP_BACKWARD_AGGREGATE && has_weights(L))
            total += L->n_in; /* counts */
        size_t sw_state;
        total += sweep_floats(be, net, l, train, mode, &sw_state);
        size_t s = be->synapse[L->spec.kind].scratch(L, tc);
        scratch = s > scratch ? s : scratch;
        if (sw_state) {
            s = be->synapse[L->spec.kind].sweep_scratch(L, tc);
            scratch = s > scratch ? s : scratch;
        }
        if (pool_fusable(be, net, l, source)) {
            s = be->neuron_pool_scratch(L, tc);
            scratch = s > scratch ? s : scratch;
            if (be->synapse_neuron_pool_scratch && !L->sc) {
                s = be->synapse_neuron_pool_scratch(L, tc);
                scratch = s > scratch ? s : scratch;
            }
        }
        if (source[l])
            total += (train ? 2 : 1) * (size_t)tc * L->n_out;
        if (L->sc) {
            size_t ss = be->synapse[L->sc->spec.kind].scratch(L->sc, tc);
            scratch = ss > scratch ? ss : scratch;
            if (train && mode == SBP_BACKWARD_AGGREGATE)
                total += L->sc->n_in;
        }
    }
    if (input_source)
        total += (size_t)tc * net->layers[0].n_in;
    if (any_sc)
        total += (size_t)tc * maxn;
    /* Rows: act[2], grad[2], cur; without shortcuts grad[1] is act[1] (below). */
    total += (any_sc ? 5 : 4) * (size_t)tc * maxn + scratch + 16 + net->layers[0].n_in;
    const sbp_layer *L0 = &net->layers[0];
    const int permute_input = be->input_staging(L0);
    if (permute_input)
        total += (size_t)tc * L0->n_in;
    e->nk = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        e->koff[l] = e->nk;
        e->nk += L->w_count ? kernel_floats(be, L) : 0;
        e->koff_sc[l] = e->nk;
        e->nk += L->sc && L->sc->w_count ? kernel_floats(be, L->sc) : 0;
    }
    total += (train ? 2 : 1) * e->nk + 16;
    float *p = be->alloc(total * sizeof(float));
    if (!p)
        return sbp_fail(err, SBP_ERR_NOMEM, "engine: cannot allocate %zu MiB of working memory",
                        total * sizeof(float) >> 20);
    e->block = p;
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        sbp_neuron_state *st = &e->st[l];
        st->v = p, p += L->n_out;
        st->count = p, p += L->n_out;
        float *factor = NULL;
        if (train)
            factor = p, p += L->n_out;
        /* LF only where the surrogate reads it: an IF (pooling) layer's factor is made from γ
         * alone (§3), so its neurons keep no trace and the slot holds the factor only (LeNet:
         * the 6,370 pooling neurons' trace update at every step) */
        st->trace = L->neuron == SBP_NEURON_IF ? NULL : factor;
        if (train && mode == SBP_BACKWARD_EXACT && is_spiking(L))
            st->carry = st->v;
        if (L->spec.dropout > 0.0f)
            e->mask[l] = p, p += L->n_out;
        if (train && is_spiking(L))
            e->factor[l] = factor; /* computed in place (backend.h: neuron_surrogate) */
        if (train && mode == SBP_BACKWARD_AGGREGATE && has_weights(L))
            e->counts[l] = p, p += L->n_in;
        size_t sw_state;
        const size_t sw = sweep_floats(be, net, l, train, mode, &sw_state);
        if (sw) { /* 64-byte aligned: the block's start is, and every part is whole vectors */
            e->sweep[l] = p, p += sw;
            e->sweep_w[l] = e->sweep[l] + sw_state; /* its own, until it shares another's */
        }
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
        /* The backward reads act[1] only as a shortcut's block input; without shortcuts it is
         * free there, and the forward never touches grad: one row buffer serves both (LeNet:
         * 245 KiB less per worker). */
        if (i == 1 && !any_sc)
            e->grad[i] = e->act[i];
        else
            e->grad[i] = p, p += (size_t)tc * maxn;
    }
    e->cur = p, p += (size_t)tc * maxn;
    if (permute_input)
        e->perm = p, p += (size_t)tc * L0->n_in;
    /* Kernels keep pointers and wide vectors in scratch: align it to 64 bytes. */
    p += (16 - ((uintptr_t)p / sizeof(float)) % 16) % 16;
    e->scratch = p, p += scratch;
    e->xval = p, p += net->layers[0].n_in;
    p += (16 - ((uintptr_t)p / sizeof(float)) % 16) % 16; /* each geometry on a 64-byte line */
    e->own_wk = p, p += e->nk;
    e->wk = e->own_wk;
    if (train)
        e->gk = p;

    /* Event lists for the widest layer that writes them (LeNet: the 3,920 pooling neurons,
     * not the 15,680 of the first convolution, whose outputs go to pooling). */
    size_t ev_n = 0;
    for (int l = 0; l + 1 < net->n_layers; l++)
        if (lists_wanted(be, net, l) && net->layers[l].n_out > ev_n)
            ev_n = net->layers[l].n_out;
    for (int l = 0; ev_n && l < net->n_layers; l++)
        e->lists[l] = lists_wanted(be, net, l);
    for (int l = 0; l < net->n_layers; l++)
        e->fuse_pool[l] = pool_fusable(be, net, l, source);
    e->ev_n = ev_n;
    if (ev_n && !(e->ev = be->alloc(be->events_bytes(ev_n, tc)))) {
        sbp_engine_release(e);
        return sbp_fail(err, SBP_ERR_NOMEM, "engine: cannot allocate %zu KiB of event lists",
                        be->events_bytes(ev_n, tc) >> 10);
    }
    if (train && mode == SBP_BACKWARD_EXACT) {
        size_t words = 0;
        for (int l = 0; l < net->n_layers; l++)
            if (is_spiking(&net->layers[l]))
                words += (size_t)T * sbp_spike_row_words(net->layers[l].n_out);
        /* + the encoded input spikes, one byte each (the encoder's −1/0/1) */
        const size_t enc_words = ((size_t)T * net->layers[0].n_in + 7) / 8;
        e->bits = be->alloc((words + enc_words) * sizeof(uint64_t));
        if (!e->bits) {
            sbp_engine_release(e);
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
    if (e->be) {
        e->be->release(e->block);
        e->be->release(e->bits);
        e->be->release(e->ev);
    }
    memset(e, 0, sizeof *e);
}

/* The geometries that hold weights, in layer order: every layer with weights and every 1×1
 * convolution shortcut (whose geometry has kind CONV, net/layer.h). Returns their number. */
static int weighted(const sbp_net *net, const sbp_layer **g)
{
    int n = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        if (L->w_count)
            g[n++] = L;
        if (L->sc && L->sc->w_count)
            g[n++] = L->sc;
    }
    return n;
}

void sbp_engine_set_weights(sbp_engine *e, const float *params)
{
    const sbp_layer *g[2 * SBP_MAX_LAYERS];
    const int n = weighted(e->net, g);
    e->wk = e->own_wk;
    for (int i = 0; i < n; i++)
        e->be->synapse[g[i]->spec.kind].weights_in(e->own_wk + koff(e, g[i]),
                                                   params + g[i]->w_offset, g[i]);
    for (int l = 0; l < e->net->n_layers; l++)
        if (e->sweep[l]) { /* the summation-by-parts backward's copy, its own again */
            const sbp_layer *L = &e->net->layers[l];
            size_t state;
            sweep_floats(e->be, e->net, l, e->train, e->mode, &state);
            e->sweep_w[l] = e->sweep[l] + state;
            e->be->synapse[L->spec.kind].sweep_weights(e->sweep[l] + state,
                                                       e->own_wk + koff(e, L), L);
        }
}

void sbp_engine_get_weights(const sbp_engine *e, float *params)
{
    const sbp_layer *g[2 * SBP_MAX_LAYERS];
    const int n = weighted(e->net, g);
    memset(params, 0, e->net->n_params * sizeof(float)); /* host; every weight has a layer */
    for (int i = 0; i < n; i++)
        e->be->synapse[g[i]->spec.kind].grad_out(params + g[i]->w_offset,
                                                 e->own_wk + koff(e, g[i]), g[i]);
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
    for (int l = 0; l < e->net->n_layers; l++)
        e->sweep_w[l] = owner->sweep_w[l]; /* the same network and mode: both have it or not */
}

void sbp_engine_take_grad(sbp_engine *e, float *dparams)
{
    const sbp_layer *g[2 * SBP_MAX_LAYERS];
    const int n = weighted(e->net, g);
    for (int i = 0; i < n; i++)
        e->be->synapse[g[i]->spec.kind].grad_out(dparams + g[i]->w_offset,
                                                 e->gk + koff(e, g[i]), g[i]);
    e->be->zero(e->gk, e->nk * sizeof(float));
}

void sbp_engine_drop_grad(sbp_engine *e)
{
    e->be->zero(e->gk, e->nk * sizeof(float));
}

void sbp_engine_reduce(sbp_engine *eng, int n, int threads)
{
    float *g[n > 0 ? n : 1];
    for (int i = 0; i < n; i++)
        g[i] = eng[i].gk;
    eng[0].be->reduce(g, n, eng[0].nk, threads);
}

float *sbp_engine_grad_arena(sbp_engine *e, size_t *n)
{
    *n = e->nk;
    return e->gk;
}

int sbp_engine_sgd(sbp_engine *e, float lr, float wd, int threads)
{
    const long bad = e->be->sgd(e->own_wk, e->gk, e->nk, lr, wd, threads);
    if (bad < 0)
        return -1;
    /* The index names its layer: the last whose weights start at or before it. */
    int l = 0;
    while (l + 1 < e->net->n_layers && e->koff[l + 1] <= (size_t)bad)
        l++;
    return l;
}

void sbp_engine_record_output(sbp_engine *e, float *history)
{
    e->st[e->net->n_layers - 1].history = history;
}

void sbp_engine_draw_masks(sbp_engine *e, sbp_rng_key key, uint32_t epoch, uint32_t sample)
{
    for (int l = 0; l < e->net->n_layers; l++) {
        e->st[l].mask = e->mask[l];
        if (e->mask[l])
            e->be->dropout_mask(e->mask[l], &e->net->layers[l], l, key, epoch, sample);
    }
}

void sbp_engine_clear_masks(sbp_engine *e)
{
    for (int l = 0; l < e->net->n_layers; l++)
        e->st[l].mask = NULL;
}

size_t sbp_engine_neuron(const sbp_engine *e, int l, size_t i)
{
    return e->be->neuron_index(&e->net->layers[l], i);
}

/* Whether the current sample's input is rate-encoded here (not given as spikes). */
static int encoded(const sbp_engine *e)
{
    return !e->in.spikes && !e->in.spikes8;
}

/* The input chunk x (n, n_in) of steps t0 …, in the backend's order. */
static void input_fill(const sbp_engine *e, int t0, int n, float *x)
{
    e->be->encode(x, e->perm, &e->in, e->xval, &e->net->layers[0], t0, n);
}

/* The input chunk of layer l, rebuilt from what was kept in the forward pass. */
static void layer_input(const sbp_engine *e, int l, int t0, int n, float *x)
{
    if (l == 0 && e->enc && encoded(e)) { /* kept by the forward: no second encoding */
        const size_t nin = e->net->layers[0].n_in;
        e->be->spikes_load8(x, e->enc + (size_t)t0 * nin, (size_t)n * nin);
        return;
    }
    if (l == 0) {
        input_fill(e, t0, n, x);
        return;
    }
    const sbp_neuron_state *st = &e->st[l - 1];
    e->be->spikes_unpack(x, st->bits, st->mask, e->net->layers[l - 1].n_out, t0, n);
}

/* Layer L's synaptic backward for n rows: dW (its slice of the gradient sum) += from gI = e->cur
 * and the input x; dx (n, n_in) = the input gradient, or NULL for the first layer. */
static void synapse_backward(sbp_engine *e, const sbp_layer *L, float *dx, const float *x, int n)
{
    const size_t o = koff(e, L);
    e->be->synapse[L->spec.kind].backward(dx, e->gk + o, e->cur, x, e->wk + o, L, n, e->scratch);
}

/* The exact backward of layer l's synapse for the chunk at t0 (synapse_backward), its input
 * rebuilt from what the forward kept (layer_input) — and, where the backend and the synapse
 * offer it, as event lists too, read from the spike bits of the layer below, so that the
 * synapse need not scan the rebuilt rows for them (the lists fit in ev: a layer whose input is
 * wider than any list the forward writes goes the other way). Or by summation by parts, where
 * backward_exact took it for the window (sweeping). */
static void input_and_backward(sbp_engine *e, int l, float *dx, int t0, int n)
{
    const sbp_layer *L = &e->net->layers[l];
    const sbp_synapse_ops *syn = &e->be->synapse[L->spec.kind];
    float *x = e->act[0];
    if (e->sweeping[l]) { /* the input's lists (its rows come along, unread) */
        const sbp_neuron_state *st = &e->st[l - 1];
        e->be->spikes_unpack_events(x, e->ev, st->bits, st->mask, L->n_in, t0, n);
        syn->sweep_backward(dx, e->sweep[l], e->sweep_w[l], e->cur, e->ev, L, n, e->scratch);
        return;
    }
    if (l > 0 && e->be->spikes_unpack_events && syn->backward_events && e->st[l - 1].bits &&
        L->n_in <= e->ev_n) {
        const sbp_neuron_state *st = &e->st[l - 1];
        const size_t o = koff(e, L);
        e->be->spikes_unpack_events(x, e->ev, st->bits, st->mask, L->n_in, t0, n);
        syn->backward_events(dx, e->gk + o, e->cur, x, e->ev, e->wk + o, L, n, e->scratch);
        return;
    }
    layer_input(e, l, t0, n, x);
    synapse_backward(e, L, dx, x, n);
}

/* Adds layer l's shortcut current (block input xs (n, C, H, W)) into e->cur. */
static void shortcut_forward(sbp_engine *e, const sbp_layer *L, const float *xs, int n)
{
    const sbp_layer *sc = L->sc;
    if (L->spec.shortcut != SBP_SHORTCUT_CONV) {
        e->be->shortcut_add(e->cur, xs, sc, n);
        return;
    }
    e->be->synapse[sc->spec.kind].forward(e->cur_sc, xs, e->wk + koff(e, sc), sc, n,
                                           e->scratch);
    e->be->add(e->cur, e->cur_sc, (size_t)n * L->n_out);
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
            e->be->shortcut_add_backward(dst, e->cur, sc, n);
        return;
    }
    synapse_backward(e, sc, dst ? e->cur_sc : NULL, xs, n);
    if (dst)
        e->be->add(dst, e->cur_sc, (size_t)n * sc->n_in);
}

/* The block input of layer l's shortcut for the current forward chunk. */
static const float *shortcut_source(const sbp_engine *e, const sbp_layer *L)
{
    return L->spec.shortcut_from < 0 ? e->keep_in : e->keep[L->spec.shortcut_from];
}

/* Whether the aggregate backward's input counts of layer l (Σ_t x[t]) are the spike counts γ
 * of the layer below, which its neurons keep anyway: its output without a dropout mask is the
 * spikes themselves, and a sum of 0/1 values in float is exact in any order, so copying γ once
 * after the window gives the same bits as adding up every input row of every chunk. */
static int counts_from_below(const sbp_engine *e, int l)
{
    return l > 0 && !e->st[l - 1].mask && e->st[l - 1].count;
}

/* Whether layer l's input counts are added up from its input rows, chunk by chunk. */
static int counts_from_rows(const sbp_engine *e, int l)
{
    return e->counts[l] && !counts_from_below(e, l);
}

/* Layer 0's quiet margins for this sample (backend.h: sbp_neuron_state.quiet): a stride-1
 * convolution over a rate-coded image reaches only the outputs whose window holds a pixel that
 * can spike (sbp_input_support), on MNIST about 57 % of the first layer's map. Input row iy
 * reaches output rows iy + pad − k + 1 … iy + pad; columns alike. */
static void quiet_margins(sbp_engine *e)
{
    const sbp_layer *L = &e->net->layers[0];
    int *q = e->st[0].quiet;
    q[0] = q[1] = q[2] = q[3] = 0;
    if (!encoded(e) || L->spec.kind != SBP_LAYER_CONV || L->spec.stride != 1)
        return;
    int box[4];
    sbp_input_support(&e->in, L->in_c, L->in_h, L->in_w, box);
    const int lo = L->spec.pad - L->spec.kernel + 1, hi = L->spec.pad;
    const int y0 = box[0] + lo, y1 = box[1] + hi, x0 = box[2] + lo, x1 = box[3] + hi;
    if (box[0] == box[1] || y0 >= L->out_h || y1 <= 0 || x0 >= L->out_w || x1 <= 0) {
        q[0] = L->out_h; /* nothing reached: every row quiet */
        return;
    }
    q[0] = y0 > 0 ? y0 : 0, q[1] = y1 < L->out_h ? L->out_h - y1 : 0;
    q[2] = x0 > 0 ? x0 : 0, q[3] = x1 < L->out_w ? L->out_w - x1 : 0;
}

void sbp_engine_forward(sbp_engine *e, const sbp_input *in, float *out)
{
    const sbp_net *net = e->net;
    const sbp_backend *be = e->be;
    const float *params = e->wk;
    e->in = *in;
    if (encoded(e))
        be->encode_values(e->xval, in, &net->layers[0]);
    for (int l = 0; l < net->n_layers; l++) {
        be->neuron_reset(&e->st[l], &net->layers[l]);
        if (counts_from_rows(e, l))
            be->zero(e->counts[l], sizeof(float) * net->layers[l].n_in);
        if (e->sc_counts[l])
            be->zero(e->sc_counts[l], sizeof(float) * net->layers[l].sc->n_in);
    }
    if (e->bits)
        be->zero(e->bits, sizeof(uint64_t) * e->bits_words);
    quiet_margins(e);

    for (int t0 = 0; t0 < e->T; t0 += e->tc) {
        const int n = e->T - t0 < e->tc ? e->T - t0 : e->tc;
        const size_t nin = net->layers[0].n_in;
        int which = 0;
        float *x = e->act[0];
        const void *xev = NULL; /* x's event lists, when the layer below wrote them */
        input_fill(e, t0, n, x);
        if (e->enc && encoded(e)) /* exact backward reads them again */
            be->spikes_keep8(e->enc + (size_t)t0 * nin, x, (size_t)n * nin);
        if (e->keep_in)
            be->copy(e->keep_in, x, sizeof(float) * (size_t)n * nin);
        for (int l = 0; l < net->n_layers; l++) {
            const sbp_layer *L = &net->layers[l];
            if (counts_from_rows(e, l))
                be->add_rows(e->counts[l], x, L->n_in, n);
            const sbp_synapse_ops *syn = &be->synapse[L->spec.kind];
            float *y = e->act[1 - which];
            const float *I = e->cur;
            /* With the pooling layer above fused (backend.h), the synapse too where the backend
             * takes all three; y then holds the pooling layer's current: its neurons, below,
             * read it and write into x's rows. */
            int fused = e->fuse_pool[l] && !xev && !L->sc && be->synapse_neuron_pool_forward &&
                        be->synapse_neuron_pool_forward(y, x, params + e->koff[l], &e->st[l],
                                                        L, &net->layers[l + 1], t0, n,
                                                        e->scratch);
            if (!fused) {
                if (xev)
                    syn->forward_events(e->cur, x, xev, params + e->koff[l], L, n,
                                        e->scratch);
                else
                    syn->forward(e->cur, x, params + e->koff[l], L, n, e->scratch);
                if (L->sc) {
                    const float *xs = shortcut_source(e, L);
                    shortcut_forward(e, L, xs, n);
                    if (e->sc_counts[l])
                        be->add_rows(e->sc_counts[l], xs, L->sc->n_in, n);
                }
                fused = e->fuse_pool[l] && be->neuron_forward_pool(y, e->cur, &e->st[l], L,
                                                                   &net->layers[l + 1], t0, n,
                                                                   e->scratch);
            }
            if (fused) {
                L = &net->layers[++l];
                I = y;
                y = e->act[which];
                which = 1 - which;
            }
            void *yev = e->lists[l] ? e->ev : NULL; /* x's lists are read: reuse */
            if (yev) {
                /* the rows too where anything reads them besides the synapse above: a copy for
                 * a shortcut, or the input counts of the layer above (not its γ below) */
                const int rows =
                    e->keep[l] || (l + 1 < net->n_layers && counts_from_rows(e, l + 1));
                if (!rows)
                    y = NULL;
                be->neuron_forward_events(y, yev, I, &e->st[l], L, t0, n);
            } else
                be->neuron_forward(is_spiking(L) ? y : NULL, I, &e->st[l], L, t0, n);
            xev = yev;
            if (e->keep[l])
                be->copy(e->keep[l], y, sizeof(float) * (size_t)n * L->n_out);
            x = y;
            which = 1 - which;
        }
    }
    for (int l = 1; l < net->n_layers; l++)
        if (e->counts[l] && counts_from_below(e, l))
            be->copy(e->counts[l], e->st[l - 1].count, sizeof(float) * net->layers[l].n_in);
    const int last = net->n_layers - 1;
    be->read_output(out, e->st[last].v, net->layers[last].n_out, (float)e->T);
}

/* g (n, C, P) += the gradient that shortcuts sent to layer l's output. */
static void add_shortcut_grad(sbp_engine *e, int l, float *g, int n)
{
    if (e->keep_grad[l])
        e->be->add(g, e->keep_grad[l], (size_t)n * e->net->layers[l].n_out);
}

/* Zeroes the gradient that shortcuts will send to the layers below, n rows each. */
static void clear_shortcut_grads(sbp_engine *e, int n)
{
    for (int l = 0; l < e->net->n_layers - 1; l++)
        if (e->keep_grad[l])
            e->be->zero(e->keep_grad[l], sizeof(float) * (size_t)n * e->net->layers[l].n_out);
}

/* The first layer L's neurons (under the pooling layer P, whose current gradient is gP) and
 * its synapse's backward in one call, where the backend offers it (backend.h:
 * synapse_neuron_pool_backward): 2 done; 1 declined, the chunk's input rebuilt in act[0] for
 * the synapse's own backward; 0 not offered, nothing done. */
static int first_pool_backward(sbp_engine *e, const sbp_layer *L, const sbp_layer *P,
                               const float *gP, int t0, int n)
{
    const sbp_backend *be = e->be;
    if (!be->synapse_neuron_pool_backward || L->sc)
        return 0;
    layer_input(e, 0, t0, n, e->act[0]);
    return 1 + be->synapse_neuron_pool_backward(e->gk + koff(e, L), gP, e->factor[0],
                                                e->act[0], &e->st[0], L, P, t0, n, e->scratch);
}

static void backward_exact(sbp_engine *e, const float *g_out)
{
    const sbp_backend *be = e->be;
    const sbp_net *net = e->net;
    const int last = net->n_layers - 1;
    const sbp_layer *Lo = &net->layers[last];
    const int nchunks = (e->T + e->tc - 1) / e->tc;
    for (int l = 0; l < last; l++) /* the carry shares the membrane's array (init) */
        if (e->st[l].carry)
            be->zero(e->st[l].carry, sizeof(float) * net->layers[l].n_out);
    for (int l = 0; l <= last; l++) { /* by summation by parts where it pays (backend.h) */
        const sbp_layer *L = &net->layers[l];
        e->sweeping[l] = e->sweep[l] && L->n_in <= e->ev_n && e->st[l - 1].count &&
                         e->st[l].count &&
                         be->synapse[L->spec.kind].sweep_begin(e->sweep[l], e->st[l - 1].count,
                                                               e->st[l - 1].mask,
                                                               e->st[l].count, L);
    }
    for (int ci = nchunks - 1; ci >= 0; ci--) {
        const int t0 = ci * e->tc, n = e->T - t0 < e->tc ? e->T - t0 : e->tc;
        /* Output layer: gI = g_out/T at every step; the leak is not differentiated (§3). */
        be->fill_rows(e->cur, g_out, (float)e->T, Lo->n_out, n);
        int which = 0;
        clear_shortcut_grads(e, n);
        input_and_backward(e, last, last > 0 ? e->grad[0] : NULL, t0, n);
        for (int l = last - 1; l >= 0; l--) {
            const sbp_layer *L = &net->layers[l];
            int built = 0; /* the first layer's input already in act[0] */
            add_shortcut_grad(e, l, e->grad[which], n);
            if (l > 0 && e->fuse_pool[l - 1] && be->neuron_backward_pool) {
                /* a pooling layer over a spiking one (whose gradient nothing else adds to):
                 * the pooling's current gradient into the other row, which the layer below
                 * reads in one pass with its neurons */
                const sbp_layer *P = L;
                float *gP = e->grad[1 - which];
                be->neuron_backward(gP, e->grad[which], e->factor[l], &e->st[l], P, t0, n);
                L = &net->layers[--l];
                const int first = l == 0 ? first_pool_backward(e, L, P, gP, t0, n) : 0;
                if (first == 2) {
                    which = 1 - which;
                    continue; /* the first layer's synapse is done too */
                }
                built = first == 1;
                if (!be->neuron_backward_pool(e->cur, gP, e->factor[l], &e->st[l], L, P, t0, n,
                                              e->scratch)) {
                    be->synapse[P->spec.kind].backward(e->grad[which], NULL, gP, NULL, NULL, P,
                                                       n, e->scratch);
                    be->neuron_backward(e->cur, e->grad[which], e->factor[l], &e->st[l], L,
                                        t0, n);
                }
            } else
                be->neuron_backward(e->cur, e->grad[which], e->factor[l], &e->st[l], L, t0, n);
            if (built)
                synapse_backward(e, L, NULL, e->act[0], n);
            else if (has_weights(L))
                input_and_backward(e, l, l > 0 ? e->grad[1 - which] : NULL, t0, n);
            else /* a pooling layer: no input needed */
                synapse_backward(e, L, l > 0 ? e->grad[1 - which] : NULL, e->act[0], n);
            if (L->sc) {
                layer_input(e, L->spec.shortcut_from + 1, t0, n, e->act[1]);
                shortcut_backward(e, L, e->act[1], n);
            }
            which = 1 - which;
        }
    }
    for (int l = 0; l <= last; l++)
        if (e->sweeping[l])
            be->synapse[net->layers[l].spec.kind].sweep_end(e->gk + koff(e, &net->layers[l]),
                                                            e->sweep[l], &net->layers[l]);
}

static void backward_aggregate(sbp_engine *e, const float *g_out)
{
    const sbp_backend *be = e->be;
    const sbp_net *net = e->net;
    const int last = net->n_layers - 1;
    const sbp_layer *Lo = &net->layers[last];
    be->fill_rows(e->cur, g_out, (float)e->T, Lo->n_out, 1); /* δ_out = g_out/T */
    int which = 0;
    clear_shortcut_grads(e, 1);
    synapse_backward(e, Lo, last > 0 ? e->grad[0] : NULL, e->counts[last], 1);
    for (int l = last - 1; l >= 0; l--) {
        const sbp_layer *L = &net->layers[l];
        float *g = e->grad[which];
        add_shortcut_grad(e, l, g, 1);
        /* δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ factor (§3) */
        be->neuron_backward_aggregate(e->cur, g, e->factor[l], L->n_out);
        synapse_backward(e, L, l > 0 ? e->grad[1 - which] : NULL, e->counts[l], 1);
        if (L->sc)
            shortcut_backward(e, L, e->sc_counts[l], 1);
        which = 1 - which;
    }
}

void sbp_engine_backward(sbp_engine *e, const float *g_out)
{
    for (int l = 0; l < e->net->n_layers; l++)
        if (e->factor[l])
            e->be->neuron_surrogate(e->factor[l], &e->st[l], &e->net->layers[l], e->mode);
    if (e->mode == SBP_BACKWARD_EXACT)
        backward_exact(e, g_out);
    else
        backward_aggregate(e, g_out);
}
