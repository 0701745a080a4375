/*
 * test_analysis.c — the inference analysis of SPEC §8 (src/analysis): operation counts, spike
 * rates, silent and saturated fractions and accuracy by inference steps on a tiny network whose
 * every spike is known by hand; the dense MAC count of the paper's networks; fan-outs against a
 * brute-force count; agreement with sbp_eval (same input spikes, same predictions) and
 * independence of the thread count; the per-epoch training summary; spike rasters and membrane
 * traces against SPEC §7's numbers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "check.h"
#include "data/dataset.h"
#include "net/net.h"

#define T_TINY 10

/*
 * The tiny network: 4x4x1 – 2C3 (stride 1, padding 1) – P2 – 3FC – 2, T = 10.
 *
 * Input A: pixels (0,0) and (1,2) spike at every step, nothing else ever spikes.
 * Weights:
 *   conv filter 0: all nine taps 2.0 → an output spikes at every step iff its 3×3 window holds
 *     an input spike (I ≥ 2 > Vth, reset to 0 each step). (0,0) reaches outputs rows 0–1 ×
 *     cols 0–1, (1,2) reaches rows 0–2 × cols 1–3: 11 of 16 outputs spike 10 times; silent:
 *     (2,0), (3,0), (3,1), (3,2), (3,3).
 *   conv filter 1: centre tap 0.35, others 0 → outputs (0,0) and (1,2) get I = 0.35 per step and
 *     spike at t = 2, 5, 8 (SPEC §7): 3 spikes each; the 14 others are silent.
 *   conv layer: 32 neurons, 11·10 + 2·3 = 116 spikes, 5 + 14 = 19 silent, 11 saturated (≥ 9).
 *   pool (IF, θ = 0.75, no leak), channel 0: window (0,0) and (0,1) average 1 → spike every
 *     step (10 each); window (1,0) holds one spiking input (2,1) → 0.25 per step → U = 0.25,
 *     0.5, 0.75 (not > 0.75), 1.0: spikes at t = 3, 7 (2); window (1,1) holds (2,2), (2,3) → 0.5
 *     per step → spikes at t = 1, 3, 5, 7, 9 (5). Channel 1: windows (0,0) and (0,1) each get
 *     0.25 at t = 2, 5, 8 → U reaches 0.75 only → silent; the others get nothing.
 *   pool layer: 8 neurons, 27 spikes, 4 silent, 2 saturated.
 *   dense: neuron 0 weight 2.0 from input 0 (pool ch 0 window (0,0), every step) → 10 spikes;
 *     neuron 1 weight 0.35 from input 0 → t = 2, 5, 8 (3 spikes); neuron 2 all zeros → silent.
 *     13 spikes, 1 silent, 1 saturated.
 *   output: class 0 weight 1.0 from dense neuron 1, class 1 weight 0.1 from dense neuron 0.
 *
 * Accumulates per image (one per input spike per synapse that reaches a real output):
 *   layer 1 (conv): fan-out of input (y, x) = 2 channels × taps(y) × taps(x), taps = 2 at the
 *     border rows/cols, 3 inside (corner 4, edge 6, interior 9 per channel): (0,0) → 8,
 *     (1,2) → 18. 10 steps × (8 + 18) = 260.
 *   layer 2 (pool): one per input spike, all 16 positions are in a window: 116.
 *   layer 3 (dense): 27 input spikes × 3 outputs = 81.
 *   layer 4 (output): 13 input spikes × 2 outputs = 26.        total 483.
 * Dense MACs per step: conv 32·9 = 288, pool 0, dense 3·8 = 24, output 2·3 = 6 → 318.
 *
 * Output membranes (λ = 0.99): class 1 gets 0.1 per step, class 0 gets 1.0 at t = 2, 5, 8:
 *   M[0] = (0, 0.099), M[1] = (0, 0.19701), M[2] = (0.99, 0.29405) … class 0 leads from t = 2
 *   on. Prediction after t+1 steps (argmax M[t]): 1, 1, 0, 0, 0, 0, 0, 0, 0, 0.
 * Input B: no input spikes: everything is silent, M = 0, prediction class 0 (ties → lowest).
 */
static const int spike_pix[2][2] = {{0, 0}, {1, 2}};

static sbp_net *tiny_net(void)
{
    sbp_net_spec spec;
    sbp_net *net = NULL;
    sbp_error err = {0};
    if (sbp_net_spec_parse(&spec, "4x4x1-2C3-P2-3FC-2", &err) != SBP_OK ||
        sbp_net_create(&net, &spec, 1, &err) != SBP_OK) {
        fprintf(stderr, "tiny net: %s\n", err.msg);
        return NULL;
    }
    size_t n;
    float *w = sbp_net_layer_weights(net, 0, &n); /* (2, 1, 3, 3) */
    for (size_t i = 0; i < n; i++)
        w[i] = i < 9 ? 2.0f : (i == 9 + 4 ? 0.35f : 0.0f);
    w = sbp_net_layer_weights(net, 2, &n); /* (3, 8) */
    memset(w, 0, n * sizeof *w);
    w[0 * 8 + 0] = 2.0f;
    w[1 * 8 + 0] = 0.35f;
    w = sbp_net_layer_weights(net, 3, &n); /* (2, 3) */
    memset(w, 0, n * sizeof *w);
    w[0 * 3 + 1] = 1.0f;
    w[1 * 3 + 0] = 0.1f;
    return net;
}

