/*
 * test_train.c — training end to end on a small synthetic task: the loss trajectory falls and
 * accuracy rises well above chance in both backward modes; a run is bit-reproducible for the
 * same seed and thread count; the fast path trains like the plain-loop reference; prediction
 * and a reusable evaluator give sbp_eval's results.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data/dataset.h"
#include "net/net.h"

/* 4 classes of 8×8 images: a bright quadrant per class on a noisy background. */
static sbp_dataset *synthetic(size_t n, uint32_t seed)
{
    sbp_dataset *ds = NULL;
    sbp_error err = {0};
    if (sbp_dataset_alloc(&ds, n, 1, 8, 8, 4, &err) != SBP_OK)
        return NULL;
    uint32_t s = seed;
    for (size_t i = 0; i < n; i++) {
        int label = (int)(i % 4);
        ds->labels[i] = (uint8_t)label;
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                s = s * 1664525u + 1013904223u;
                int q = (y >= 4) * 2 + (x >= 4);
                int v = (int)(s >> 26) + (q == label ? 200 : 20);
                ds->pixels[i * 64 + (size_t)y * 8 + x] = (uint8_t)(v > 255 ? 255 : v);
            }
    }
    float mean = 0, sd = 1;
    sbp_dataset_set_encoding(ds, &mean, &sd, 1.0f, &err);
    return ds;
}

static sbp_net *small_net(uint64_t seed)
{
    sbp_net_spec spec;
    sbp_net *net = NULL;
    sbp_error err = {0};
    sbp_net_spec_parse(&spec, "8x8x1-8C3-P2-16FC-4", &err);
    spec.layers[2].dropout = 0.1f;
    sbp_net_create(&net, &spec, seed, &err);
    return net;
}

/* Trains `epochs` epochs; writes per-epoch mean loss into losses (if not NULL). */
static void train(sbp_net *net, const sbp_dataset *ds, sbp_backward mode, sbp_backend_id impl,
                  uint64_t seed, int threads, int epochs, double *losses)
{
    sbp_train_opts o;
    sbp_train_opts_default(&o);
    o.timesteps = 20;
    o.batch = 8;
    o.epochs = epochs;
    o.lr = 0.02f;
    o.backward = mode;
    o.backend = impl;
    o.seed = seed;
    o.threads = threads;
    sbp_trainer *tr = NULL;
    sbp_error err = {0};
    CHECK(sbp_trainer_create(&tr, net, ds, &o, &err) == SBP_OK, "trainer: %s", err.msg);
    if (!tr)
        return;
    int e = 0;
    double sum = 0;
    while (!sbp_trainer_done(tr)) {
        sbp_batch_result r;
        CHECK(sbp_trainer_step(tr, &r, &err) == SBP_OK, "step: %s", err.msg);
        sum += r.loss;
        if (r.batch_index + 1 == r.batches_per_epoch) {
            if (losses)
                losses[e] = sum / (double)sbp_dataset_count(ds);
            e++;
            sum = 0;
        }
    }
    sbp_trainer_free(tr);
}

static double accuracy(const sbp_net *net, const sbp_dataset *ds)
{
    sbp_eval_opts eo;
    sbp_eval_opts_default(&eo);
    eo.timesteps = 20;
    sbp_eval_result r;
    sbp_error err = {0};
    CHECK(sbp_eval(net, ds, &eo, &r, &err) == SBP_OK, "eval: %s", err.msg);
    return r.accuracy;
}

/* sbp_predict is sbp_eval's pass: its outputs give eval's hits and loss exactly, and do not
 * depend on the thread count. */
static void check_predict(const sbp_net *net, const sbp_dataset *ds)
{
    sbp_error err = {0};
    const size_t n = sbp_dataset_count(ds), K = net->layers[net->n_layers - 1].n_out;
    float *o1 = malloc(n * K * sizeof *o1), *o2 = malloc(n * K * sizeof *o2);
    sbp_eval_opts eo;
    sbp_eval_opts_default(&eo);
    eo.timesteps = 12;
    eo.threads = 2;
    sbp_eval_result r;
    CHECK(o1 && o2 && sbp_predict(net, ds, &eo, o1, &err) == SBP_OK &&
              sbp_eval(net, ds, &eo, &r, &err) == SBP_OK,
          "predict/eval: %s", err.msg);
    eo.threads = 1;
    eo.batch = 7;
    CHECK(o2 && sbp_predict(net, ds, &eo, o2, &err) == SBP_OK, "predict: %s", err.msg);
    if (o1 && o2) {
        CHECK(memcmp(o1, o2, n * K * sizeof *o1) == 0, "predict depends on threads or chunks");
        size_t hits = 0;
        double loss = 0;
        for (size_t i = 0; i < n; i++) {
            size_t best = 0;
            for (size_t k = 0; k < K; k++) {
                double d = o1[i * K + k] - (k == (size_t)sbp_dataset_label(ds, i) ? 1.0 : 0.0);
                loss += d * d;
                if (o1[i * K + k] > o1[i * K + best])
                    best = k;
            }
            hits += best == (size_t)sbp_dataset_label(ds, i);
        }
        CHECK(hits == r.correct, "predict argmax hits %zu, eval %zu", hits, r.correct);
        CHECK_NEAR(loss, r.loss, 1e-9 * r.loss, "predict loss vs eval loss");
    }
    CHECK(sbp_predict(net, ds, &eo, NULL, &err) == SBP_ERR_INVALID_ARG, "NULL output accepted");
    free(o1);
    free(o2);
}

