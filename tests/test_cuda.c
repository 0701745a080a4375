/*
 * test_cuda.c — the cuda backend (src/backend/cuda) against the reference backend, the oracle,
 * the way tests/test_backend.c checks cpu: tiny networks through the library API (plain,
 * multi-channel with dropout, residual with all three shortcut kinds), outputs o = M[T−1]/T and
 * weight gradients of both backward modes, at the backend's chunk length and at 1 and 5 steps
 * per chunk; one trainer step and an evaluation with two workers (two host threads, two CUDA
 * streams); the golden float64 fixtures (tests/golden, golden_case.c); and the parts that must
 * be bit-exact: the rate-encoded input spikes and the dropout masks (the same Philox draws as
 * the host), the spike bits, and the SGD step's non-finite check.
 *
 * Built only where CMake found nvcc. Without a usable device it prints "SKIPPED: no CUDA
 * device (reason)" and exits 77, which ctest reports as skipped (SKIP_RETURN_CODE), not passed.
 *
 * Tolerance: as test_backend.c, 2e-5 of the largest magnitude for outputs and gradients
 * (cuBLAS sums in another order than the reference's loops: currents differ by float rounding,
 * ~1e-6 relative, and at these sizes no membrane lands that close to a threshold); the golden
 * fixtures with golden_case.c's tolerances (1e-4 relative). Encoding, masks, spike counts and
 * the SGD arithmetic are elementwise and compared exactly.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "check.h"
#include "data/dataset.h"
#include "engine/engine.h"
#include "golden_case.h"

#define TOL 2e-5

typedef struct net_case {
    const char *name;
    const char *notation; /* NULL: residual, built below */
} net_case;

static const net_case cases[] = {
    {"plain", "10x10x1-6C3-P2-12FC-4"},
    {"rgb", "8x8x3-5C3-6C3/2-10FC-3"},
    {"strided", "9x9x2-4C5/2p1-3C1-P2-3"}, /* odd sizes, k 5 stride 2 pad 1, a 1×1 conv */
    {"residual", NULL},
};

static sbp_status make_spec(sbp_net_spec *s, const net_case *c, sbp_error *err)
{
    if (c->notation) {
        sbp_status st = sbp_net_spec_parse(s, c->notation, err);
        if (st == SBP_OK)
            s->layers[0].dropout = 0.2f;
        return st;
    }
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

static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, m = max_abs(a, n);
    for (size_t i = 0; i < n; i++)
        d = fabs((double)a[i] - b[i]) > d ? fabs((double)a[i] - b[i]) : d;
    return m > 0 ? d / m : d;
}

/* Outputs (samples, classes), gradient sum (n_params, PyTorch layout) and the spike counts of
 * layer 0 after the last sample (n_out, channel-first) through one engine of backend be. */
