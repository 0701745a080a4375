/*
 * test_backend.c — the backend interface (src/backend/backend.h) end to end: tiny networks built
 * through the library API, the backend chosen at run time by name, and the cpu backend checked
 * against the reference backend (the oracle) on the outputs o = M[T−1]/T and on the weight
 * gradients of both backward modes, for plain, residual (all three shortcut kinds) and
 * multi-channel networks with dropout; then one trainer step and an evaluation through the public
 * options; then the tables themselves (every row filled) and the reserved cuda id.
 *
 * Tolerance: the two backends sum in different orders (GEMM or event lists against direct
 * loops), so currents differ by float rounding (~1e-6 relative); at these sizes no membrane
 * lands within that distance of a threshold, so the spikes agree and outputs and gradients agree
 * to 2e-5 of their largest magnitude. A wrong kernel, layout or reduction is off by O(1).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "check.h"
#include "data/dataset.h"
#include "engine/engine.h"

#define TOL 2e-5

typedef struct net_case {
    const char *name;
    const char *notation; /* NULL: residual, built below */
} net_case;

static const net_case cases[] = {
    {"plain", "10x10x1-6C3-P2-12FC-4"},
    {"rgb", "8x8x3-5C3-6C3/2-10FC-3"},
    {"residual", NULL},
};

static sbp_status make_spec(sbp_net_spec *s, const net_case *c, sbp_error *err)
{
    if (c->notation) {
        sbp_status st = sbp_net_spec_parse(s, c->notation, err);
        if (st == SBP_OK)
            s->layers[0].dropout = 0.2f; /* masks in the backend's neuron order */
        return st;
    }
    /* input → 4C3 (a) → 6C3 + 1×1 conv shortcut from a → 6C3/2 + subsample from the last →
     * 6C3 + identity → P2 → 5 */
    sbp_status st = sbp_net_spec_parse(s, "8x8x2-4C3-6C3-6C3/2-6C3-P2-5", err);
    if (st != SBP_OK)
        return st;
    s->layers[1].shortcut = SBP_SHORTCUT_CONV;
    s->layers[1].shortcut_from = 0;
    s->layers[2].shortcut = SBP_SHORTCUT_SUBSAMPLE;
    s->layers[2].shortcut_from = 1;
    s->layers[3].shortcut = SBP_SHORTCUT_IDENTITY;
    s->layers[3].shortcut_from = 2;
    s->layers[1].dropout = 0.25f;
    return SBP_OK;
}

static void image(uint8_t *px, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        px[i] = (uint8_t)(s >> 24);
    }
}

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* Largest |a − b| relative to the largest |a|. */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, m = max_abs(a, n);
    for (size_t i = 0; i < n; i++)
        d = fabs((double)a[i] - b[i]) > d ? fabs((double)a[i] - b[i]) : d;
    return m > 0 ? d / m : d;
}

/* Outputs (samples, classes) and the gradient sum (n_params, PyTorch layout) of `samples`
 * images through one engine of the backend named `name`. */
static int run_engine(const char *name, const sbp_net *net, int T, sbp_backward mode,
                      int samples, float *outs, float *grad)
{
    sbp_error err = {0};
    sbp_backend_id id;
    CHECK(sbp_backend_parse(&id, name, &err) == SBP_OK, "parse %s: %s", name, err.msg);
    const sbp_backend *be = sbp_backend_get(id, &err);
    CHECK(be && !strcmp(be->name, name), "backend %s: %s", name, err.msg);
    if (!be)
        return 0;
    sbp_engine e;
    if (sbp_engine_init(&e, net, T, be, 1, mode, 0, &err) != SBP_OK) {
        CHECK(0, "engine %s: %s", name, err.msg);
        return 0;
    }
    sbp_engine_set_weights(&e, net->params);
    const sbp_net_spec *s = &net->spec;
    const size_t npx = (size_t)s->in_c * s->in_h * s->in_w;
    const int classes = (int)net->layers[net->n_layers - 1].n_out;
    uint8_t *px = malloc(npx);
    const float mean[4] = {0.5f, 0.4f, 0.3f, 0.5f}, sd[4] = {0.3f, 0.3f, 0.3f, 0.3f};
    const sbp_rng_key enc = sbp_rng_key_make(7, SBP_RNG_ENCODE);
    const sbp_rng_key drop = sbp_rng_key_make(7, SBP_RNG_DROPOUT);
    for (int i = 0; i < samples; i++) {
        image(px, npx, (uint32_t)i);
        sbp_input in = {.pixels = px, .mean = mean, .std = sd, .gain = 1.0f, .key = enc,
                        .tag = 3, .sample = (uint32_t)i};
        float *o = outs + (size_t)i * classes, g[16];
        sbp_engine_draw_masks(&e, drop, 3, (uint32_t)i);
        sbp_engine_forward(&e, &in, o);
        for (int k = 0; k < classes; k++)
            g[k] = 2.0f * (o[k] - (k == i % classes ? 1.0f : 0.0f)); /* §2 */
        sbp_engine_backward(&e, g);
    }
    memset(grad, 0, net->n_params * sizeof(float));
    sbp_engine_take_grad(&e, grad);
    sbp_engine_release(&e);
    free(px);
    return 1;
}

