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

/* The ranks compare what must be the same everywhere before they split the images. */
static sbp_status agree(const sbp_comm *comm, const sbp_net *net, const sbp_dataset *ds,
                        const sbp_eval_opts *o, sbp_error *err)
{
    const sbp_comm_fact facts[] = {
        {"library version", sbp_comm_hash(0, SBP_VERSION_STRING, sizeof SBP_VERSION_STRING)},
        {"network (parameter count)", net->n_params},
        {"timesteps", (uint64_t)o->timesteps},
        {"seed", o->seed},
        {"backend", (uint64_t)o->backend},
        {"data (size, shape, labels)", sbp_comm_data_fingerprint(ds)},
        {"weights (CRC-32)", sbp_comm_weights_crc(net)},
    };
    return sbp_comm_agree(comm, facts, (int)(sizeof facts / sizeof facts[0]), "evaluation: ",
                          err);
}

/* Evaluation and prediction are one pass: `outputs` (n, classes), if not NULL, receives every
 * sample's o where the forward pass writes it, so both see the same bits. */
static sbp_status run_eval(const sbp_net *net, const sbp_dataset *ds, const sbp_eval_opts *opts,
                           sbp_eval_result *res, float *outputs, sbp_error *err)
{
    memset(res, 0, sizeof *res);
    sbp_status st = sbp_images_check(net, ds, opts->timesteps, "", err);
    if (st != SBP_OK)
        return st;
    const sbp_backend *be = sbp_backend_get(opts->backend, err);
    if (!be)
        return err ? err->status : SBP_ERR_UNSUPPORTED;
    const sbp_comm *comm = sbp_comm_or_single(opts->comm);
    if (comm->size > 1 && (st = agree(comm, net, ds, opts, err)) != SBP_OK)
        return st;
    const int nt = sbp_workers(opts->threads);
    eval_run r = {.ds = ds, .classes = (int)net->layers[net->n_layers - 1].n_out,
                  .outputs = outputs};
    size_t last;
    sbp_comm_share(ds->n, comm->rank, comm->size, &r.first, &last);
    r.n = ds->n;
    r.share = last - r.first;
    r.progress = opts->progress;
    r.progress_user = opts->progress_user;
    r.eng = calloc((size_t)nt, sizeof *r.eng);
    r.outs = calloc((size_t)nt * r.classes, sizeof(float));
    r.losses = calloc(ds->n, sizeof(double));
    r.hits = calloc(ds->n, 1);
    if (!r.eng || !r.outs || !r.losses || !r.hits) {
        st = sbp_fail(err, SBP_ERR_NOMEM, "evaluation: out of memory");
        goto done;
    }
    for (int i = 0; i < nt && st == SBP_OK; i++) {
        st = sbp_engine_init(&r.eng[i], net, opts->timesteps, be, 0, SBP_BACKWARD_EXACT, 0, err);
        if (st == SBP_OK)
            sbp_engine_skip_counts(&r.eng[i]); /* only the outputs are read here */
        if (st == SBP_OK && i == 0)
            sbp_engine_set_weights(&r.eng[0], net->params);
        else if (st == SBP_OK)
            sbp_engine_share_weights(&r.eng[i], &r.eng[0]); /* one copy for all workers */
    }
    if (st != SBP_OK)
        goto done;
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
    if (r.eng)
        for (int i = 0; i < nt; i++)
            sbp_engine_release(&r.eng[i]);
    free(r.eng);
    free(r.outs);
    free(r.losses);
    free(r.hits);
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