/* An evaluator (sbp_evaluator_*) built once gives sbp_predict's and sbp_eval's bits on every
 * call — the whole set, one-image slices, other thread counts —, keeps the weights it took until
 * reloaded, and refuses bad arguments and data that does not fit. */
static void check_evaluator(sbp_net *net, const sbp_dataset *ds)
{
    sbp_error err = {0};
    const size_t n = sbp_dataset_count(ds), K = net->layers[net->n_layers - 1].n_out;
    float *ref = malloc(n * K * sizeof *ref), *got = malloc(n * K * sizeof *got);
    float *ref2 = malloc(n * K * sizeof *ref2), *w0 = malloc(net->n_params * sizeof *w0);
    if (!ref || !got || !ref2 || !w0) {
        CHECK(0, "out of memory");
        return;
    }
    sbp_eval_opts eo;
    sbp_eval_opts_default(&eo);
    eo.timesteps = 12;
    eo.threads = 2;
    sbp_eval_result r_ref, r;
    CHECK(sbp_predict(net, ds, &eo, ref, &err) == SBP_OK &&
              sbp_eval(net, ds, &eo, &r_ref, &err) == SBP_OK,
          "predict/eval: %s", err.msg);
    sbp_evaluator *ev = NULL;
    CHECK(sbp_evaluator_create(&ev, net, &eo, &err) == SBP_OK && ev, "evaluator: %s", err.msg);
    if (!ev)
        return;
    for (int call = 0; call < 2; call++) {
        memset(got, 0xff, n * K * sizeof *got);
        CHECK(sbp_evaluator_predict(ev, ds, got, &err) == SBP_OK, "evaluator predict: %s",
              err.msg);
        CHECK(memcmp(got, ref, n * K * sizeof *got) == 0,
              "evaluator predict, call %d: not sbp_predict's outputs", call + 1);
        memset(&r, 0, sizeof r);
        CHECK(sbp_evaluator_eval(ev, ds, &r, &err) == SBP_OK, "evaluator eval: %s", err.msg);
        CHECK(r.images == r_ref.images && r.correct == r_ref.correct &&
                  memcmp(&r.loss, &r_ref.loss, sizeof r.loss) == 0,
              "evaluator eval, call %d: %zu/%zu correct, loss %.17g, sbp_eval %zu/%zu, %.17g",
              call + 1, r.correct, r.images, r.loss, r_ref.correct, r_ref.images, r_ref.loss);
    }
    /* one image at a time, as an application predicting a stream would call it */
    const size_t picks[3] = {0, 5, n - 1};
    for (int q = 0; q < 3; q++) {
        sbp_dataset *one = NULL;
        float a[16], b[16];
        CHECK(K <= 16 && sbp_dataset_slice(&one, ds, picks[q], 1, &err) == SBP_OK, "slice: %s",
              err.msg);
        if (!one)
            continue;
        CHECK(sbp_predict(net, one, &eo, a, &err) == SBP_OK &&
                  sbp_evaluator_predict(ev, one, b, &err) == SBP_OK,
              "one image: %s", err.msg);
        CHECK(memcmp(a, b, K * sizeof *a) == 0, "image %zu alone: evaluator != sbp_predict",
              picks[q]);
        sbp_dataset_free(one);
    }
    /* new weights: not seen until reloaded, then exactly sbp_predict's */
    memcpy(w0, net->params, net->n_params * sizeof *w0);
    size_t nw = 0;
    float *w = sbp_net_layer_weights(net, 0, &nw);
    for (size_t i = 0; i < nw; i++)
        w[i] *= 0.5f;
    CHECK(sbp_predict(net, ds, &eo, ref2, &err) == SBP_OK, "predict: %s", err.msg);
    CHECK(memcmp(ref2, ref, n * K * sizeof *ref) != 0, "halving layer 0 changed no output");
    CHECK(sbp_evaluator_predict(ev, ds, got, &err) == SBP_OK &&
              memcmp(got, ref, n * K * sizeof *got) == 0,
          "before reload the evaluator should keep the weights it took");
    CHECK(sbp_evaluator_reload(ev, &err) == SBP_OK &&
              sbp_evaluator_predict(ev, ds, got, &err) == SBP_OK &&
              memcmp(got, ref2, n * K * sizeof *got) == 0,
          "after reload: not sbp_predict's outputs for the new weights");
    memcpy(net->params, w0, net->n_params * sizeof *w0);
    sbp_evaluator_free(ev);
    /* other worker counts: the same bits */
    for (int threads = 1; threads <= 3; threads += 2) {
        eo.threads = threads;
        ev = NULL;
        CHECK(sbp_evaluator_create(&ev, net, &eo, &err) == SBP_OK &&
                  sbp_evaluator_predict(ev, ds, got, &err) == SBP_OK &&
                  memcmp(got, ref, n * K * sizeof *got) == 0,
              "evaluator with %d threads: not sbp_predict's outputs", threads);
        sbp_evaluator_free(ev);
    }
    /* refusals */
    eo.timesteps = 0;
    ev = (sbp_evaluator *)&eo;
    CHECK(sbp_evaluator_create(&ev, net, &eo, &err) == SBP_ERR_INVALID_ARG && !ev,
          "timesteps 0 accepted");
    eo.timesteps = 12;
    CHECK(sbp_evaluator_create(NULL, net, &eo, &err) == SBP_ERR_INVALID_ARG, "NULL out accepted");
    CHECK(sbp_evaluator_create(&ev, net, &eo, &err) == SBP_OK, "evaluator: %s", err.msg);
    CHECK(sbp_evaluator_predict(ev, ds, NULL, &err) == SBP_ERR_INVALID_ARG,
          "NULL output accepted");
    CHECK(sbp_evaluator_eval(ev, NULL, &r, &err) == SBP_ERR_INVALID_ARG, "NULL data accepted");
    sbp_dataset *other = NULL;
    CHECK(sbp_dataset_alloc(&other, 4, 1, 9, 9, 4, &err) == SBP_OK, "alloc: %s", err.msg);
    const sbp_status st = other ? sbp_evaluator_eval(ev, other, &r, &err) : SBP_OK;
    CHECK(st == SBP_ERR_SHAPE && strstr(err.msg, "9x9x1 but the network expects 8x8x1"),
          "9×9 images through an 8×8 network: status %d, message '%s'", (int)st, err.msg);
    sbp_dataset_free(other);
    sbp_evaluator_free(ev);
    sbp_evaluator_free(NULL);
    free(ref);
    free(ref2);
    free(got);
    free(w0);
}