/* Input A as a given spike train (T, 1, 4, 4). */
static void spikes_a(float *x)
{
    memset(x, 0, sizeof(float) * T_TINY * 16);
    for (int t = 0; t < T_TINY; t++)
        for (int k = 0; k < 2; k++)
            x[t * 16 + spike_pix[k][0] * 4 + spike_pix[k][1]] = 1.0f;
}

/* Checks the hand counts of input A (scaled by `a`) and B (scaled by `b`) in act. */
static void check_tiny_counts(const sbp_activity *act, uint64_t a, uint64_t b, const char *what)
{
    const uint64_t im = a + b;
    CHECK(act->images == im, "%s: images %llu, expected %llu", what,
          (unsigned long long)act->images, (unsigned long long)im);
    struct {
        uint64_t spikes, silent, sat, in, acs;
    } want[4] = {{116, 19, 11, 20, 260}, {27, 4, 2, 116, 116}, {13, 1, 1, 27, 81},
                 {0, 0, 0, 13, 26}};
    const uint64_t neurons[4] = {32, 8, 3, 2};
    for (int l = 0; l < 4; l++) {
        const sbp_activity_count *c = &act->layer[l];
        CHECK(c->spikes == a * want[l].spikes, "%s: layer %d spikes %llu, expected %llu", what,
              l + 1, (unsigned long long)c->spikes, (unsigned long long)(a * want[l].spikes));
        if (l < 3) {
            uint64_t silent = a * want[l].silent + b * neurons[l];
            CHECK(c->silent == silent, "%s: layer %d silent %llu, expected %llu", what, l + 1,
                  (unsigned long long)c->silent, (unsigned long long)silent);
        }
        CHECK(c->saturated == a * want[l].sat, "%s: layer %d saturated %llu, expected %llu", what,
              l + 1, (unsigned long long)c->saturated, (unsigned long long)(a * want[l].sat));
        CHECK(c->in_spikes == a * want[l].in, "%s: layer %d input spikes %llu, expected %llu",
              what, l + 1, (unsigned long long)c->in_spikes,
              (unsigned long long)(a * want[l].in));
        CHECK(c->acs == a * want[l].acs, "%s: layer %d accumulates %llu, expected %llu", what,
              l + 1, (unsigned long long)c->acs, (unsigned long long)(a * want[l].acs));
        CHECK(c->acs_sc == 0, "%s: layer %d has no shortcut", what, l + 1);
    }
    CHECK(act->input.spikes == a * 20 && act->input.silent == a * 14 + b * 16 &&
              act->input.saturated == a * 2,
          "%s: input spikes/silent/saturated %llu/%llu/%llu", what,
          (unsigned long long)act->input.spikes, (unsigned long long)act->input.silent,
          (unsigned long long)act->input.saturated);
}

static void tiny_given_spikes(void)
{
    sbp_net *net = tiny_net();
    sbp_probe p;
    sbp_error err = {0};
    if (!net || sbp_probe_init(&p, net, T_TINY, &err) != SBP_OK) {
        CHECK(0, "tiny probe: %s", err.msg);
        sbp_net_free(net);
        return;
    }
    float xa[T_TINY * 16], xb[T_TINY * 16] = {0};
    spikes_a(xa);
    sbp_input in = {0};
    in.spikes = xa;
    sbp_activity act;
    sbp_activity_init(&act, net, T_TINY);
    uint64_t cbs[T_TINY] = {0}, conf[4] = {0};
    int pred = -1;
    sbp_probe_image(&p, &in, 0, &act, cbs, conf, &pred);
    check_tiny_counts(&act, 1, 0, "given spikes, image A");
    const uint64_t want_a[T_TINY] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int t = 0; t < T_TINY; t++)
        CHECK(cbs[t] == want_a[t], "image A: correct after %d steps %llu, expected %llu", t + 1,
              (unsigned long long)cbs[t], (unsigned long long)want_a[t]);
    CHECK(pred == 0 && conf[0] == 1 && conf[1] + conf[2] + conf[3] == 0,
          "image A: prediction %d, confusion %llu %llu %llu %llu", pred,
          (unsigned long long)conf[0], (unsigned long long)conf[1], (unsigned long long)conf[2],
          (unsigned long long)conf[3]);
    CHECK_NEAR(p.hist[1 * 2 + 1], 0.19701, 1e-6, "M[1] of class 1");
    CHECK_NEAR(p.hist[2 * 2 + 0], 0.99, 1e-6, "M[2] of class 0");

    in.spikes = xb; /* image B, label 1: never correct, predicted 0 */
    sbp_probe_image(&p, &in, 1, &act, cbs, conf, &pred);
    check_tiny_counts(&act, 1, 1, "given spikes, images A + B");
    for (int t = 0; t < T_TINY; t++)
        CHECK(cbs[t] == want_a[t], "A + B: correct after %d steps", t + 1);
    CHECK(pred == 0 && conf[2] == 1, "image B: prediction %d, confusion[1][0] %llu", pred,
          (unsigned long long)conf[2]);

    /* Derived figures: rates, fractions, per-image operations, energy. */
    sbp_analysis_figures f;
    sbp_analysis_figures_of(net, &act, 4.6, 0.9, &f);
    CHECK_NEAR(f.layer[0].rate, 116.0 / (32 * 10 * 2), 1e-12, "conv rate over A + B");
    CHECK_NEAR(f.layer[0].silent, (19.0 + 32.0) / 64.0, 1e-12, "conv silent fraction");
    CHECK_NEAR(f.layer[0].saturated, 11.0 / 64.0, 1e-12, "conv saturated fraction");
    CHECK_NEAR(f.layer[1].rate, 27.0 / (8 * 10 * 2), 1e-12, "pool rate");
    CHECK_NEAR(f.layer[2].rate, 13.0 / (3 * 10 * 2), 1e-12, "dense rate");
    CHECK(isnan(f.layer[3].rate) && !f.layer[3].spiking, "output layer has no rate");
    CHECK_NEAR(f.input.rate, 20.0 / (16 * 10 * 2), 1e-12, "input rate");
    CHECK_NEAR(f.acs, 483.0 / 2, 1e-9, "accumulates per image");
    CHECK_NEAR(f.acs_pool, 116.0 / 2, 1e-9, "pooling accumulates per image");
    CHECK_NEAR(f.macs_step, 318, 0, "dense MACs per step");
    CHECK_NEAR(f.macs_window, 3180, 0, "dense MACs over the window");
    CHECK_NEAR(f.layer[0].density, 130.0 / 2880.0, 1e-12, "conv density");
    CHECK_NEAR(f.ann_energy_uj, 318 * 4.6e-6, 1e-12, "ANN energy");
    CHECK_NEAR(f.snn_energy_uj, 241.5 * 0.9e-6, 1e-12, "SNN energy");
    CHECK(!strcmp(f.layer[0].name, "2C3") && !strcmp(f.layer[1].name, "P2") &&
              !strcmp(f.layer[2].name, "3FC") && !strcmp(f.layer[3].name, "2 out"),
          "layer names %s %s %s %s", f.layer[0].name, f.layer[1].name, f.layer[2].name,
          f.layer[3].name);
    sbp_probe_free(&p);
    sbp_net_free(net);
}

