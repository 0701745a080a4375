/*
 * train.c — mini-batch SGD over a dataset (§2 loss, §3 update, §4 schedule) and evaluation.
 *
 * Parallelism: OpenMP over the samples of a batch, one engine and one gradient buffer per
 * thread; buffers are summed in thread order, so a run is bit-reproducible for the same seed,
 * data and thread count. BLAS calls inside the parallel region run single-threaded.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "net/engine.h"


static const char *const backward_names[] = {
    [SBP_BACKWARD_EXACT] = "exact",
    [SBP_BACKWARD_AGGREGATE] = "aggregate",
};
_Static_assert(sizeof backward_names / sizeof backward_names[0] == SBP_BACKWARD_COUNT,
               "one name per backward mode");

const char *sbp_backward_name(sbp_backward b)
{
    return (unsigned)b < SBP_BACKWARD_COUNT ? backward_names[b] : "?";
}

void sbp_train_opts_default(sbp_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timesteps = 100;
    o->batch = 64;
    o->epochs = 1;
    o->lr = 0.0085f;
    o->weight_decay = 5e-4f;
    o->lr_factor = 0.2f;
    o->lr_milestones[0] = 74; /* "×0.2 from epoch 75" (§4), 0-based */
    o->n_milestones = 1;
    o->backward = SBP_BACKWARD_EXACT;
    o->impl = SBP_IMPL_FAST;
    o->seed = 1;
}

void sbp_eval_opts_default(sbp_eval_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timesteps = 100;
    o->batch = 256;
    o->seed = 1;
}

/* Loss Σ_k (o_k − y_k)² of one sample and, if g is not NULL, g = ∂/∂o = 2(o − y) (§2). */
static double sample_loss(const float *o, int classes, int label, float *g, int *correct)
{
    double loss = 0.0;
    int best = 0;
    for (int k = 0; k < classes; k++) {
        float d = o[k] - (k == label ? 1.0f : 0.0f);
        loss += (double)d * d;
        if (g)
            g[k] = 2.0f * d;
        if (o[k] > o[best])
            best = k;
    }
    *correct = best == label;
    return loss;
}

static sbp_status check_data(const sbp_net *net, const sbp_dataset *ds, int T, sbp_error *err)
{
    const sbp_net_spec *s = &net->spec;
    const sbp_layer *Lo = &net->layers[net->n_layers - 1];
    if (ds->c != s->in_c || ds->h != s->in_h || ds->w != s->in_w)
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "data images are %dx%dx%d but the network expects %dx%dx%d", ds->h, ds->w,
                        ds->c, s->in_h, s->in_w, s->in_c);
    if ((size_t)ds->classes > Lo->n_out)
        return sbp_fail(err, SBP_ERR_SHAPE, "data has %d classes but the network outputs %zu",
                        ds->classes, Lo->n_out);
    if (ds->n == 0)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "data set is empty");
    if (ds->timesteps > 0 && ds->timesteps != T)
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "the data are spike trains of %d steps but %d time steps were asked for",
                        ds->timesteps, T);
    return SBP_OK;
}

/* §1 augmentation: random crop of the image zero-padded by `pad` pixels, then a random
 * horizontal flip, drawn per (epoch, sample). out (C, H, W). */
static void augment(uint8_t *out, const sbp_dataset *ds, size_t i, uint64_t seed, uint32_t epoch)
{
    const uint8_t *img = sbp_dataset_image(ds, i);
    const int C = ds->c, H = ds->h, W = ds->w, pad = ds->crop_pad;
    uint32_t w[4];
    sbp_rng_words(sbp_rng_key_make(seed, SBP_RNG_AUGMENT), epoch, (uint32_t)i, 0, 0, w);
    const int dy = pad ? (int)(w[0] % (uint32_t)(2 * pad + 1)) - pad : 0;
    const int dx = pad ? (int)(w[1] % (uint32_t)(2 * pad + 1)) - pad : 0;
    const int flip = ds->flip && (w[2] & 1u);
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sy = y + dy, sx = (flip ? W - 1 - x : x) + dx;
                out[((size_t)c * H + y) * W + x] =
                    (sy >= 0 && sy < H && sx >= 0 && sx < W) ? img[((size_t)c * H + sy) * W + sx]
                                                             : 0;
            }
}