int main(void)
{
    sbp_dataset *train_set = synthetic(128, 7), *test_set = synthetic(64, 99);
    CHECK(train_set && test_set, "synthetic data");

    for (int m = 0; m < SBP_BACKWARD_COUNT; m++) {
        sbp_net *net = small_net(3);
        double before = accuracy(net, test_set), losses[6];
        train(net, train_set, (sbp_backward)m, SBP_BACKEND_CPU, 5, 2, 6, losses);
        double after = accuracy(net, test_set);
        printf("%s: loss per epoch %.4f %.4f %.4f %.4f %.4f %.4f; test accuracy %.3f -> %.3f\n",
               sbp_backward_name((sbp_backward)m), losses[0], losses[1], losses[2], losses[3],
               losses[4], losses[5], before, after);
        CHECK(losses[5] < 0.7 * losses[0], "%s: loss did not fall (%.4f -> %.4f)",
              sbp_backward_name((sbp_backward)m), losses[0], losses[5]);
        CHECK(after >= 0.8, "%s: test accuracy %.3f after training (chance 0.25)",
              sbp_backward_name((sbp_backward)m), after);
        sbp_net_free(net);
    }

    /* Same seed, same data, same thread count → identical weights; another seed → different. */
    sbp_net *a = small_net(11), *b = small_net(11), *c = small_net(11);
    train(a, train_set, SBP_BACKWARD_EXACT, SBP_BACKEND_CPU, 21, 2, 2, NULL);
    train(b, train_set, SBP_BACKWARD_EXACT, SBP_BACKEND_CPU, 21, 2, 2, NULL);
    train(c, train_set, SBP_BACKWARD_EXACT, SBP_BACKEND_CPU, 22, 2, 2, NULL);
    CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0,
          "same seed and threads: weights differ");
    CHECK(memcmp(a->params, c->params, a->n_params * sizeof(float)) != 0,
          "different seeds: weights identical");

    /* Fast path vs the plain-loop reference over two epochs of training. */
    sbp_net *f = small_net(11), *r = small_net(11);
    train(f, train_set, SBP_BACKWARD_EXACT, SBP_BACKEND_CPU, 21, 1, 1, NULL);
    train(r, train_set, SBP_BACKWARD_EXACT, SBP_BACKEND_REFERENCE, 21, 1, 1, NULL);
    double maxd = 0, maxw = 0;
    for (size_t i = 0; i < f->n_params; i++) {
        maxd = fmax(maxd, fabs(f->params[i] - r->params[i]));
        maxw = fmax(maxw, fabs(r->params[i]));
    }
    printf("fast vs reference after one epoch: max |Δw| = %.3g (max |w| %.3g)\n", maxd, maxw);
    CHECK(maxd <= 1e-3 * maxw, "fast and reference training diverge: max |Δw| = %g", maxd);

    check_predict(a, test_set);
    check_evaluator(a, test_set);

    sbp_net_free(a);
    sbp_net_free(b);
    sbp_net_free(c);
    sbp_net_free(f);
    sbp_net_free(r);
    sbp_dataset_free(train_set);
    sbp_dataset_free(test_set);
    return check_finish("train");
}