static int run_engine(const sbp_backend *be, const sbp_net *net, int T, int tc, sbp_backward mode,
                      int samples, float *outs, float *grad, float *count0)
{
    sbp_error err = {0};
    sbp_engine e;
    if (sbp_engine_init(&e, net, T, be, 1, mode, tc, &err) != SBP_OK) {
        CHECK(0, "engine %s: %s", be->name, err.msg);
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
    /* both backends here are channel-first: the counts compare index by index */
    be->read_output(count0, e.st[0].count, net->layers[0].n_out, 1.0f);
    memset(grad, 0, net->n_params * sizeof(float));
    sbp_engine_take_grad(&e, grad);
    sbp_engine_release(&e);
    free(px);
    return 1;
}

static void compare_engines(const sbp_backend *cuda, const net_case *c, sbp_backward mode, int tc)
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
    float *o_ref = calloc(samples * classes, sizeof(float)), *o_gpu = calloc(samples * classes, 4);
    float *g_ref = calloc(np, sizeof(float)), *g_gpu = calloc(np, sizeof(float));
    float *c_ref = calloc(n0, sizeof(float)), *c_gpu = calloc(n0, sizeof(float));
    if (run_engine(&sbp_backend_reference, net, T, 0, mode, samples, o_ref, g_ref, c_ref) &&
        run_engine(cuda, net, T, tc, mode, samples, o_gpu, g_gpu, c_gpu)) {
        const char *m = sbp_backward_name(mode);
        CHECK(max_abs(o_ref, samples * classes) > 0, "%s/%s: outputs are all zero", c->name, m);
        CHECK(max_abs(g_ref, np) > 0, "%s/%s: gradient is all zero", c->name, m);
        CHECK(max_abs(c_ref, n0) > 0, "%s/%s: layer 1 never spiked", c->name, m);
        CHECK(!memcmp(c_ref, c_gpu, n0 * sizeof(float)),
              "%s/%s tc=%d: layer 1 spike counts cuda vs reference differ", c->name, m, tc);
        double d = rel_diff(o_ref, o_gpu, samples * classes);
        CHECK(d <= TOL, "%s/%s tc=%d: outputs cuda vs reference differ by %.3g (relative)",
              c->name, m, tc, d);
        for (int l = 0; l < net->n_layers; l++) {
            const sbp_layer *L = &net->layers[l];
            const sbp_layer *G[2] = {L, L->sc};
            for (int k = 0; k < 2; k++) {
                if (!G[k] || !G[k]->w_count)
                    continue;
                d = rel_diff(g_ref + G[k]->w_offset, g_gpu + G[k]->w_offset, G[k]->w_count);
                CHECK(d <= TOL,
                      "%s/%s tc=%d: layer %d%s gradient cuda vs reference differs by %.3g",
                      c->name, m, tc, l + 1, k ? " shortcut" : "", d);
            }
        }
    }
    free(o_ref);
    free(o_gpu);
    free(g_ref);
    free(g_gpu);
    free(c_ref);
    free(c_gpu);
    sbp_net_free(net);
}

/* One SGD step and an evaluation through the public options with two workers. */
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
    const sbp_backend_id ids[2] = {SBP_BACKEND_REFERENCE, SBP_BACKEND_CUDA};
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
        o.threads = 2; /* cuda: two engines on two host threads' streams */
        o.backend = ids[b];
        sbp_net_spec_parse(&spec, "10x10x1-6C3-P2-12FC-4", &err);
        if (sbp_net_create(&net, &spec, 5, &err) != SBP_OK ||
            sbp_trainer_create(&tr, net, ds, &o, &err) != SBP_OK ||
            sbp_trainer_step(tr, &br, &err) != SBP_OK) {
            CHECK(0, "%s trainer: %s", sbp_backend_name(ids[b]), err.msg);
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
        eo.threads = 2;
        eo.backend = o.backend;
        CHECK(sbp_eval(net, ds, &eo, &ev[b], &err) == SBP_OK, "%s eval: %s",
              sbp_backend_name(ids[b]), err.msg);
        sbp_trainer_free(tr);
        sbp_net_free(net);
    }
    if (w[0] && w[1]) {
        double d = rel_diff(w[0], w[1], np);
        CHECK(d <= TOL, "weights after one SGD step: cuda vs reference differ by %.3g", d);
        CHECK(ev[0].correct == ev[1].correct, "evaluation: %zu vs %zu correct", ev[0].correct,
              ev[1].correct);
        CHECK_NEAR(ev[0].loss, ev[1].loss, 1e-4 * ev[0].loss, "evaluation loss");
    }
    free(w[0]);
    free(w[1]);
    sbp_dataset_free(ds);
}

/* The draws: the same input spikes and dropout masks as the reference, bit for bit, and the
 * spike bits unpacked again as the forward produced them. */