/* The same images as data sets: 0/255 pixels with gain 1 spike deterministically (|x| = 1
 * always beats r ∈ [0, 1), 0 never does); signed (pixel 0 → −1 spikes) and pre-encoded int8. */
static void tiny_datasets(void)
{
    sbp_net *net = tiny_net();
    sbp_dataset *ds = NULL;
    sbp_error err = {0};
    if (!net || sbp_dataset_alloc(&ds, 2, 1, 4, 4, 2, &err) != SBP_OK) {
        CHECK(0, "tiny data: %s", err.msg);
        sbp_net_free(net);
        return;
    }
    for (int k = 0; k < 2; k++)
        ds->pixels[spike_pix[k][0] * 4 + spike_pix[k][1]] = 255; /* image 0 = A; 1 = B */
    ds->labels[0] = 0;
    ds->labels[1] = 1;
    sbp_analysis_opts o;
    sbp_analysis_opts_default(&o);
    o.timesteps = T_TINY;
    sbp_activity act;
    uint64_t cbs[T_TINY], conf[4];
    CHECK(sbp_analysis_run(net, ds, &o, &act, cbs, conf, &err) == SBP_OK, "run: %s", err.msg);
    check_tiny_counts(&act, 1, 1, "rate-encoded 0/255 pixels");
    CHECK(cbs[0] == 0 && cbs[1] == 0 && cbs[2] == 1 && cbs[T_TINY - 1] == 1,
          "data set: correct by steps %llu %llu %llu … %llu", (unsigned long long)cbs[0],
          (unsigned long long)cbs[1], (unsigned long long)cbs[2],
          (unsigned long long)cbs[T_TINY - 1]);
    CHECK(conf[0] == 1 && conf[1] == 0 && conf[2] == 1 && conf[3] == 0, "data set: confusion");

    /* sbp_eval agrees with the last step. */
    sbp_eval_opts eo;
    sbp_eval_opts_default(&eo);
    eo.timesteps = T_TINY;
    sbp_eval_result er;
    CHECK(sbp_eval(net, ds, &eo, &er, &err) == SBP_OK && er.correct == cbs[T_TINY - 1],
          "sbp_eval correct %zu, analysis after T steps %llu", er.correct,
          (unsigned long long)cbs[T_TINY - 1]);

    /* The public sbp_spike_stats reports these very counts (per image): the tiny net's
     * hand-derived activity above, through the figures. */
    {
        sbp_layer_stats st[1 + SBP_MAX_LAYERS];
        sbp_analysis_figures f;
        sbp_analysis_figures_of(net, &act, 4.6, 0.9, &f);
        CHECK(sbp_spike_stats(net, ds, &eo, 0, st, &err) == SBP_OK, "stats: %s", err.msg);
        CHECK(!strcmp(st[0].name, "input") && st[0].neurons == f.input.neurons &&
                  st[0].rate == f.input.rate && st[0].silent == f.input.silent,
              "stats: input %s %g vs %g", st[0].name, st[0].rate, f.input.rate);
        for (int l = 0; l < net->n_layers; l++)
            CHECK(!strcmp(st[1 + l].name, f.layer[l].name) &&
                      st[1 + l].neurons == f.layer[l].neurons &&
                      st[1 + l].spiking == f.layer[l].spiking &&
                      (st[1 + l].rate == f.layer[l].rate ||
                       (isnan(st[1 + l].rate) && isnan(f.layer[l].rate))) &&
                      st[1 + l].acs == f.layer[l].acs &&
                      st[1 + l].macs_step == f.layer[l].macs_step,
                  "stats: layer %d (%s) rate %g vs %g", l, st[1 + l].name, st[1 + l].rate,
                  f.layer[l].rate);
        eo.timesteps = 0;
        CHECK(sbp_spike_stats(net, ds, &eo, 0, st, &err) == SBP_ERR_INVALID_ARG, "T = 0");
        eo.timesteps = T_TINY;
    }

    /* --images 1: only image A. */
    o.images = 1;
    CHECK(sbp_analysis_run(net, ds, &o, &act, NULL, NULL, &err) == SBP_OK, "run: %s", err.msg);
    check_tiny_counts(&act, 1, 0, "first image only");
    o.images = 0;

    /* Signed encoding: mean 1 → pixel 255 gives x = 0 (no spike), pixel 0 gives −1 spikes at
     * every step. Inverting image A's pixels puts −1 spikes where A had +1: the input spikes
     * and layer 1's accumulates are A's (counted as |x|), the negative current silences the
     * rest. */
    for (int i = 0; i < 16; i++)
        ds->pixels[i] = (uint8_t)(255 - ds->pixels[i]);
    memset(ds->pixels + 16, 255, 16);
    float mean = 1.0f, sd = 1.0f;
    sbp_dataset_set_encoding(ds, &mean, &sd, 1.0f, &err);
    CHECK(sbp_analysis_run(net, ds, &o, &act, NULL, NULL, &err) == SBP_OK, "run: %s", err.msg);
    CHECK(act.input.spikes == 20 && act.layer[0].in_spikes == 20 && act.layer[0].acs == 260,
          "signed input: spikes %llu, layer 1 accumulates %llu (expected 20, 260)",
          (unsigned long long)act.input.spikes, (unsigned long long)act.layer[0].acs);
    CHECK(act.layer[0].spikes == 0 && act.layer[1].acs == 0, "signed input silences the net");

    /* Pre-encoded int8 spike trains (timesteps = T). */
    free(ds->pixels);
    ds->pixels = NULL;
    ds->timesteps = T_TINY;
    ds->spikes = calloc(2 * T_TINY * 16, 1);
    if (ds->spikes) {
        for (int t = 0; t < T_TINY; t++)
            for (int k = 0; k < 2; k++)
                ds->spikes[t * 16 + spike_pix[k][0] * 4 + spike_pix[k][1]] = 1;
        CHECK(sbp_analysis_run(net, ds, &o, &act, cbs, NULL, &err) == SBP_OK, "run: %s",
              err.msg);
        check_tiny_counts(&act, 1, 1, "pre-encoded int8 spikes");
        o.timesteps = T_TINY + 1;
        CHECK(sbp_analysis_run(net, ds, &o, &act, NULL, NULL, &err) == SBP_ERR_SHAPE,
              "pre-encoded spikes of 10 steps refuse T = 11");
    }
    sbp_dataset_free(ds);

    /* A data set of another shape is refused with a message. */
    ds = NULL;
    if (sbp_dataset_alloc(&ds, 1, 1, 5, 5, 2, &err) == SBP_OK) {
        o.timesteps = T_TINY;
        sbp_error e2 = {0};
        CHECK(sbp_analysis_run(net, ds, &o, &act, NULL, NULL, &e2) == SBP_ERR_SHAPE &&
                  strstr(e2.msg, "5x5x1"),
              "a 5x5 data set: '%s'", e2.msg);
    }
    sbp_dataset_free(ds);
    sbp_net_free(net);
}

