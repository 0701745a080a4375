/* backend_compare.c — a backend against the reference backend (backend_compare.h). */
#include "backend_compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data/dataset.h"
#include "engine/engine.h"

static sbp_status make_spec(sbp_net_spec *s, const bc_case *c, sbp_error *err)
{
    if (c->notation) {
        sbp_status st = sbp_net_spec_parse(s, c->notation, err);
        if (st == SBP_OK && !c->framed)
            s->layers[0].dropout = 0.2f; /* masks in the backend's neuron order */
        if (st == SBP_OK && !strcmp(c->name, "strided"))
            s->layers[0].pad = 1;
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

void bc_image(uint8_t *px, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        px[i] = (uint8_t)(s >> 24);
    }
}

double bc_max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

double bc_rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, m = bc_max_abs(a, n);
    for (size_t i = 0; i < n; i++)
        d = fabs((double)a[i] - b[i]) > d ? fabs((double)a[i] - b[i]) : d;
    return m > 0 ? d / m : d;
}

/* Outputs (samples, classes), the gradient sum (n_params, PyTorch layout) and layer 1's spike
 * counts after the last sample (n_out, channel-first) of `samples` images through one engine
 * of the backend named `name`. */
static int run_engine(const char *name, const sbp_net *net, int T, int tc, sbp_backward mode,
                      int framed, int samples, float *outs, float *grad, float *count0)
{
    sbp_error err = {0};
    sbp_backend_id id;
    CHECK(sbp_backend_parse(&id, name, &err) == SBP_OK, "parse %s: %s", name, err.msg);
    const sbp_backend *be = sbp_backend_get(id, &err);
    CHECK(be && !strcmp(be->name, name), "backend %s: %s", name, err.msg);
    if (!be)
        return 0;
    sbp_engine e;
    if (sbp_engine_init(&e, net, T, be, 1, mode, tc, &err) != SBP_OK) {
        CHECK(0, "engine %s: %s", name, err.msg);
        return 0;
    }
    sbp_engine_set_weights(&e, net->params);
    const sbp_net_spec *s = &net->spec;
    const size_t npx = (size_t)s->in_c * s->in_h * s->in_w;
    const int classes = (int)net->layers[net->n_layers - 1].n_out;
    uint8_t *px = malloc(npx);
    const float mean[4] = {0.5f, 0.4f, 0.3f, 0.5f}, sd[4] = {0.3f, 0.3f, 0.3f, 0.3f};
    const float blank[4] = {0, 0, 0, 0};
    const sbp_rng_key enc = sbp_rng_key_make(7, SBP_RNG_ENCODE);
    const sbp_rng_key drop = sbp_rng_key_make(7, SBP_RNG_DROPOUT);
    for (int i = 0; i < samples; i++) {
        bc_image(px, npx, (uint32_t)i);
        if (framed) /* a box of rows 3 + i … H − 4, columns 4 … W − 3 − i; blank around it */
            for (size_t j = 0; j < npx; j++) {
                const int y = (int)(j / (size_t)s->in_w % (size_t)s->in_h);
                const int x = (int)(j % (size_t)s->in_w);
                if (y < 3 + i || y >= s->in_h - 3 || x < 4 || x >= s->in_w - 2 - i)
                    px[j] = 0;
            }
        sbp_input in = {.pixels = px, .mean = framed ? blank : mean, .std = sd, .gain = 1.0f,
                        .key = enc, .tag = 3, .sample = (uint32_t)i};
        float *o = outs + (size_t)i * classes, g[16];
        sbp_engine_draw_masks(&e, drop, 3, (uint32_t)i);
        sbp_engine_forward(&e, &in, o);
        if (framed) { /* the box, grown by the first layer's reach (k 5, padding 2): 1 + i … */
            const int *q = e.st[0].quiet, want[4] = {1 + i, 1, 2, i};
            CHECK(!memcmp(q, want, sizeof want), "%s sample %d: quiet margins %d %d %d %d, not "
                  "%d %d %d %d", name, i, q[0], q[1], q[2], q[3], want[0], want[1], want[2],
                  want[3]);
        }
        for (int k = 0; k < classes; k++)
            g[k] = 2.0f * (o[k] - (k == i % classes ? 1.0f : 0.0f)); /* §2 */
        sbp_engine_backward(&e, g);
    }
    /* the counts through the table (device memory for a GPU), then in channel-first order */
    const size_t n0 = net->layers[0].n_out;
    float *mine = malloc(n0 * sizeof(float));
    be->read_output(mine, e.st[0].count, n0, 1.0f);
    for (size_t i = 0; i < n0; i++)
        count0[i] = mine[sbp_engine_neuron(&e, 0, i)];
    free(mine);
    memset(grad, 0, net->n_params * sizeof(float));
    sbp_engine_take_grad(&e, grad);
    sbp_engine_release(&e);
    free(px);
    return 1;
}

