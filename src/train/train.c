/*
 * train.c — mini-batch SGD over a dataset (§2 loss, §3 update, §4 schedule).
 *
 * Parallelism: OpenMP over the samples of a batch, one engine (a backend worker) and one
 * gradient sum per thread; the backend reduces the sums in thread order and takes the SGD step,
 * so a run is bit-reproducible for the same seed, data, backend and thread count. BLAS calls
 * inside the parallel region run single-threaded.
 *
 * Across processes (opts.comm, train/comm.h): every rank takes a contiguous shard of every
 * batch (the split OpenMP's static schedule makes over threads), reduces its workers' sums,
 * then one allreduce sums the ranks' gradient arenas, and every rank takes the same SGD step on
 * the same bits. The data order, encoding, dropout and augmentation are pure functions of (seed,
 * epoch, image), so an image gets the same spikes on whichever rank runs it. A run is
 * bit-reproducible for the same rank count and threads per rank.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "backend/backend.h"
#include "data/dataset.h"
#include "engine/engine.h"
#include "net/net.h"
#include "train/comm.h"
#include "train/images.h"

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
    o->backend = SBP_BACKEND_CPU;
    o->seed = 1;
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
    const sbp_comm *comm; /* never NULL: the single-process instance when opts.comm is */
    int agreed;           /* the ranks have compared their state since the last seek */
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
    if (opts->batch < 1 || opts->epochs < 1 || opts->timesteps < 1 || !(opts->lr > 0.0f) ||
        !(opts->weight_decay >= 0.0f) || opts->n_milestones < 0 || opts->n_milestones > 8 ||
        (unsigned)opts->backward >= SBP_BACKWARD_COUNT || (unsigned)opts->backend >= SBP_BACKEND_COUNT)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "training options out of range (batch %d, epochs %d, timesteps %d, lr "
                        "%g, weight decay %g)",
                        opts->batch, opts->epochs, opts->timesteps, opts->lr, opts->weight_decay);
    sbp_status st = sbp_images_check(net, train, opts->timesteps, "", err);
    if (st != SBP_OK)
        return st;
    const sbp_backend *be = sbp_backend_get(opts->backend, err);
    if (!be)
        return err ? err->status : SBP_ERR_UNSUPPORTED;
    const sbp_comm *comm = sbp_comm_or_single(opts->comm);
    if (opts->batch % comm->size != 0)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "the batch (%d, the global batch) does not divide among %d ranks: give "
                        "a multiple of %d",
                        opts->batch, comm->size, comm->size);
    if (comm->size > 1 && !be->host_memory)
        return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                        "backend %s keeps its gradients in device memory; summing them across "
                        "ranks needs a device-aware or staged path that this build lacks",
                        be->name);
    if (train->n > UINT32_MAX)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "data set too large (%zu images)", train->n);
    sbp_trainer *tr = calloc(1, sizeof *tr);
    if (!tr)
        return sbp_fail(err, SBP_ERR_NOMEM, "trainer: out of memory");
    tr->net = net;
    tr->data = train;
    tr->opts = *opts;
    tr->comm = comm;
    tr->threads = sbp_workers(opts->threads);
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
        st = sbp_engine_init(&tr->eng[i], net, opts->timesteps, be, 1, opts->backward, 0, err);
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

/* Index of the first layer whose slice of `arr` (n_params, host) holds a NaN or Inf, or −1. */
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

/* Before the first batch of a data-parallel run (and after a seek): the ranks compare what
 * must be the same everywhere, so that a rank started with other options, data or weights
 * fails at once, named, instead of training something else silently. */
static sbp_status agree(sbp_trainer *tr, sbp_error *err)
{
    const sbp_train_opts *o = &tr->opts;
    uint32_t f[4];
    memcpy(&f[0], &o->lr, 4);
    memcpy(&f[1], &o->weight_decay, 4);
    memcpy(&f[2], &o->lr_factor, 4);
    f[3] = 0;
    const sbp_comm_fact facts[] = {
        {"library version", sbp_comm_hash(0, SBP_VERSION_STRING, sizeof SBP_VERSION_STRING)},
        {"network (parameter count)", tr->net->n_params},
        {"timesteps", (uint64_t)o->timesteps},
        {"batch", (uint64_t)o->batch},
        {"epochs", (uint64_t)o->epochs},
        {"lr, weight decay, lr factor", sbp_comm_hash(0, f, sizeof f)},
        {"lr milestones", sbp_comm_hash(sbp_comm_hash(0, &o->n_milestones, sizeof(int)),
                                        o->lr_milestones, sizeof o->lr_milestones)},
        {"backward mode", (uint64_t)o->backward},
        {"backend", (uint64_t)o->backend},
        {"seed", o->seed},
        {"training data (size, shape, labels)", sbp_comm_data_fingerprint(tr->data)},
        {"weights (CRC-32)", sbp_comm_weights_crc(tr->net)},
        {"position (epoch)", (uint64_t)tr->epoch},
        {"position (batch)", (uint64_t)tr->batch_index},
    };
    sbp_status st = sbp_comm_agree(tr->comm, facts, (int)(sizeof facts / sizeof facts[0]),
                                   "training: ", err);
    tr->agreed = st == SBP_OK;
    return st;
}