/* Fan-outs against a brute-force count over every (c_out, oy, ox, ky, kx). */
static void fanout_brute_force(void)
{
    const int geo[][5] = {/* in_h, in_w, k, stride, pad */
                          {4, 4, 3, 1, 1}, {7, 5, 3, 2, 1}, {6, 6, 5, 1, 2}, {9, 8, 3, 2, 0},
                          {8, 8, 1, 2, 0}, {5, 7, 4, 3, 2}};
    for (size_t g = 0; g < sizeof geo / sizeof geo[0]; g++) {
        sbp_layer L;
        memset(&L, 0, sizeof L);
        L.spec.kind = SBP_LAYER_CONV;
        L.spec.kernel = geo[g][2];
        L.spec.stride = geo[g][3];
        L.spec.pad = geo[g][4];
        L.in_c = 2;
        L.in_h = geo[g][0];
        L.in_w = geo[g][1];
        L.out_c = 3;
        L.out_h = (L.in_h + 2 * L.spec.pad - L.spec.kernel) / L.spec.stride + 1;
        L.out_w = (L.in_w + 2 * L.spec.pad - L.spec.kernel) / L.spec.stride + 1;
        L.n_in = (size_t)L.in_c * L.in_h * L.in_w;
        int bad = 0;
        uint64_t total = 0;
        for (size_t i = 0; i < L.n_in; i++) {
            int y = (int)(i % (size_t)(L.in_h * L.in_w)) / L.in_w;
            int x = (int)(i % (size_t)(L.in_h * L.in_w)) % L.in_w;
            uint32_t n = 0;
            for (int co = 0; co < L.out_c; co++)
                for (int oy = 0; oy < L.out_h; oy++)
                    for (int ox = 0; ox < L.out_w; ox++)
                        for (int ky = 0; ky < L.spec.kernel; ky++)
                            for (int kx = 0; kx < L.spec.kernel; kx++)
                                n += oy * L.spec.stride - L.spec.pad + ky == y &&
                                     ox * L.spec.stride - L.spec.pad + kx == x;
            bad += sbp_analysis_fanout(&L, 0, i) != n;
            total += n;
        }
        CHECK(!bad, "conv %dx%d k%d s%d p%d: %d fan-outs differ from the brute-force count",
              L.in_h, L.in_w, L.spec.kernel, L.spec.stride, L.spec.pad, bad);
        if (L.spec.pad == 0 && (L.in_h - L.spec.kernel) % L.spec.stride == 0 &&
            (L.in_w - L.spec.kernel) % L.spec.stride == 0)
            CHECK(total == (uint64_t)L.out_c * L.out_h * L.out_w * L.spec.kernel * L.spec.kernel *
                               L.in_c,
                  "without padding the fan-outs sum to neurons × fan_in");
    }
    /* The 4/6/9 of a 3×3 kernel with padding 1 on 4×4, per output channel. */
    sbp_net *net = tiny_net();
    if (net) {
        const sbp_layer *L = &net->layers[0];
        CHECK(sbp_analysis_fanout(L, 0, 0) == 8 && sbp_analysis_fanout(L, 0, 1) == 12 &&
                  sbp_analysis_fanout(L, 0, 5) == 18,
              "corner/edge/interior fan-outs %u %u %u, expected 8 12 18 (2 channels × 4/6/9)",
              sbp_analysis_fanout(L, 0, 0), sbp_analysis_fanout(L, 0, 1),
              sbp_analysis_fanout(L, 0, 5));
    }
    sbp_net_free(net);
    /* Pooling of an odd map: the last row and column fall in no window. */
    sbp_layer P;
    memset(&P, 0, sizeof P);
    P.spec.kind = SBP_LAYER_POOL;
    P.in_c = P.out_c = 1;
    P.in_h = P.in_w = 5;
    P.out_h = P.out_w = 2;
    CHECK(sbp_analysis_fanout(&P, 0, 0) == 1 && sbp_analysis_fanout(&P, 0, 3) == 1 &&
              sbp_analysis_fanout(&P, 0, 4) == 0 && sbp_analysis_fanout(&P, 0, 20) == 0,
          "pooling fan-outs of a 5x5 map");
}