void bc_compare_engines(const char *name, const bc_case *c, sbp_backward mode, int tc,
                        int exact_counts)
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
    const size_t n0 = net->layers[0].n_out;
    float *o_ref = calloc(samples * classes, sizeof(float)), *o_be = calloc(samples * classes, 4);
    float *g_ref = calloc(np, sizeof(float)), *g_be = calloc(np, sizeof(float));
    float *c_ref = calloc(n0, sizeof(float)), *c_be = calloc(n0, sizeof(float));
    if (run_engine("reference", net, T, 0, mode, c->framed, samples, o_ref, g_ref, c_ref) &&
        run_engine(name, net, T, tc, mode, c->framed, samples, o_be, g_be, c_be)) {
        const char *m = sbp_backward_name(mode);
        CHECK(bc_max_abs(o_ref, samples * classes) > 0, "%s/%s: outputs are all zero", c->name,
              m);
        CHECK(bc_max_abs(g_ref, np) > 0, "%s/%s: gradient is all zero", c->name, m);
        if (exact_counts) {
            CHECK(bc_max_abs(c_ref, n0) > 0, "%s/%s: layer 1 never spiked", c->name, m);
            CHECK(!memcmp(c_ref, c_be, n0 * sizeof(float)),
                  "%s/%s tc=%d: layer 1 spike counts %s vs reference differ", c->name, m, tc,
                  name);
        }
        double d = bc_rel_diff(o_ref, o_be, samples * classes);
        CHECK(d <= BC_TOL, "%s/%s tc=%d: outputs %s vs reference differ by %.3g (relative)",
              c->name, m, tc, name, d);
        for (int l = 0; l < net->n_layers; l++) {
            const sbp_layer *L = &net->layers[l];
            const sbp_layer *G[2] = {L, L->sc};
            for (int k = 0; k < 2; k++) {
                if (!G[k] || !G[k]->w_count)
                    continue;
                d = bc_rel_diff(g_ref + G[k]->w_offset, g_be + G[k]->w_offset, G[k]->w_count);
                CHECK(d <= BC_TOL,
                      "%s/%s tc=%d: layer %d%s gradient %s vs reference differs by %.3g",
                      c->name, m, tc, l + 1, k ? " shortcut" : "", name, d);
            }
        }
    }
    free(o_ref);
    free(o_be);
    free(g_ref);
    free(g_be);
    free(c_ref);
    free(c_be);
    sbp_net_free(net);
}

void bc_compare_trainers(const char *name, int train_threads, int eval_threads)
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
        bc_image(ds->pixels + i * 100, 100, (uint32_t)(100 + i));
    }
    float *w[2] = {NULL, NULL};
    sbp_eval_result ev[2];
    const char *names[2] = {"reference", name};
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
        o.threads = train_threads;
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
        eo.threads = eval_threads;
        eo.backend = o.backend;
        CHECK(sbp_eval(net, ds, &eo, &ev[b], &err) == SBP_OK, "%s eval: %s", names[b], err.msg);
        sbp_trainer_free(tr);
        sbp_net_free(net);
    }
    if (w[0] && w[1]) {
        /* weights after one step: w0 − lr·(g + wd·w0); their difference is lr times the
         * difference of the batch gradients */
        double d = bc_rel_diff(w[0], w[1], np);
        CHECK(d <= BC_TOL, "weights after one SGD step: %s vs reference differ by %.3g", name, d);
        CHECK(ev[0].correct == ev[1].correct, "evaluation: %zu vs %zu correct", ev[0].correct,
              ev[1].correct);
        CHECK_NEAR(ev[0].loss, ev[1].loss, 1e-4 * ev[0].loss, "evaluation loss");
    }
    free(w[0]);
    free(w[1]);
    sbp_dataset_free(ds);
}

void bc_check_table(const sbp_backend *be)
{
    CHECK(be->alloc && be->release && be->zero && be->copy && be->chunk_steps &&
              be->neuron_index && be->input_staging && be->shortcut_add &&
              be->shortcut_add_backward && be->neuron_reset && be->neuron_forward &&
              be->neuron_surrogate && be->neuron_backward && be->neuron_backward_aggregate &&
              be->spikes_unpack && be->encode_values && be->encode && be->spikes_keep8 &&
              be->spikes_load8 && be->dropout_mask && be->add && be->add_rows && be->fill_rows &&
              be->read_output && be->reduce && be->sgd,
          "%s: an operation is missing", be->name);
    for (int k = 0; k < SBP_LAYER_KIND_COUNT; k++) {
        const sbp_synapse_ops *s = &be->synapse[k];
        const int weights = k != SBP_LAYER_POOL;
        CHECK(s->forward && s->backward && s->scratch, "%s: %s synapse incomplete", be->name,
              sbp_layer_kind_name((sbp_layer_kind)k));
        CHECK(!weights == !s->weights_in && !weights == !s->grad_out, "%s: %s weight conversion",
              be->name, sbp_layer_kind_name((sbp_layer_kind)k));
    }
}