sbp_status sbp_trainer_step(sbp_trainer *tr, sbp_batch_result *res, sbp_error *err)
{
    memset(res, 0, sizeof *res);
    if (sbp_trainer_done(tr))
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "trainer: all %d epochs are done",
                        tr->opts.epochs);
    if (!tr->agreed && agree(tr, err) != SBP_OK)
        return err ? err->status : SBP_ERR_INVALID_ARG;
    sbp_net *net = tr->net;
    const sbp_dataset *ds = tr->data;
    const size_t B = (size_t)tr->opts.batch;
    const size_t first = tr->batch_index * B, last = first + B < ds->n ? first + B : ds->n;
    /* This rank's shard of the batch (all of it for one process). */
    size_t mine0, mine1;
    sbp_comm_share(last - first, tr->comm->rank, tr->comm->size, &mine0, &mine1);
    mine0 += first;
    mine1 += first;
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
        for (size_t b = mine0; b < mine1; b++) {
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
            tr->loss[tid] += sbp_sample_loss(o, classes, sbp_dataset_label(ds, idx), go, &ok);
            tr->correct[tid] += ok;
            sbp_engine_backward(e, go);
        }
    }
    /* The workers' gradient sums add up in worker 0's, in worker order. */
    sbp_engine_reduce(tr->eng, nt, nt);
    for (int t = 0; t < nt; t++) {
        res->loss += tr->loss[t];
        res->correct += tr->correct[t];
    }
    /* The ranks' sums: the loss decides below whether every rank drops the batch. */
    double sums[2] = {res->loss, (double)res->correct};
    sbp_status st = tr->comm->ops->sum_f64(tr->comm, sums, 2, err);
    if (st != SBP_OK)
        return st;
    res->loss = sums[0];
    res->correct = (int)sums[1];
    res->samples = (int)(last - first);
    res->epoch = tr->epoch;
    res->batch_index = tr->batch_index;
    res->batches_per_epoch = tr->batches;
    res->lr = current_lr(&tr->opts, tr->epoch);
    if (!isfinite(res->loss)) {
        sbp_engine_drop_grad(&tr->eng[0]);
        int l = bad_layer(net, net->params);
        return sbp_fail(err, SBP_ERR_NUMERIC,
                        "training: the loss is %g at epoch %d, batch %zu%s%d%s; weights left as "
                        "before the batch",
                        res->loss, tr->epoch + 1, tr->batch_index + 1,
                        l >= 0 ? " — the weights of layer " : " (all weights finite; layer ",
                        l >= 0 ? l + 1 : 0, l >= 0 ? " are not finite" : " n/a)");
    }

    /* The ranks' gradient sums, one allreduce over the arena in the backend's layout; every
     * rank then holds the same bits and takes the same step below. */
    size_t n_grad;
    float *grad = sbp_engine_grad_arena(&tr->eng[0], &n_grad);
    st = tr->comm->ops->sum_f32(tr->comm, grad, n_grad, err);
    if (st != SBP_OK)
        return st;

    /* SGD with weight decay (§3) by the backend, on worker 0's weights and the reduced
     * gradient in the backend's layout (elementwise, so the same bits as in PyTorch layout),
     * checked before any weight changes; then the weights come back in PyTorch layout. */
    const int l = sbp_engine_sgd(&tr->eng[0], (float)res->lr, tr->opts.weight_decay, nt);
    if (l >= 0)
        return sbp_fail(err, SBP_ERR_NUMERIC,
                        "training: the gradient or update of layer %d (%s) is NaN/Inf at epoch "
                        "%d, batch %zu; weights left as before the batch",
                        l + 1, sbp_layer_kind_name(net->layers[l].spec.kind), tr->epoch + 1,
                        tr->batch_index + 1);
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
    tr->agreed = 0;
    if (epoch < tr->opts.epochs)
        shuffle(tr->order, tr->data->n, tr->opts.seed, epoch);
    return SBP_OK;
}