/* SPEC §8's dense MACs per image per step; ResNet11's include its 1×1 conv shortcuts. Only the
 * geometry is resolved (no weights: ResNet11 has 18 M). */
static void dense_macs(void)
{
    const struct {
        const char *name;
        uint64_t macs;
    } nets[] = {{"lenet", 5784000ull}, {"vgg9", 194717696ull}, {"resnet11", 607856640ull}};
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        sbp_net_spec spec;
        sbp_error err = {0};
        sbp_net *net = calloc(1, sizeof *net);
        if (!net || sbp_net_spec_builtin(&spec, nets[i].name, &err) != SBP_OK ||
            sbp_net_resolve(net->layers, net->shortcuts, &net->n_params, &spec, &err) !=
                SBP_OK) {
            CHECK(0, "%s: %s", nets[i].name, err.msg);
            free(net);
            continue;
        }
        net->spec = spec;
        net->n_layers = spec.n_layers;
        uint64_t m = sbp_analysis_dense_macs(net);
        CHECK(m == nets[i].macs, "%s: dense MACs per step %llu, SPEC §8 %llu", nets[i].name,
              (unsigned long long)m, (unsigned long long)nets[i].macs);
        free(net);
    }
}

/* Residual shortcuts: a 1×1 conv shortcut from the input (fan-out = its 2 output channels) and
 * an identity shortcut (one accumulate per spike of the block input). */
