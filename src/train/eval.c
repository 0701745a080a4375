/*
 * eval.c — evaluation of a network on a data set (§1 prediction argmax o, o = M[T−1]/T; §2
 * loss) and prediction (every image's o, sbp_predict): one engine per worker, images in
 * parallel, per-image results summed in image order, so the result does not depend on the
 * worker count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/error.h"
#include "engine/engine.h"
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
    double *losses;       /* (n) */
    unsigned char *hits;  /* (n) */
} eval_run;

static void eval_image(void *ctx, int w, size_t i)
{
    eval_run *r = ctx;
    sbp_input in;
    int ok;
    sbp_input_for(&in, r->ds, i, r->key, SBP_INPUT_EVAL_TAG);
    float *o = r->outputs ? r->outputs + i * (size_t)r->classes : r->outs + (size_t)w * r->classes;
    sbp_engine_forward(&r->eng[w], &in, o);
    r->losses[i] = sbp_sample_loss(o, r->classes, sbp_dataset_label(r->ds, i), NULL, &ok);
    r->hits[i] = (unsigned char)ok;
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
    const int nt = sbp_workers(opts->threads);
    eval_run r = {.ds = ds, .classes = (int)net->layers[net->n_layers - 1].n_out,
                  .outputs = outputs};
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
    sbp_images_each(ds->n, nt, opts->batch > 0 ? (size_t)opts->batch : 256, eval_image, &r,
                    opts->progress, opts->progress_user);
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