static int thread_count(int requested)
{
    return requested > 0 ? requested : omp_get_max_threads();
}

/* --------------------------------------------------------------------------- evaluation */

/* Evaluation and prediction are one pass: `outputs` (n, classes), if not NULL, receives every
 * sample's o where the forward pass writes it, so both see the same bits. */
static sbp_status run_eval(const sbp_net *net, const sbp_dataset *ds, const sbp_eval_opts *opts,
                           sbp_eval_result *res, float *outputs, sbp_error *err)
{
    memset(res, 0, sizeof *res);
    sbp_status st = check_data(net, ds, opts->timesteps, err);
    if (st != SBP_OK)
        return st;
    const int nt = thread_count(opts->threads);
    const int classes = (int)net->layers[net->n_layers - 1].n_out;
    sbp_engine *eng = calloc((size_t)nt, sizeof *eng);
    float *outs = calloc((size_t)nt * classes, sizeof(float));
    double *losses = calloc(ds->n, sizeof(double));
    unsigned char *hits = calloc(ds->n, 1);
    if (!eng || !outs || !losses || !hits) {
        st = sbp_fail(err, SBP_ERR_NOMEM, "evaluation: out of memory");
        goto done;
    }
    for (int i = 0; i < nt && st == SBP_OK; i++) {
        st = sbp_engine_init(&eng[i], net, opts->timesteps, opts->impl, 0, SBP_BACKWARD_EXACT, 0,
                             err);
        if (st == SBP_OK)
            sbp_engine_skip_counts(&eng[i]); /* only the outputs are read here */
        if (st == SBP_OK && i == 0)
            sbp_engine_set_weights(&eng[0], net->params);
        else if (st == SBP_OK)
            sbp_engine_share_weights(&eng[i], &eng[0]); /* one copy for all threads */
    }
    if (st != SBP_OK)
        goto done;
    sbp_rng_key key = sbp_rng_key_make(opts->seed, SBP_RNG_ENCODE);
    const size_t chunk = opts->batch > 0 ? (size_t)opts->batch : 256;
    for (size_t first = 0; first < ds->n; first += chunk) {
        const size_t last = first + chunk < ds->n ? first + chunk : ds->n;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (size_t i = first; i < last; i++) {
            int tid = omp_get_thread_num(), ok;
            sbp_input in;
            sbp_input_for(&in, ds, i, key, SBP_INPUT_EVAL_TAG);
            float *o = outputs ? outputs + i * (size_t)classes : outs + (size_t)tid * classes;
            sbp_engine_forward(&eng[tid], &in, o);
            losses[i] = sample_loss(o, classes, sbp_dataset_label(ds, i), NULL, &ok);
            hits[i] = (unsigned char)ok;
        }
        if (opts->progress)
            opts->progress(opts->progress_user, last, ds->n);
    }
    for (size_t i = 0; i < ds->n; i++) {
        res->loss += losses[i];
        res->correct += hits[i];
    }
    res->images = ds->n;
    res->accuracy = (double)res->correct / (double)ds->n;
    if (!isfinite(res->loss))
        st = sbp_fail(err, SBP_ERR_NUMERIC, "evaluation: the loss is not finite (%g)", res->loss);
done:
    if (eng)
        for (int i = 0; i < nt; i++)
            sbp_engine_release(&eng[i]);
    free(eng);
    free(outs);
    free(losses);
    free(hits);
    return st;
}

sbp_status sbp_eval(const sbp_net *net, const sbp_dataset *ds, const sbp_eval_opts *opts,
                    sbp_eval_result *res, sbp_error *err)
{
    return run_eval(net, ds, opts, res, NULL, err);
}

sbp_status sbp_predict(const sbp_net *net, const sbp_dataset *ds, const sbp_eval_opts *opts,
                       float *out, sbp_error *err)
{
    if (!net || !ds || !opts || !out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "predict: the network, data, options and output array must be set");
    sbp_eval_result res;
    return run_eval(net, ds, opts, &res, out, err);
}