static void shortcuts(void)
{
    for (int kind = 0; kind < 2; kind++) {
        sbp_net_spec spec;
        sbp_net *net = NULL;
        sbp_error err = {0};
        sbp_net_spec_parse(&spec, "4x4x1-2C3-2C3-2", &err);
        spec.layers[1].shortcut = kind ? SBP_SHORTCUT_IDENTITY : SBP_SHORTCUT_CONV;
        spec.layers[1].shortcut_from = kind ? 0 : -1;
        sbp_probe p;
        if (sbp_net_create(&net, &spec, 5, &err) != SBP_OK) {
            CHECK(0, "shortcut net %d: %s", kind, err.msg);
            continue;
        }
        size_t nw;
        float *w = sbp_net_layer_weights(net, 0, &nw);
        for (size_t i = 0; i < nw; i++)
            w[i] = i < 9 ? 2.0f : (i == 9 + 4 ? 0.35f : 0.0f); /* layer 1 as in tiny_net */
        if (sbp_probe_init(&p, net, T_TINY, &err) != SBP_OK) {
            CHECK(0, "shortcut probe %d: %s", kind, err.msg);
            sbp_net_free(net);
            continue;
        }
        float xa[T_TINY * 16];
        spikes_a(xa);
        sbp_input in = {0};
        in.spikes = xa;
        sbp_activity act;
        sbp_activity_init(&act, net, T_TINY);
        sbp_probe_image(&p, &in, 0, &act, NULL, NULL, NULL);
        const uint64_t want = kind ? 116 : 2 * 20;
        CHECK(act.layer[1].acs_sc == want && act.layer[0].acs_sc == 0,
              "%s shortcut: %llu accumulates, expected %llu", kind ? "identity" : "conv",
              (unsigned long long)act.layer[1].acs_sc, (unsigned long long)want);
        const uint64_t macs = 32 * 18 + (kind ? 0 : 32 * 1);
        CHECK(sbp_analysis_layer_macs(net, 1) == macs, "%s shortcut: layer MACs %llu, want %llu",
              kind ? "identity" : "conv", (unsigned long long)sbp_analysis_layer_macs(net, 1),
              (unsigned long long)macs);
        sbp_analysis_figures f;
        sbp_analysis_figures_of(net, &act, 4.6, 0.9, &f);
        CHECK_NEAR(f.acs_pool, kind ? 116.0 : 0.0, 0, "parameter-free shortcut accumulates");
        CHECK_NEAR(f.layer[1].acs, (double)(act.layer[1].acs + want), 0, "layer 2 accumulates");
        sbp_probe_free(&p);
        sbp_net_free(net);
    }
}

/* A random net on random images: the analysis feeds the engine the spikes sbp_eval's engine
 * draws (bit-identical outputs and counts), agrees with sbp_eval's accuracy, and gives the same
 * counts with 1 and 2 threads. Both an unsigned (MNIST) and a signed (CIFAR-like) encoding. */
static void agrees_with_eval(void)
{
    sbp_net_spec spec;
    sbp_net *net = NULL;
    sbp_dataset *ds = NULL;
    sbp_error err = {0};
    if (sbp_net_spec_parse(&spec, "6x6x2-6C3-P2-8FC-3", &err) != SBP_OK ||
        sbp_net_create(&net, &spec, 7, &err) != SBP_OK ||
        sbp_dataset_alloc(&ds, 24, 2, 6, 6, 3, &err) != SBP_OK) {
        CHECK(0, "random net: %s", err.msg);
        sbp_net_free(net);
        return;
    }
    size_t nw;
    float *w = sbp_net_layer_weights(net, 0, &nw);
    for (size_t i = 0; i < nw; i++)
        w[i] *= 3.0f; /* more spikes deeper in */
    uint32_t s = 12345;
    for (size_t i = 0; i < 24 * 72; i++) {
        s = s * 1664525u + 1013904223u;
        ds->pixels[i] = (uint8_t)(s >> 24);
    }
    for (size_t i = 0; i < 24; i++)
        ds->labels[i] = (uint8_t)(i % 3);
    const int T = 16;
    for (int enc = 0; enc < 2; enc++) {
        float mean[2] = {0.0f, 0.0f}, sd[2] = {1.0f, 1.0f}, gain = 0.5f;
        if (enc) {
            mean[0] = 0.45f, mean[1] = 0.55f, sd[0] = 0.3f, sd[1] = 0.25f, gain = 1.0f;
        }
        sbp_dataset_set_encoding(ds, mean, sd, gain, &err);
        /* Engine fed with pixels (the evaluation path) vs fed with the analysis encoder. */
        sbp_engine e1, e2;
        sbp_engine_init(&e1, net, T, &sbp_backend_cpu, 0, SBP_BACKWARD_EXACT, 0, &err);
        sbp_engine_init(&e2, net, T, &sbp_backend_cpu, 0, SBP_BACKWARD_EXACT, 0, &err);
        sbp_engine_set_weights(&e1, net->params);
        sbp_engine_set_weights(&e2, net->params);
        float *x = malloc(sizeof(float) * T * 72);
        int same = 1, negative = 0;
        for (size_t i = 0; i < 24 && x; i++) {
            sbp_input in, given = {0};
            sbp_analysis_input(&in, ds, i, 1);
            sbp_analysis_encode(x, &in, T, 2, 36);
            for (int j = 0; j < T * 72; j++)
                negative += x[j] < 0.0f;
            given.spikes = x;
            float o1[3], o2[3];
            sbp_engine_forward(&e1, &in, o1);
            sbp_engine_forward(&e2, &given, o2);
            same &= !memcmp(o1, o2, sizeof o1);
            for (int l = 0; l < net->n_layers - 1; l++)
                same &= !memcmp(e1.st[l].count, e2.st[l].count,
                                sizeof(float) * net->layers[l].n_out);
        }
        CHECK(same, "encoding %d: the analysis encoder differs from the engine's", enc);
        CHECK(enc ? negative > 0 : negative == 0, "encoding %d: %d negative spikes", enc,
              negative);
        free(x);
        sbp_engine_release(&e1);
        sbp_engine_release(&e2);

        sbp_analysis_opts o;
        sbp_analysis_opts_default(&o);
        o.timesteps = T;
        sbp_activity a1, a2;
        uint64_t c1[16], c2[16], f1[9], f2[9];
        o.threads = 1;
        sbp_analysis_run(net, ds, &o, &a1, c1, f1, &err);
        o.threads = 2;
        sbp_analysis_run(net, ds, &o, &a2, c2, f2, &err);
        CHECK(!memcmp(&a1, &a2, sizeof a1) && !memcmp(c1, c2, sizeof c1) &&
                  !memcmp(f1, f2, sizeof f1),
              "encoding %d: 1 and 2 threads give different counts", enc);
        CHECK(a1.layer[0].spikes > 0 && a1.layer[2].spikes > 0,
              "encoding %d: the random net spikes (%llu, %llu)", enc,
              (unsigned long long)a1.layer[0].spikes, (unsigned long long)a1.layer[2].spikes);
        sbp_eval_opts eo;
        sbp_eval_opts_default(&eo);
        eo.timesteps = T;
        sbp_eval_result er;
        sbp_eval(net, ds, &eo, &er, &err);
        uint64_t diag = f1[0] + f1[4] + f1[8];
        CHECK(er.correct == c1[T - 1] && diag == c1[T - 1],
              "encoding %d: sbp_eval correct %zu, analysis %llu, confusion diagonal %llu", enc,
              er.correct, (unsigned long long)c1[T - 1], (unsigned long long)diag);
    }
    sbp_dataset_free(ds);
    sbp_net_free(net);
}