static void check_draws(const sbp_backend *cuda)
{
    sbp_error err = {0};
    sbp_net_spec spec;
    sbp_net *net = NULL;
    /* 3 channels of 7×9 = 189 pixels: not a multiple of 4 or 64 (the draws' tails) */
    if (sbp_net_spec_parse(&spec, "7x9x3-70C3-3", &err) != SBP_OK ||
        sbp_net_create(&net, &spec, 3, &err) != SBP_OK) {
        CHECK(0, "draws net: %s", err.msg);
        return;
    }
    sbp_layer *L0 = &net->layers[0];
    L0->spec.dropout = 0.3f;
    const size_t nin = L0->n_in, nout = L0->n_out;
    const int steps = 6, t0 = 4;
    uint8_t px[189];
    image(px, sizeof px, 9);
    const float mean[3] = {0.4f, 0.5f, 0.6f}, sd[3] = {0.25f, 0.3f, 0.2f};
    sbp_input in = {.pixels = px, .mean = mean, .std = sd, .gain = 1.3f,
                    .key = sbp_rng_key_make(21, SBP_RNG_ENCODE), .tag = 5, .sample = 77};
    const sbp_backend *be[2] = {&sbp_backend_reference, cuda};
    float *x[2], *m[2];
    for (int b = 0; b < 2; b++) {
        float *xval = be[b]->alloc(nin * sizeof(float));
        float *xb = be[b]->alloc((size_t)steps * nin * sizeof(float));
        float *mb = be[b]->alloc(nout * sizeof(float));
        x[b] = malloc((size_t)steps * nin * sizeof(float));
        m[b] = malloc(nout * sizeof(float));
        be[b]->encode_values(xval, &in, L0);
        be[b]->encode(xb, NULL, &in, xval, L0, t0, steps);
        be[b]->dropout_mask(mb, L0, 0, sbp_rng_key_make(21, SBP_RNG_DROPOUT), 2, 77);
        be[b]->read_output(x[b], xb, (size_t)steps * nin, 1.0f);
        be[b]->read_output(m[b], mb, nout, 1.0f);
        be[b]->release(xval);
        be[b]->release(xb);
        be[b]->release(mb);
    }
    size_t nz = 0;
    for (size_t i = 0; i < (size_t)steps * nin; i++)
        nz += x[0][i] != 0.0f;
    CHECK(nz > 0 && nz < (size_t)steps * nin, "encoded chunk has both spikes and silence (%zu)",
          nz);
    CHECK(!memcmp(x[0], x[1], (size_t)steps * nin * sizeof(float)),
          "input spikes: cuda and reference draw the same");
    CHECK(!memcmp(m[0], m[1], nout * sizeof(float)), "dropout masks: cuda and reference agree");
    for (int b = 0; b < 2; b++) {
        free(x[b]);
        free(m[b]);
    }

    /* spike bits: a forward over a layer of 70 neurons (two words, the second partial) and
     * unpack again; the unpacked rows equal the forward's output rows */
    sbp_neuron_state st = {0};
    const size_t words = sbp_spike_row_words(nout);
    st.v = cuda->alloc(nout * sizeof(float));
    st.count = cuda->alloc(nout * sizeof(float));
    st.bits = cuda->alloc((size_t)(t0 + steps) * words * sizeof(uint64_t));
    float *I = cuda->alloc((size_t)steps * nout * sizeof(float));
    float *y = cuda->alloc((size_t)steps * nout * sizeof(float));
    float *y2 = cuda->alloc((size_t)steps * nout * sizeof(float));
    float *hI = malloc((size_t)steps * nout * sizeof(float));
    float *hy = malloc((size_t)steps * nout * sizeof(float));
    float *hy2 = malloc((size_t)steps * nout * sizeof(float));
    uint64_t hb[64];
    for (size_t i = 0; i < (size_t)steps * nout; i++)
        hI[i] = (float)((i * 7919u) % 13u) * 0.11f;
    cuda->fill_rows(I, hI, 1.0f, (size_t)steps * nout, 1);
    cuda->neuron_reset(&st, L0);
    cuda->neuron_forward(y, I, &st, L0, t0, steps);
    cuda->spikes_unpack(y2, st.bits, NULL, nout, t0, steps);
    cuda->read_output(hy, y, (size_t)steps * nout, 1.0f);
    cuda->read_output(hy2, y2, (size_t)steps * nout, 1.0f);
    CHECK(!memcmp(hy, hy2, (size_t)steps * nout * sizeof(float)),
          "spike bits unpack to the forward's spikes");
    /* and sit where sbp_spike_bit says (read the raw words through a float view) */
    const size_t nw = (size_t)(t0 + steps) * words;
    if (nw <= 64) {
        cuda->read_output((float *)(void *)hb, (const float *)(const void *)st.bits, 2 * nw, 1.0f);
        int ok = 1;
        for (int t = 0; t < steps; t++)
            for (size_t i = 0; i < nout; i++)
                ok &= sbp_spike_get(hb, sbp_spike_bit(nout, t0 + t, i)) ==
                      (hy[(size_t)t * nout + i] != 0.0f);
        CHECK(ok, "spike bits at sbp_spike_bit's positions");
    }
    free(hI);
    free(hy);
    free(hy2);
    cuda->release(I);
    cuda->release(y);
    cuda->release(y2);
    cuda->release(st.v);
    cuda->release(st.count);
    cuda->release(st.bits);
    sbp_net_free(net);
}

