/*
 * eval.c — evaluation of a network on a data set (§1 prediction argmax o, o = M[T−1]/T; §2
 * loss) and prediction (every image's o, sbp_predict): one engine per worker, images in
 * parallel, per-image results summed in image order, so the result does not depend on the
 * worker count.
 *
 * Across processes (opts.comm): each rank runs a contiguous share of the images, the per-image
 * results (and outputs, for sbp_predict) are gathered on every rank and summed in image order
 * there, so the result is the one a single process computes, bit for bit, whatever the rank
 * count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/error.h"
#include "engine/engine.h"
#include "net/net.h"
#include "train/comm.h"
#include "train/images.h"

void sbp_eval_opts_default(sbp_eval_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timesteps = 100;
    o->batch = 256;
    o->seed = 1;
    o->backend = SBP_BACKEND_CPU;
}

typedef struct eval_run {
    const sbp_dataset *ds;
    sbp_engine *eng;      /* (workers) */
    float *outs;          /* (workers, classes) */
    float *outputs;       /* (n, classes) every image's o (sbp_predict), or NULL */
    int classes;
    sbp_rng_key key;
    size_t first;         /* this rank's first image */
    double *losses;       /* (n) */
    unsigned char *hits;  /* (n) */
    /* progress of this rank's share, scaled to the whole set */
    void (*progress)(void *user, size_t done, size_t total);
    void *progress_user;
    size_t n, share;
} eval_run;

static void eval_image(void *ctx, int w, size_t k)
{
    eval_run *r = ctx;
    const size_t i = r->first + k;
    sbp_input in;
    int ok;
    sbp_input_for(&in, r->ds, i, r->key, SBP_INPUT_EVAL_TAG);
    float *o = r->outputs ? r->outputs + i * (size_t)r->classes : r->outs + (size_t)w * r->classes;
    sbp_engine_forward(&r->eng[w], &in, o);
    r->losses[i] = sbp_sample_loss(o, r->classes, sbp_dataset_label(r->ds, i), NULL, &ok);
    r->hits[i] = (unsigned char)ok;
}

static void share_progress(void *user, size_t done, size_t total)
{
    const eval_run *r = user;
    r->progress(r->progress_user, r->share ? done * r->n / r->share : r->n, r->n);
}

/* Every rank's per-image results into every rank's arrays (each rank wrote only its share). */
static sbp_status gather(const sbp_comm *comm, eval_run *r, sbp_error *err)
{
    size_t *counts = malloc((size_t)comm->size * sizeof *counts);
    double *losses = malloc(r->n * sizeof *losses);
    unsigned char *hits = malloc(r->n);
    sbp_status st = SBP_OK;
    if (!counts || !losses || !hits) {
        st = sbp_fail(err, SBP_ERR_NOMEM, "evaluation: out of memory gathering %zu results",
                      r->n);
        goto done;
    }
    for (int q = 0; q < comm->size; q++) {
        size_t a, b;
        sbp_comm_share(r->n, q, comm->size, &a, &b);
        counts[q] = (b - a) * sizeof *losses;
    }
    st = comm->ops->gatherv(comm, r->losses + r->first, losses, counts, err);
    for (int q = 0; q < comm->size; q++)
        counts[q] /= sizeof *losses;
    if (st == SBP_OK)
        st = comm->ops->gatherv(comm, r->hits + r->first, hits, counts, err);
    if (st == SBP_OK && r->outputs) { /* rows of floats, gathered in place of one's own */
        float *rows = malloc(r->n * (size_t)r->classes * sizeof *rows);
        for (int q = 0; q < comm->size; q++)
            counts[q] *= (size_t)r->classes * sizeof *rows;
        st = rows ? comm->ops->gatherv(comm, r->outputs + r->first * (size_t)r->classes, rows,
                                       counts, err)
                  : sbp_fail(err, SBP_ERR_NOMEM, "prediction: out of memory gathering %zu "
                                                 "outputs", r->n);
        if (st == SBP_OK)
            memcpy(r->outputs, rows, r->n * (size_t)r->classes * sizeof *rows);
        free(rows);
    }
    if (st == SBP_OK) {
        memcpy(r->losses, losses, r->n * sizeof *losses);
        memcpy(r->hits, hits, r->n);
    }
done:
    free(counts);
    free(losses);
    free(hits);
    return st;
}