static void compare_engines(const net_case *c, sbp_backward mode)
{
    sbp_error err = {0};
    sbp_net_spec spec;
    sbp_net *net = NULL;
    if (make_spec(&spec, c, &err) != SBP_OK || sbp_net_create(&net, &spec, 11, &err) != SBP_OK) {
        CHECK(0, "%s: %s", c->name, err.msg);
        return;
    }
    const int T = 12, samples = 4;
    const size_t classes = net->layers[net->n_layers - 1].n_out, np = net->n_params;
    float *o_ref = calloc(samples * classes, sizeof(float)), *o_cpu = calloc(samples * classes, 4);
    float *g_ref = calloc(np, sizeof(float)), *g_cpu = calloc(np, sizeof(float));
    if (run_engine("reference", net, T, mode, samples, o_ref, g_ref) &&
        run_engine("cpu", net, T, mode, samples, o_cpu, g_cpu)) {
        const char *m = sbp_backward_name(mode);
        CHECK(max_abs(o_ref, samples * classes) > 0, "%s/%s: outputs are all zero", c->name, m);
        CHECK(max_abs(g_ref, np) > 0, "%s/%s: gradient is all zero", c->name, m);
        double d = rel_diff(o_ref, o_cpu, samples * classes);
        CHECK(d <= TOL, "%s/%s: outputs cpu vs reference differ by %.3g (relative)", c->name, m,
              d);
        for (int l = 0; l < net->n_layers; l++) {
            const sbp_layer *L = &net->layers[l];
            const sbp_layer *G[2] = {L, L->sc};
            for (int k = 0; k < 2; k++) {
                if (!G[k] || !G[k]->w_count)
                    continue;
                d = rel_diff(g_ref + G[k]->w_offset, g_cpu + G[k]->w_offset, G[k]->w_count);
                CHECK(d <= TOL, "%s/%s: layer %d%s gradient cpu vs reference differs by %.3g",
                      c->name, m, l + 1, k ? " shortcut" : "", d);
            }
        }
    }
    free(o_ref);
    free(o_cpu);
    free(g_ref);
    free(g_cpu);
    sbp_net_free(net);
}