/* SGD: the host arithmetic bit for bit, and a NaN gradient stops the step, naming its index. */
static void check_sgd(const sbp_backend *cuda)
{
    enum { N = 1000 };
    float w[N], g[N], wr[N], gr[N], out[N];
    for (int i = 0; i < N; i++) {
        w[i] = sinf((float)i) * 0.3f;
        g[i] = cosf((float)i * 0.7f) * 0.01f;
    }
    float *dw = cuda->alloc(sizeof w), *dg = cuda->alloc(sizeof g);
    cuda->fill_rows(dw, w, 1.0f, N, 1);
    cuda->fill_rows(dg, g, 1.0f, N, 1);
    memcpy(wr, w, sizeof w);
    memcpy(gr, g, sizeof g);
    CHECK(sbp_backend_reference.sgd(wr, gr, N, 0.1f, 5e-4f, 1) == -1, "host sgd");
    CHECK(cuda->sgd(dw, dg, N, 0.1f, 5e-4f, 1) == -1, "cuda sgd accepts finite values");
    cuda->read_output(out, dw, N, 1.0f);
    CHECK(!memcmp(out, wr, sizeof out), "cuda sgd: the host's bits");
    cuda->read_output(out, dg, N, 1.0f);
    CHECK(max_abs(out, N) == 0.0, "cuda sgd zeroes the gradient");
    g[123] = NAN;
    g[700] = INFINITY;
    cuda->fill_rows(dg, g, 1.0f, N, 1);
    cuda->read_output(wr, dw, N, 1.0f);
    CHECK(cuda->sgd(dw, dg, N, 0.1f, 5e-4f, 1) == 123, "cuda sgd names the first bad index");
    cuda->read_output(out, dw, N, 1.0f);
    CHECK(!memcmp(out, wr, sizeof out), "cuda sgd leaves the weights after a NaN");
    cuda->release(dw);
    cuda->release(dg);
}

static void check_table(const sbp_backend *be)
{
    CHECK(be->alloc && be->release && be->zero && be->copy && be->chunk_steps &&
              be->neuron_index && be->input_staging && be->shortcut_add &&
              be->shortcut_add_backward && be->neuron_reset && be->neuron_forward &&
              be->neuron_surrogate && be->neuron_backward && be->neuron_backward_aggregate &&
              be->spikes_unpack && be->encode_values && be->encode && be->spikes_keep8 &&
              be->spikes_load8 && be->dropout_mask && be->add && be->add_rows && be->fill_rows &&
              be->read_output && be->reduce && be->sgd,
          "cuda: an operation is missing");
    for (int k = 0; k < SBP_LAYER_KIND_COUNT; k++)
        CHECK(be->synapse[k].forward && be->synapse[k].backward && be->synapse[k].scratch,
              "cuda: synapse row %d is missing", k);
}

int main(void)
{
    sbp_error err = {0};
    const sbp_backend *cuda = sbp_backend_get(SBP_BACKEND_CUDA, &err);
    if (!cuda) {
        printf("SKIPPED: no CUDA device (%s)\n", err.msg);
        return 77;
    }
    check_table(cuda);
    check_draws(cuda);
    check_sgd(cuda);
    const int tcs[3] = {0, 1, 5};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int m = 0; m < SBP_BACKWARD_COUNT; m++)
            for (int k = 0; k < 3; k++)
                compare_engines(cuda, &cases[c], (sbp_backward)m, tcs[k]);
    compare_trainers();
    const char *golden[] = {"small", "lenetlike", "residual"};
    for (int c = 0; c < 3; c++)
        for (int m = 0; m < SBP_BACKWARD_COUNT; m++)
            for (int k = 0; k < 3; k++)
                golden_run_case(golden[c], cuda, tcs[k], (sbp_backward)m);
    return check_finish("test_cuda");
}