/* The ranks compare what must be the same everywhere before they split the images; crc is
 * that of the weights the engines hold. */
static sbp_status agree(const sbp_comm *comm, const sbp_net *net, const sbp_dataset *ds,
                        const sbp_eval_opts *o, uint32_t crc, sbp_error *err)
{
    const sbp_comm_fact facts[] = {
        {"library version", sbp_comm_hash(0, SBP_VERSION_STRING, sizeof SBP_VERSION_STRING)},
        {"network (parameter count)", net->n_params},
        {"timesteps", (uint64_t)o->timesteps},
        {"seed", o->seed},
        {"backend", (uint64_t)o->backend},
        {"data (size, shape, labels)", sbp_comm_data_fingerprint(ds)},
        {"weights (CRC-32)", crc},
    };
    return sbp_comm_agree(comm, facts, (int)(sizeof facts / sizeof facts[0]), "evaluation: ",
                          err);
}

/* What sbp_eval would build on every call: one engine per worker, the first holding the weights
 * in the backend's layout and the others sharing them. */
struct sbp_evaluator {
    const sbp_net *net;
    sbp_eval_opts opts;
    const sbp_backend *be;
    int nt;
    sbp_engine *eng; /* (nt) */
    uint32_t crc;    /* of the weights the engines took (compared across ranks) */
};

static void evaluator_release(sbp_evaluator *ev)
{
    if (ev->eng)
        for (int i = 0; i < ev->nt; i++)
            sbp_engine_release(&ev->eng[i]);
    free(ev->eng);
    ev->eng = NULL;
}

/* The engines take the network's weights as they are now. */
static void evaluator_load(sbp_evaluator *ev)
{
    if (sbp_comm_or_single(ev->opts.comm)->size > 1)
        ev->crc = sbp_comm_weights_crc(ev->net);
    sbp_engine_set_weights(&ev->eng[0], ev->net->params);
    for (int i = 1; i < ev->nt; i++)
        sbp_engine_share_weights(&ev->eng[i], &ev->eng[0]); /* one copy for all workers */
}

static sbp_status evaluator_make(sbp_evaluator *ev, const sbp_net *net, const sbp_eval_opts *opts,
                                 sbp_error *err)
{
    memset(ev, 0, sizeof *ev);
    ev->net = net;
    ev->opts = *opts;
    if (opts->timesteps < 1)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "evaluation: timesteps must be at least 1 (%d)",
                        opts->timesteps);
    ev->be = sbp_backend_get(opts->backend, err);
    if (!ev->be)
        return err ? err->status : SBP_ERR_UNSUPPORTED;
    ev->nt = sbp_workers(opts->threads);
    ev->eng = calloc((size_t)ev->nt, sizeof *ev->eng);
    if (!ev->eng)
        return sbp_fail(err, SBP_ERR_NOMEM, "evaluation: out of memory");
    sbp_status st = SBP_OK;
    for (int i = 0; i < ev->nt && st == SBP_OK; i++) {
        st = sbp_engine_init(&ev->eng[i], net, opts->timesteps, ev->be, 0, SBP_BACKWARD_EXACT, 0,
                             err);
        if (st == SBP_OK)
            sbp_engine_skip_counts(&ev->eng[i]); /* only the outputs are read here */
    }
    if (st != SBP_OK) {
        evaluator_release(ev);
        return st;
    }
    evaluator_load(ev);
    return SBP_OK;
}

/* Evaluation and prediction are one pass: `outputs` (n, classes), if not NULL, receives every
 * sample's o where the forward pass writes it, so both see the same bits. */