/* --------------------------------------------------------------------------- training */

struct sbp_trainer {
    sbp_net *net;
    const sbp_dataset *data;
    sbp_train_opts opts;
    int threads;
    int epoch;            /* current epoch (0-based) */
    size_t batch_index;   /* next batch within the epoch */
    size_t batches;       /* batches per epoch (the last one may be short) */
    uint32_t *order;      /* (n) data order of the current epoch */
    sbp_engine *eng;      /* (threads) */
    double *loss;         /* (threads) */
    int *correct;         /* (threads) */
    float *outs;          /* (threads, classes) */
    uint8_t *aug;         /* (threads, C·H·W) augmented images, or NULL without augmentation */
};

static void shuffle(uint32_t *order, size_t n, uint64_t seed, int epoch)
{
    sbp_rng_key key = sbp_rng_key_make(seed, SBP_RNG_SHUFFLE);
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    for (size_t i = n - 1; i > 0; i--) { /* Fisher–Yates */
        size_t j = sbp_rng_below(key, (uint32_t)epoch, (uint32_t)i, 0, (uint32_t)(i + 1));
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

sbp_status sbp_trainer_create(sbp_trainer **out, sbp_net *net, const sbp_dataset *train,
                              const sbp_train_opts *opts, sbp_error *err)
{
    *out = NULL;
    sbp_status st = check_data(net, train, opts->timesteps, err);
    if (st != SBP_OK)
        return st;
    if (opts->batch < 1 || opts->epochs < 1 || opts->timesteps < 1 || !(opts->lr > 0.0f) ||
        !(opts->weight_decay >= 0.0f) || opts->n_milestones < 0 || opts->n_milestones > 8 ||
        (unsigned)opts->backward >= SBP_BACKWARD_COUNT || (unsigned)opts->impl >= SBP_IMPL_COUNT)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "training options out of range (batch %d, epochs %d, timesteps %d, lr "
                        "%g, weight decay %g)",
                        opts->batch, opts->epochs, opts->timesteps, opts->lr, opts->weight_decay);
    if (train->n > UINT32_MAX)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "data set too large (%zu images)", train->n);
    sbp_trainer *tr = calloc(1, sizeof *tr);
    if (!tr)
        return sbp_fail(err, SBP_ERR_NOMEM, "trainer: out of memory");
    tr->net = net;
    tr->data = train;
    tr->opts = *opts;
    tr->threads = thread_count(opts->threads);
    tr->batches = (train->n + (size_t)opts->batch - 1) / (size_t)opts->batch;
    const int classes = (int)net->layers[net->n_layers - 1].n_out;
    tr->order = malloc(train->n * sizeof *tr->order);
    tr->eng = calloc((size_t)tr->threads, sizeof *tr->eng);
    tr->loss = calloc((size_t)tr->threads, sizeof(double));
    tr->correct = calloc((size_t)tr->threads, sizeof(int));
    tr->outs = calloc((size_t)tr->threads * classes * 2, sizeof(float));
    const int augmenting = (train->crop_pad > 0 || train->flip) && train->pixels;
    if (augmenting)
        tr->aug = malloc((size_t)tr->threads * train->c * train->h * train->w);
    if (!tr->order || !tr->eng || !tr->loss || !tr->correct || !tr->outs ||
        (augmenting && !tr->aug)) {
        const int threads = tr->threads;
        sbp_trainer_free(tr);
        return sbp_fail(err, SBP_ERR_NOMEM,
                        "trainer: out of memory (per-thread state for %d threads)", threads);
    }
    for (int i = 0; i < tr->threads; i++) {
        st = sbp_engine_init(&tr->eng[i], net, opts->timesteps, opts->impl, 1, opts->backward, 0,
                             err);
        if (st != SBP_OK) {
            sbp_trainer_free(tr);
            return st;
        }
    }
    shuffle(tr->order, train->n, opts->seed, 0);
    *out = tr;
    return SBP_OK;
}