/* One SGD step and an evaluation through the public options, backend chosen by name. */
static void compare_trainers(void)
{
    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    const size_t n = 24;
    if (sbp_dataset_alloc(&ds, n, 1, 10, 10, 4, &err) != SBP_OK) {
        CHECK(0, "dataset: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ds->labels[i] = (uint8_t)(i % 4);
        image(ds->pixels + i * 100, 100, (uint32_t)(100 + i));
    }
    float *w[2] = {NULL, NULL};
    sbp_eval_result ev[2];
    const char *names[2] = {"reference", "cpu"};
    size_t np = 0;
    for (int b = 0; b < 2; b++) {
        sbp_net_spec spec;
        sbp_net *net = NULL;
        sbp_trainer *tr = NULL;
        sbp_batch_result br;
        sbp_train_opts o;
        sbp_train_opts_default(&o);
        o.timesteps = 10;
        o.batch = 8;
        o.lr = 0.05f;
        o.threads = 2;
        CHECK(sbp_backend_parse(&o.backend, names[b], &err) == SBP_OK, "%s", err.msg);
        sbp_net_spec_parse(&spec, "10x10x1-6C3-P2-12FC-4", &err);
        if (sbp_net_create(&net, &spec, 5, &err) != SBP_OK ||
            sbp_trainer_create(&tr, net, ds, &o, &err) != SBP_OK ||
            sbp_trainer_step(tr, &br, &err) != SBP_OK) {
            CHECK(0, "%s trainer: %s", names[b], err.msg);
            sbp_trainer_free(tr);
            sbp_net_free(net);
            continue;
        }
        np = sbp_net_param_count(net);
        w[b] = malloc(np * sizeof(float));
        memcpy(w[b], net->params, np * sizeof(float));
        sbp_eval_opts eo;
        sbp_eval_opts_default(&eo);
        eo.timesteps = 10;
        eo.backend = o.backend;
        CHECK(sbp_eval(net, ds, &eo, &ev[b], &err) == SBP_OK, "%s eval: %s", names[b], err.msg);
        sbp_trainer_free(tr);
        sbp_net_free(net);
    }
    if (w[0] && w[1]) {
        /* weights after one step: w0 − lr·(g + wd·w0); their difference is lr times the
         * difference of the batch gradients */
        double d = rel_diff(w[0], w[1], np);
        CHECK(d <= TOL, "weights after one SGD step: cpu vs reference differ by %.3g", d);
        CHECK(ev[0].correct == ev[1].correct, "evaluation: %zu vs %zu correct", ev[0].correct,
              ev[1].correct);
        CHECK_NEAR(ev[0].loss, ev[1].loss, 1e-4 * ev[0].loss, "evaluation loss");
    }
    free(w[0]);
    free(w[1]);
    sbp_dataset_free(ds);
}

/* Every row of every table is filled: a missing operation would crash the engine. */
static void check_tables(void)
{
    const sbp_backend *all[] = {&sbp_backend_reference, &sbp_backend_cpu};
    for (int b = 0; b < 2; b++) {
        const sbp_backend *be = all[b];
        CHECK(be->alloc && be->release && be->zero && be->copy && be->chunk_steps &&
                  be->neuron_index && be->input_staging && be->shortcut_add &&
                  be->shortcut_add_backward && be->neuron_reset && be->neuron_forward &&
                  be->neuron_surrogate && be->neuron_backward && be->neuron_backward_aggregate &&
                  be->spikes_unpack && be->encode_values && be->encode && be->spikes_keep8 &&
                  be->spikes_load8 && be->dropout_mask && be->add && be->add_rows &&
                  be->fill_rows && be->read_output && be->reduce && be->sgd,
              "%s: an operation is missing", be->name);
        for (int k = 0; k < SBP_LAYER_KIND_COUNT; k++) {
            const sbp_synapse_ops *s = &be->synapse[k];
            const int weights = k != SBP_LAYER_POOL;
            CHECK(s->forward && s->backward && s->scratch, "%s: %s synapse incomplete", be->name,
                  sbp_layer_kind_name((sbp_layer_kind)k));
            CHECK(!weights == !s->weights_in && !weights == !s->grad_out,
                  "%s: %s weight conversion", be->name, sbp_layer_kind_name((sbp_layer_kind)k));
        }
    }
    sbp_error err = {0};
    sbp_backend_id id;
    CHECK(sbp_backend_parse(&id, "cuda", &err) == SBP_OK && id == SBP_BACKEND_CUDA, "cuda id");
    CHECK(sbp_backend_check(SBP_BACKEND_CUDA, &err) == SBP_ERR_UNSUPPORTED &&
              strstr(err.msg, "CUDA"),
          "cuda without a CUDA build is refused with a reason: %s", err.msg);
    CHECK(sbp_backend_parse(&id, "gpu", &err) == SBP_ERR_INVALID_ARG && strstr(err.msg, "gpu"),
          "an unknown name is refused naming it: %s", err.msg);
    CHECK(!strcmp(sbp_backend_name(SBP_BACKEND_REFERENCE), "reference"), "names");
}

int main(void)
{
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int m = 0; m < SBP_BACKWARD_COUNT; m++)
            compare_engines(&cases[c], (sbp_backward)m);
    compare_trainers();
    check_tables();
    return check_finish("test_backend");
}