static sbp_status evaluator_run(sbp_evaluator *ev, const sbp_dataset *ds, sbp_eval_result *res,
                                float *outputs, sbp_error *err)
{
    const sbp_net *net = ev->net;
    const sbp_eval_opts *opts = &ev->opts;
    memset(res, 0, sizeof *res);
    sbp_status st = sbp_images_check(net, ds, opts->timesteps, "", err);
    if (st != SBP_OK)
        return st;
    const sbp_comm *comm = sbp_comm_or_single(opts->comm);
    if (comm->size > 1 && (st = agree(comm, net, ds, opts, ev->crc, err)) != SBP_OK)
        return st;
    const int nt = ev->nt;
    eval_run r = {.ds = ds, .eng = ev->eng, .classes = (int)net->layers[net->n_layers - 1].n_out,
                  .outputs = outputs};
    size_t last;
    sbp_comm_share(ds->n, comm->rank, comm->size, &r.first, &last);
    r.n = ds->n;
    r.share = last - r.first;
    r.progress = opts->progress;
    r.progress_user = opts->progress_user;
    r.outs = calloc((size_t)nt * r.classes, sizeof(float));
    r.losses = calloc(ds->n, sizeof(double));
    r.hits = calloc(ds->n, 1);
    if (!r.outs || !r.losses || !r.hits) {
        st = sbp_fail(err, SBP_ERR_NOMEM, "evaluation: out of memory");
        goto done;
    }
    r.key = sbp_rng_key_make(opts->seed, SBP_RNG_ENCODE);
    sbp_images_each(r.share, nt, opts->batch > 0 ? (size_t)opts->batch : 256, eval_image, &r,
                    opts->progress ? share_progress : NULL, &r);
    if (comm->size > 1 && (st = gather(comm, &r, err)) != SBP_OK)
        goto done;
    for (size_t i = 0; i < ds->n; i++) {
        res->loss += r.losses[i];
        res->correct += r.hits[i];
    }
    res->images = ds->n;
    res->accuracy = (double)res->correct / (double)ds->n;
    if (!isfinite(res->loss))
        st = sbp_fail(err, SBP_ERR_NUMERIC, "evaluation: the loss is not finite (%g)", res->loss);
done:
    free(r.outs);
    free(r.losses);
    free(r.hits);
    return st;
}

/* One call: the data checked before anything is built (as before evaluators existed). */
static sbp_status run_eval(const sbp_net *net, const sbp_dataset *ds, const sbp_eval_opts *opts,
                           sbp_eval_result *res, float *outputs, sbp_error *err)
{
    memset(res, 0, sizeof *res);
    sbp_status st = sbp_images_check(net, ds, opts->timesteps, "", err);
    if (st != SBP_OK)
        return st;
    sbp_evaluator ev;
    if ((st = evaluator_make(&ev, net, opts, err)) != SBP_OK)
        return st;
    st = evaluator_run(&ev, ds, res, outputs, err);
    evaluator_release(&ev);
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

sbp_status sbp_evaluator_create(sbp_evaluator **out, const sbp_net *net,
                                const sbp_eval_opts *opts, sbp_error *err)
{
    if (!out || !net || !opts)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "evaluator: the result pointer, network and options must be set");
    *out = NULL;
    sbp_evaluator *ev = malloc(sizeof *ev);
    if (!ev)
        return sbp_fail(err, SBP_ERR_NOMEM, "evaluator: out of memory");
    const sbp_status st = evaluator_make(ev, net, opts, err);
    if (st != SBP_OK) {
        free(ev);
        return st;
    }
    *out = ev;
    return SBP_OK;
}

sbp_status sbp_evaluator_reload(sbp_evaluator *ev, sbp_error *err)
{
    if (!ev)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "evaluator: NULL");
    evaluator_load(ev);
    return SBP_OK;
}

sbp_status sbp_evaluator_eval(sbp_evaluator *ev, const sbp_dataset *ds, sbp_eval_result *res,
                              sbp_error *err)
{
    if (!ev || !ds || !res)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "evaluator: the evaluator, data and result must be set");
    return evaluator_run(ev, ds, res, NULL, err);
}

sbp_status sbp_evaluator_predict(sbp_evaluator *ev, const sbp_dataset *ds, float *out,
                                 sbp_error *err)
{
    if (!ev || !ds || !out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "evaluator: the evaluator, data and output array must be set");
    sbp_eval_result res;
    return evaluator_run(ev, ds, &res, out, err);
}

void sbp_evaluator_free(sbp_evaluator *ev)
{
    if (!ev)
        return;
    evaluator_release(ev);
    free(ev);
}