void sbp_trainer_free(sbp_trainer *tr)
{
    if (!tr)
        return;
    if (tr->eng)
        for (int i = 0; i < tr->threads; i++)
            sbp_engine_release(&tr->eng[i]);
    free(tr->eng);
    free(tr->order);
    free(tr->loss);
    free(tr->correct);
    free(tr->outs);
    free(tr->aug);
    free(tr);
}

int sbp_trainer_done(const sbp_trainer *tr)
{
    return tr->epoch >= tr->opts.epochs;
}

/* Index of the first layer whose slice of `arr` (n_params) holds a NaN or Inf, or −1. */
static int bad_layer(const sbp_net *net, const float *arr)
{
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        for (size_t j = 0; j < L->w_count; j++)
            if (!isfinite(arr[L->w_offset + j]))
                return l;
        if (L->sc)
            for (size_t j = 0; j < L->sc->w_count; j++)
                if (!isfinite(arr[L->sc->w_offset + j]))
                    return l;
    }
    return -1;
}

static double current_lr(const sbp_train_opts *o, int epoch)
{
    double lr = o->lr;
    for (int i = 0; i < o->n_milestones; i++)
        if (o->lr_milestones[i] > 0 && epoch >= o->lr_milestones[i])
            lr *= o->lr_factor;
    return lr;
}

sbp_status sbp_trainer_step(sbp_trainer *tr, sbp_batch_result *res, sbp_error *err)
{
    memset(res, 0, sizeof *res);
    if (sbp_trainer_done(tr))
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "trainer: all %d epochs are done",
                        tr->opts.epochs);
    sbp_net *net = tr->net;
    const sbp_dataset *ds = tr->data;
    const size_t np = net->n_params, B = (size_t)tr->opts.batch;
    const size_t first = tr->batch_index * B, last = first + B < ds->n ? first + B : ds->n;
    const int classes = (int)net->layers[net->n_layers - 1].n_out, nt = tr->threads;
    const sbp_rng_key enc = sbp_rng_key_make(tr->opts.seed, SBP_RNG_ENCODE);
    const sbp_rng_key drop = sbp_rng_key_make(tr->opts.seed, SBP_RNG_DROPOUT);
    const uint32_t epoch = (uint32_t)tr->epoch;

    /* One converted copy of the weights for every thread. */
    sbp_engine_set_weights(&tr->eng[0], net->params);
    for (int t = 1; t < nt; t++)
        sbp_engine_share_weights(&tr->eng[t], &tr->eng[0]);