static void training_summary(void)
{
    sbp_net *net = tiny_net();
    sbp_dataset *ds = NULL;
    sbp_error err = {0};
    if (!net || sbp_dataset_alloc(&ds, 2, 1, 4, 4, 2, &err) != SBP_OK) {
        CHECK(0, "summary: %s", err.msg);
        sbp_net_free(net);
        return;
    }
    for (int k = 0; k < 2; k++)
        ds->pixels[spike_pix[k][0] * 4 + spike_pix[k][1]] = 255; /* image 0 = A, 1 = B */
    double r[4];
    CHECK(sbp_analysis_spike_rates(net, ds, T_TINY, 1, 1, r, &err) == SBP_OK, "rates: %s",
          err.msg);
    CHECK_NEAR(r[0], 116.0 / 320, 1e-12, "conv rate of image A");
    CHECK_NEAR(r[1], 27.0 / 80, 1e-12, "pool rate of image A");
    CHECK_NEAR(r[2], 13.0 / 30, 1e-12, "dense rate of image A");
    CHECK(isnan(r[3]), "the output layer has no rate");
    char buf[1024];
    int nw = sbp_analysis_format_rates(net, r, buf, sizeof buf);
    CHECK(nw == 0 && strstr(buf, "1:2C3 36.25 %") && strstr(buf, "2:P2 33.75 %") &&
              !strstr(buf, "warning") && !strstr(buf, "out"),
          "summary of image A: '%s'", buf);

    /* Image B alone: every layer silent — a warning per layer, naming it. */
    sbp_dataset *b = NULL;
    sbp_dataset_slice(&b, ds, 1, 1, &err);
    CHECK(b && sbp_analysis_spike_rates(net, b, T_TINY, 64, 1, r, &err) == SBP_OK, "rates B");
    nw = sbp_analysis_format_rates(net, r, buf, sizeof buf);
    CHECK(nw == 3 && strstr(buf, "warning: layer 1 (2C3) is silent") &&
              strstr(buf, "warning: layer 3 (3FC) is silent"),
          "summary of image B: %d warnings, '%s'", nw, buf);
    sbp_dataset_free(b);

    const double rs[4] = {0.95, 0.5, 0.0005, NAN};
    nw = sbp_analysis_format_rates(net, rs, buf, sizeof buf);
    CHECK(nw == 2 && strstr(buf, "layer 1 (2C3) is saturated: 95.0 %") &&
              strstr(buf, "layer 3 (3FC) is silent: 0.050 %") && !strstr(buf, "layer 2 (P2) is"),
          "saturated and silent: '%s'", buf);
    char small[16];
    sbp_analysis_format_rates(net, rs, small, sizeof small);
    CHECK(strlen(small) == sizeof small - 1, "a small buffer is filled and terminated");
    sbp_dataset_free(ds);
    sbp_net_free(net);
}