#pragma omp parallel num_threads(nt)
    {
        const int tid = omp_get_thread_num();
        float *o = tr->outs + (size_t)tid * classes * 2, *go = o + classes;
        tr->loss[tid] = 0.0;
        tr->correct[tid] = 0;
#pragma omp for schedule(static)
        for (size_t b = first; b < last; b++) {
            const uint32_t idx = tr->order[b];
            sbp_engine *e = &tr->eng[tid];
            sbp_input in;
            sbp_input_for(&in, ds, idx, enc, epoch);
            if (tr->aug) {
                uint8_t *img = tr->aug + (size_t)tid * ds->c * ds->h * ds->w;
                augment(img, ds, idx, tr->opts.seed, epoch);
                in.pixels = img;
            }
            sbp_engine_draw_masks(e, drop, epoch, idx);
            sbp_engine_forward(e, &in, o);
            int ok;
            tr->loss[tid] += sample_loss(o, classes, sbp_dataset_label(ds, idx), go, &ok);
            tr->correct[tid] += ok;
            sbp_engine_backward(e, go);
        }
        /* The threads' gradient sums (kernel layout) add up in thread 0's, in thread order
         * (the same sums as converting each and adding them), then convert once. */
#pragma omp for schedule(static)
        for (size_t j = 0; j < np; j++) {
            float sum = tr->eng[0].gk[j];
            for (int t = 1; t < nt; t++) {
                sum += tr->eng[t].gk[j];
                tr->eng[t].gk[j] = 0.0f;
            }
            tr->eng[0].gk[j] = sum;
        }
    }
    for (int t = 0; t < nt; t++) {
        res->loss += tr->loss[t];
        res->correct += tr->correct[t];
    }
    res->samples = (int)(last - first);
    res->epoch = tr->epoch;
    res->batch_index = tr->batch_index;
    res->batches_per_epoch = tr->batches;
    res->lr = current_lr(&tr->opts, tr->epoch);
    /* The batch gradient g is thread 0's sum, in the implementation's layout, and the step is
     * taken on thread 0's converted weights wk, then converted back: SGD is elementwise, so
     * this gives the same bits as in PyTorch layout, without a third parameter-sized array.
     * Layers occupy the same ranges in both layouts, so bad_layer reads either. */
    float *g = tr->eng[0].gk, *wk = tr->eng[0].own_wk;
    if (!isfinite(res->loss)) {
        memset(g, 0, np * sizeof(float));
        int l = bad_layer(net, net->params);
        return sbp_fail(err, SBP_ERR_NUMERIC,
                        "training: the loss is %g at epoch %d, batch %zu%s%d%s; weights left as "
                        "before the batch",
                        res->loss, tr->epoch + 1, tr->batch_index + 1,
                        l >= 0 ? " — the weights of layer " : " (all weights finite; layer ",
                        l >= 0 ? l + 1 : 0, l >= 0 ? " are not finite" : " n/a)");
    }

    /* SGD with weight decay (§3): w ← w − lr·(g + wd·w), g summed over the threads above;
     * checked first so that a non-finite gradient is caught before any weight changes. */
    const float lr = (float)res->lr, wd = tr->opts.weight_decay;
    const float *w = wk;
    int bad = 0;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(| : bad)
    for (size_t j = 0; j < np; j++)
        bad |= !isfinite(g[j]) | !isfinite(w[j] - lr * (g[j] + wd * w[j]));
    if (bad) {
        int l = bad_layer(net, g);
        if (l < 0) /* the gradient is finite but lr·g overflows */
            for (size_t j = 0; j < np && l < 0; j++)
                if (!isfinite(w[j] - lr * (g[j] + wd * w[j])))
                    for (int k = 0; k < net->n_layers; k++)
                        if (j >= net->layers[k].w_offset)
                            l = k;
        memset(g, 0, np * sizeof(float));
        return sbp_fail(err, SBP_ERR_NUMERIC,
                        "training: the gradient or update of layer %d (%s) is NaN/Inf at epoch "
                        "%d, batch %zu; weights left as before the batch",
                        l + 1, l >= 0 ? sbp_layer_kind_name(net->layers[l].spec.kind) : "?",
                        tr->epoch + 1, tr->batch_index + 1);
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t j = 0; j < np; j++) {
        wk[j] -= lr * (g[j] + wd * wk[j]);
        g[j] = 0.0f;
    }
    sbp_engine_get_weights(&tr->eng[0], net->params);

    if (++tr->batch_index == tr->batches) {
        tr->batch_index = 0;
        tr->epoch++;
        if (!sbp_trainer_done(tr))
            shuffle(tr->order, ds->n, tr->opts.seed, tr->epoch);
    }
    return SBP_OK;
}

void sbp_trainer_position(const sbp_trainer *tr, int *epoch, size_t *batch)
{
    if (epoch)
        *epoch = tr->epoch;
    if (batch)
        *batch = tr->batch_index;
}

sbp_status sbp_trainer_seek(sbp_trainer *tr, int epoch, size_t batch, sbp_error *err)
{
    if (epoch < 0 || epoch > tr->opts.epochs || batch >= tr->batches ||
        (epoch == tr->opts.epochs && batch != 0))
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "trainer: position epoch %d, batch %zu lies outside %d epochs of %zu "
                        "batches",
                        epoch + 1, batch + 1, tr->opts.epochs, tr->batches);
    tr->epoch = epoch;
    tr->batch_index = batch;
    if (epoch < tr->opts.epochs)
        shuffle(tr->order, tr->data->n, tr->opts.seed, epoch);
    return SBP_OK;
}