static void traces(void)
{
    sbp_net *net = tiny_net();
    if (!net)
        return;
    sbp_error err = {0};
    float xa[T_TINY * 16];
    spikes_a(xa);
    sbp_input in = {0};
    in.spikes = xa;
    /* Layer 1: neuron 0 (filter 0 at (0,0)) every step; neuron 16 (filter 1 at (0,0)) at
     * t = 2, 5, 8 with SPEC §7's membrane 0.3465, 0.689535, 0, …; neuron 31 never. */
    uint8_t raster[T_TINY * 32];
    const size_t watch[3] = {16, 0, 31};
    float mem[T_TINY * 3];
    CHECK(sbp_analysis_trace(net, &in, T_TINY, 0, raster, watch, 3, mem, 2, &err) == SBP_OK,
          "trace: %s", err.msg);
    const double V[3] = {0.3465, 0.689535, 0.0};
    int ok = 1;
    for (int t = 0; t < T_TINY; t++) {
        ok &= raster[t * 32 + 0] == 1 && raster[t * 32 + 31] == 0;
        ok &= raster[t * 32 + 16] == (t % 3 == 2);
        ok &= fabs(mem[t * 3 + 0] - V[t % 3]) < 1e-6 && mem[t * 3 + 1] == 0.0f &&
              mem[t * 3 + 2] == 0.0f;
    }
    CHECK(ok, "layer 1 raster and membranes of neurons 16, 0, 31");
    /* Pooling: channel 0 window (1,0) = neuron 2 spikes at t = 3, 7; membrane 0.25, 0.5, 0.75,
     * 0, … */
    uint8_t rp[T_TINY * 8];
    const size_t w2 = 2;
    float mp[T_TINY];
    CHECK(sbp_analysis_trace(net, &in, T_TINY, 1, rp, &w2, 1, mp, 1, &err) == SBP_OK, "pool");
    ok = 1;
    for (int t = 0; t < T_TINY; t++) {
        ok &= rp[t * 8 + 2] == (t == 3 || t == 7);
        ok &= mp[t] == 0.25f * (float)((t % 4) + 1) * (t % 4 != 3);
    }
    CHECK(ok, "pool neuron 2 raster and membrane");
    /* Output layer: M[t] of both classes, no raster. */
    const size_t wo[2] = {0, 1};
    float mo[T_TINY * 2];
    uint8_t ro[T_TINY * 2];
    CHECK(sbp_analysis_trace(net, &in, T_TINY, 3, ro, wo, 2, mo, 0, &err) == SBP_OK, "output");
    CHECK_NEAR(mo[1 * 2 + 1], 0.19701, 1e-6, "output trace M[1] of class 1");
    CHECK_NEAR(mo[2 * 2 + 0], 0.99, 1e-6, "output trace M[2] of class 0");
    CHECK(ro[5] == 0, "the output layer never spikes");
    /* Errors. */
    sbp_error e2 = {0};
    CHECK(sbp_analysis_trace(net, &in, T_TINY, 4, raster, NULL, 0, NULL, 1, &e2) ==
                  SBP_ERR_INVALID_ARG &&
              strstr(e2.msg, "layer 5"),
          "trace of a missing layer: '%s'", e2.msg);
    const size_t bad = 32;
    CHECK(sbp_analysis_trace(net, &in, T_TINY, 0, NULL, &bad, 1, mem, 1, &e2) ==
              SBP_ERR_INVALID_ARG,
          "trace of a missing neuron");
    sbp_net_free(net);
}

/* Raster and membrane passes agree with a plain forward on a random net (γ and final V). */
static void trace_consistency(void)
{
    sbp_net_spec spec;
    sbp_net *net = NULL;
    sbp_dataset *ds = NULL;
    sbp_error err = {0};
    if (sbp_net_spec_parse(&spec, "8x8x1-6C3-P2-10FC-4", &err) != SBP_OK ||
        sbp_net_create(&net, &spec, 3, &err) != SBP_OK ||
        sbp_dataset_alloc(&ds, 1, 1, 8, 8, 4, &err) != SBP_OK) {
        CHECK(0, "consistency: %s", err.msg);
        sbp_net_free(net);
        return;
    }
    for (int i = 0; i < 64; i++)
        ds->pixels[i] = (uint8_t)(i * 4);
    const int T = 24, layer = 0;
    const size_t n = net->layers[layer].n_out;
    sbp_input in;
    sbp_analysis_input(&in, ds, 0, 1);
    uint8_t *raster = malloc((size_t)T * n);
    size_t *watch = malloc(n * sizeof *watch);
    float *mem = malloc((size_t)T * n * sizeof(float));
    sbp_engine e;
    float o[4];
    if (raster && watch && mem &&
        /* one step per chunk, as the trace runs: the fast path picks the event-driven or the
         * GEMM kernel per chunk from its density, and the two round differently */
        sbp_engine_init(&e, net, T, &sbp_backend_cpu, 0, SBP_BACKWARD_EXACT, 1, &err) == SBP_OK) {
        for (size_t i = 0; i < n; i++)
            watch[i] = i;
        CHECK(sbp_analysis_trace(net, &in, T, layer, raster, watch, (int)n, mem, 0, &err) ==
                  SBP_OK,
              "trace: %s", err.msg);
        sbp_engine_set_weights(&e, net->params);
        sbp_engine_forward(&e, &in, o);
        int bad = 0, total = 0;
        for (size_t i = 0; i < n; i++) {
            int g = 0;
            for (int t = 0; t < T; t++)
                g += raster[(size_t)t * n + i];
            total += g;
            const size_t j = sbp_engine_neuron(&e, layer, i);
            bad += g != (int)e.st[layer].count[j];
            bad += mem[(size_t)(T - 1) * n + i] != e.st[layer].v[j];
            /* a spike at t leaves V[t] = 0 */
            for (int t = 0; t < T; t++)
                bad += raster[(size_t)t * n + i] && mem[(size_t)t * n + i] != 0.0f;
        }
        CHECK(!bad && total > 0, "raster/membrane vs forward: %d mismatches, %d spikes", bad,
              total);
        sbp_engine_release(&e);
    }
    free(raster);
    free(watch);
    free(mem);
    sbp_dataset_free(ds);
    sbp_net_free(net);
}

int main(void)
{
    tiny_given_spikes();
    tiny_datasets();
    fanout_brute_force();
    dense_macs();
    shortcuts();
    agrees_with_eval();
    training_summary();
    traces();
    trace_consistency();
    return check_finish("analysis");
}
