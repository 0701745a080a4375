/*
 * conv_real.c — the cpu backend's convolutions timed on real spike trains (issue 14).
 *
 * bench/bound.c feeds the synapse kernels spikes placed at random at a layer's rate, but the
 * kernels profit from where events fall (the column form shares one load and store of an output
 * run among the events of an input column, which a digit's strokes line up; a trained network
 * also fires more than one at its initialisation). This runs a network forward on N test images
 * (an exact-mode engine keeps every spiking layer's bits), keeps the spikes each convolution
 * receives from the spiking layer below, and times the cpu backend's operations on them as the
 * engine calls them, chunk by chunk, fastest of R passes over all chunks:
 *
 *   forward   synapse forward_events on the lists the neurons would write (the backend's
 *             spikes_unpack_events makes the same ones from the bits), or forward where the layer
 *             reads its input as a bitmap
 *   backward  synapse backward_events (the exact backward: dW and dx), on fresh lists each call
 *             (it may use them as scratch), from a fixed output gradient — its values do not
 *             change the work the kernels do, only where the events are does
 *
 * The lists, the input rows and the gradient are prepared outside the timed calls. One thread.
 * With --check the same two operations are then compared with the reference backend's (the
 * oracle) on every chunk of the same trains; the program exits 3 if any differs by more than
 * the tolerance the backend tests use (tests/cli/conv_real.sh runs it so).
 *
 *   build/conv_real --net lenet [--model FILE] [--data mnist] [--images 8] [--reps 8] [-T 100]
 *   build/conv_real --net vgg9 [--model FILE] [--data NAME] [--images 2] [--reps 3] [-T 100]
 *
 * Without --model the network has its initial weights (seed 1, as `make bench` starts it);
 * --model takes a trained one (`spikebp train --save`), which fires more. VGG9 runs on the
 * CIFAR-10 slice in tests/data unless --data names another set. Test split, no dropout,
 * encoding seed 1.
 */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/events.h"
#include "core/rng.h"
#include "data/encode.h"
#include "engine/engine.h"
#include "kernel_bench.h"
#include "net/net.h"
#include "spike_trains.h"
#include "spikebp.h"

/* --check's tolerance: the backends sum in different orders (tests/backend_compare.h: BC_TOL) */
#define CHECK_TOL 2e-5

static void usage(FILE *f)
{
    fprintf(f, "usage: conv_real --net lenet|vgg9 [--model FILE] [--data NAME] [--images N] "
               "[--reps R] [-T STEPS] [--check]\n"
               "(the cpu backend's convolution forward and exact backward, ms per image, on the\n"
               "spike trains each convolution receives when the network runs N test images;\n"
               "--check: also against the reference backend on the same trains, exit 3 if\n"
               "off by more than the tolerance)\n");
}

static float *falloc(size_t n)
{
    return bench_falloc("conv_real", n);
}

/* x (n steps of nin) and their event lists in ev: steps t0 … of one sample's kept bits, made
 * as the engine makes a synapse's input (the backend's spikes_unpack_events: the lists
 * neuron_forward_events writes); returns the number of events. */
static size_t prepare(const sbp_backend *be, float *x, void *ev, const uint64_t *bits,
                      size_t nin, int t0, int n)
{
    be->spikes_unpack_events(x, ev, bits, NULL, nin, t0, n);
    return ((const sbp_events *)ev)->off[n];
}

/* Whether the engine hands L's synapse its input's event lists (forward_events). */
static int takes_lists(const sbp_synapse_ops *ops, const sbp_layer *L)
{
    return ops->forward_events && (!ops->takes_events || ops->takes_events(L));
}

/* The synapse's forward and exact backward as the engine calls them, given x's lists in ev
 * (which the backward may use as scratch). */
static void forward_call(const sbp_synapse_ops *ops, int lists, float *I, const float *x,
                         const void *ev, const float *Wk, const sbp_layer *L, int n, float *ws)
{
    if (lists)
        ops->forward_events(I, x, ev, Wk, L, n, ws);
    else
        ops->forward(I, x, Wk, L, n, ws);
}

static void backward_call(const sbp_synapse_ops *ops, float *dx, float *dW, const float *gI,
                          const float *x, void *ev, const float *Wk, const sbp_layer *L, int n,
                          float *ws)
{
    if (ops->backward_events)
        ops->backward_events(dx, dW, gI, x, ev, Wk, L, n, ws);
    else
        ops->backward(dx, dW, gI, x, Wk, L, n, ws);
}

typedef struct {
    double fwd, bwd; /* seconds, all images, fastest pass */
    double events;   /* over all images and steps */
} timing;

/* The output gradient both measurements feed the backward: any values, the work does not
 * depend on them (the same in every run, so --check compares like with like). */
static void fill_gradient(float *gI, size_t n)
{
    for (size_t i = 0; i < n; i++)
        gI[i] = 1e-3f * (float)((i * 2654435761u) % 2001) - 1.0f;
}

/* Floats of an event-list buffer (the backend's events_bytes). */
static size_t list_floats(const sbp_backend *be, size_t n, int tc)
{
    return (be->events_bytes(n, tc) + sizeof(float) - 1) / sizeof(float);
}

/* Times layer L over the kept bits of `images` samples (T rows of w words each, one sample
 * after another). */
static timing time_layer(const sbp_backend *be, const sbp_layer *L, const float *Wk,
                         const uint64_t *bits, size_t w, int images, int T, int tc, int reps)
{
    const sbp_synapse_ops *ops = &be->synapse[SBP_LAYER_CONV];
    const size_t nin = L->n_in, nout = L->n_out, nk = ops->weights_floats
                                                          ? ops->weights_floats(L)
                                                          : L->w_count;
    float *x = falloc((size_t)tc * nin), *I = falloc((size_t)tc * nout);
    float *gI = falloc((size_t)tc * nout), *dx = falloc((size_t)tc * nin);
    float *dW = falloc(nk), *ws = falloc(ops->scratch(L, tc));
    float *ev = falloc(list_floats(be, nin, tc));
    fill_gradient(gI, (size_t)tc * nout);
    const int lists = takes_lists(ops, L);
    timing best = {1e30, 1e30, 0};
    for (int r = 0; r < reps; r++) {
        timing now = {0, 0, 0};
        for (int s = 0; s < images; s++)
            for (int t0 = 0; t0 < T; t0 += tc) {
                const int n = T - t0 < tc ? T - t0 : tc;
                const uint64_t *sb = bits + (size_t)s * T * w;
                now.events += (double)prepare(be, x, ev, sb, nin, t0, n);
                double a = bench_now();
                forward_call(ops, lists, I, x, ev, Wk, L, n, ws);
                now.fwd += bench_now() - a;
                prepare(be, x, ev, sb, nin, t0, n); /* fresh lists: the backward may use them */
                a = bench_now();
                backward_call(ops, dx, dW, gI, x, ev, Wk, L, n, ws);
                now.bwd += bench_now() - a;
            }
        if (now.fwd < best.fwd)
            best.fwd = now.fwd;
        if (now.bwd < best.bwd)
            best.bwd = now.bwd;
        best.events = now.events;
    }
    free(x), free(I), free(gI), free(dx), free(dW), free(ws), free(ev);
    return best;
}

/* Largest |a − b| over one quantity, and the largest |b| (the oracle's), accumulated over n
 * entries — only where where[i] ≠ 0 if where is given. */
typedef struct {
    double diff, mag;
} gap;

static void gap_add(gap *g, const float *a, const float *b, size_t n, const float *where)
{
    for (size_t i = 0; i < n; i++) {
        if (where && where[i] == 0.0f)
            continue;
        const double d = fabs((double)a[i] - b[i]), m = fabs((double)b[i]);
        g->diff = d > g->diff ? d : g->diff;
        g->mag = m > g->mag ? m : g->mag;
    }
}

static double gap_rel(const gap *g)
{
    return g->mag > 0 ? g->diff / g->mag : g->diff;
}

/* dst = src's steps in the reference backend's neuron order: the cpu backend's rows are
 * (position, channel), the oracle's (channel, position). */
static void channel_first(float *dst, const float *src, size_t C, size_t P, int steps)
{
    for (int t = 0; t < steps; t++)
        for (size_t c = 0; c < C; c++)
            for (size_t q = 0; q < P; q++)
                dst[(size_t)t * C * P + c * P + q] = src[(size_t)t * C * P + q * C + c];
}

/* What --check runs layer L with: both backends' operations, weights and buffers. */
typedef struct {
    const sbp_backend *be;
    const sbp_synapse_ops *ops, *ref; /* the cpu backend's convolution, the oracle's */
    const sbp_layer *L;
    const float *Wk, *W;              /* the weights in each one's layout */
    size_t nk;                        /* floats of Wk (and of dWk) */
    float *x, *xr, *I, *Ir, *gI, *gr, *dx, *dxr, *cf, *dWk, *dW, *dWr, *ws, *wsr, *ev;
} check_run;

/* Both backwards over steps n from zero weight gradients, the cpu's on x's event lists in ev
 * (lists) or on x alone (the aggregate counts, as the engine calls it); then dW = the cpu's
 * gradient in PyTorch layout and cf = its dx channel-first, beside the oracle's dWr and dxr. */
static void both_backwards(check_run *c, int lists, int n)
{
    const size_t nw = c->L->w_count;
    memset(c->dWk, 0, c->nk * sizeof(float));
    memset(c->dW, 0, nw * sizeof(float));
    memset(c->dWr, 0, nw * sizeof(float));
    if (lists)
        backward_call(c->ops, c->dx, c->dWk, c->gI, c->x, c->ev, c->Wk, c->L, n, c->ws);
    else
        c->ops->backward(c->dx, c->dWk, c->gI, c->x, c->Wk, c->L, n, c->ws);
    c->ref->backward(c->dxr, c->dWr, c->gr, c->xr, c->W, c->L, n, c->wsr);
    c->ops->grad_out(c->dW, c->dWk, c->L);
    channel_first(c->cf, c->dx, (size_t)c->L->in_c, c->L->n_in / (size_t)c->L->in_c, n);
}

/* --check: the cpu backend's forward and exact backward of layer L against the reference
 * backend's (the oracle: plain loops, channel-first neurons, PyTorch-layout weights W) on every
 * chunk of the kept spike trains, then the aggregate backward on each sample's spike counts;
 * the largest differences relative to the largest magnitude of the oracle's I, dW and dx, and
 * of the aggregate dW and dx (dx only where the input spiked: backend.h lets a backend leave it
 * undefined elsewhere). */
static void check_layer(const sbp_backend *be, const sbp_synapse_ops *ref, const sbp_layer *L,
                        const float *Wk, const float *W, const uint64_t *bits, size_t w,
                        int images, int T, int tc, gap out[5])
{
    const sbp_synapse_ops *ops = &be->synapse[SBP_LAYER_CONV];
    const size_t nin = L->n_in, nout = L->n_out, nw = L->w_count;
    const size_t Ci = (size_t)L->in_c, Pi = nin / Ci, Co = (size_t)L->out_c, Po = nout / Co;
    const size_t nk = ops->weights_floats ? ops->weights_floats(L) : nw;
    const size_t xn = (size_t)tc * nin, yn = (size_t)tc * nout;
    check_run c = {be, ops, ref, L, Wk, W, nk,
                   falloc(xn), falloc(xn), falloc(yn), falloc(yn), falloc(yn), falloc(yn),
                   falloc(xn), falloc(xn), falloc(xn > yn ? xn : yn), falloc(nk), falloc(nw),
                   falloc(nw), falloc(ops->scratch(L, tc)), falloc(ref->scratch(L, tc) + 16),
                   falloc(list_floats(be, nin, tc))};
    const int lists = takes_lists(ops, L);
    fill_gradient(c.gI, yn);
    channel_first(c.gr, c.gI, Co, Po, tc);
    for (int s = 0; s < images; s++)
        for (int t0 = 0; t0 < T; t0 += tc) {
            const int n = T - t0 < tc ? T - t0 : tc;
            const uint64_t *sb = bits + (size_t)s * T * w;
            prepare(be, c.x, c.ev, sb, nin, t0, n);
            channel_first(c.xr, c.x, Ci, Pi, n);
            forward_call(ops, lists, c.I, c.x, c.ev, Wk, L, n, c.ws);
            ref->forward(c.Ir, c.xr, W, L, n, c.wsr);
            channel_first(c.cf, c.I, Co, Po, n);
            gap_add(&out[0], c.cf, c.Ir, (size_t)n * nout, NULL);
            prepare(be, c.x, c.ev, sb, nin, t0, n); /* fresh lists: the forward may not keep them */
            both_backwards(&c, 1, n);
            gap_add(&out[1], c.dW, c.dWr, nw, NULL);
            gap_add(&out[2], c.cf, c.dxr, (size_t)n * nin, c.xr);
        }
    /* the aggregate backward (SPEC §3): one call per sample on the spike counts Σ_t x[t], as the
     * engine makes it — values up to T, not 1 — with one step of the gradient */
    for (int s = 0; s < images; s++) {
        memset(c.x, 0, nin * sizeof(float));
        for (int t = 0; t < T; t++) {
            be->spikes_unpack(c.xr, bits + (size_t)s * T * w, NULL, nin, t, 1);
            for (size_t q = 0; q < nin; q++)
                c.x[q] += c.xr[q];
        }
        channel_first(c.xr, c.x, Ci, Pi, 1);
        both_backwards(&c, 0, 1);
        gap_add(&out[3], c.dW, c.dWr, nw, NULL);
        gap_add(&out[4], c.cf, c.dxr, nin, c.xr);
    }
    float *bufs[] = {c.x, c.xr, c.I, c.Ir, c.gI, c.gr, c.dx, c.dxr, c.cf,
                     c.dWk, c.dW, c.dWr, c.ws, c.wsr, c.ev};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        free(bufs[i]);
}

int main(int argc, char **argv)
{
    const char *net_name = NULL, *model = NULL, *data = NULL;
    int images = 0, reps = 0, T = 100, check = 0;
    static const struct option opts[] = {
        {"net", 1, 0, 'n'},  {"model", 1, 0, 'm'},     {"data", 1, 0, 'd'},
        {"images", 1, 0, 'i'}, {"reps", 1, 0, 'r'}, {"timesteps", 1, 0, 'T'},
        {"check", 0, 0, 'c'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "T:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': net_name = optarg; break;
        case 'm': model = optarg; break;
        case 'd': data = optarg; break;
        case 'i': images = atoi(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 'T': T = atoi(optarg); break;
        case 'c': check = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    const int vgg = bench_spikes_net(net_name);
    if (vgg < 0 || T < 1 || optind < argc) {
        usage(stderr);
        return 2;
    }
    if (images < 1)
        images = vgg ? 2 : 8;
    if (reps < 1)
        reps = vgg ? 3 : 8;

    bench_spikes b;
    if (bench_spikes_open(&b, "conv_real", vgg, model, data, &images, T))
        return 1;
    sbp_net *const net = b.net;
    sbp_dataset *const ds = b.ds;
    sbp_engine *const e = &b.e;

    /* the convolutions fed by a spiking layer, and a copy of that layer's bits per image */
    const int nl = net->n_layers;
    uint64_t *kept[SBP_MAX_LAYERS] = {0};
    size_t words[SBP_MAX_LAYERS] = {0};
    for (int l = 1; l < nl; l++) {
        if (net->layers[l].spec.kind != SBP_LAYER_CONV || !e->st[l - 1].bits)
            continue;
        words[l] = sbp_spike_row_words(net->layers[l].n_in);
        kept[l] = malloc((size_t)images * T * words[l] * sizeof(uint64_t));
        if (!kept[l]) {
            fprintf(stderr, "conv_real: out of memory keeping layer %d's input\n", l + 1);
            return 1;
        }
    }
    float *out = malloc(sizeof(float) * net->layers[nl - 1].n_out);
    const sbp_rng_key key = sbp_rng_key_make(1, SBP_RNG_ENCODE);
    for (int i = 0; i < images && out; i++) {
        sbp_input in;
        sbp_input_for(&in, ds, (size_t)i, key, 0);
        sbp_engine_forward(e, &in, out);
        for (int l = 1; l < nl; l++)
            if (kept[l])
                memcpy(kept[l] + (size_t)i * T * words[l], e->st[l - 1].bits,
                       (size_t)T * words[l] * sizeof(uint64_t));
    }
    printf("%s on %d %s test images, T = %d, chunks of %d steps, 1 thread, fastest of %d "
           "passes\n",
           model ? model : vgg ? "VGG9 (initial weights)" : "LeNet (initial weights)", images,
           b.set, T, e->tc, reps);
    printf("%-6s %-22s %10s %12s %12s %14s\n", "layer", "convolution", "input rate",
           "events/step", "forward ms", "backward ms");
    for (int l = 1; l < nl; l++) {
        if (!kept[l])
            continue;
        const sbp_layer *L = &net->layers[l];
        const timing tm = time_layer(e->be, L, e->wk + e->koff[l], kept[l], words[l], images, T,
                                     e->tc, reps);
        char name[40];
        snprintf(name, sizeof name, "%zu->%zu k%d %zux%zu", (size_t)L->in_c, (size_t)L->out_c,
                 L->spec.kernel, (size_t)L->in_h, (size_t)L->in_w);
        printf("%-6d %-22s %9.2f %% %12.1f %12.3f %14.3f\n", l + 1, name,
               100.0 * tm.events / ((double)images * T * L->n_in), tm.events / ((double)images * T),
               1e3 * tm.fwd / images, 1e3 * tm.bwd / images);
    }
    printf("(ms per image, one thread; backward: dW and dx of the exact mode)\n");
    int bad = 0;
    if (check) {
        /* the reference backend as the oracle, on the same spike trains */
        sbp_error err = {0};
        const sbp_backend *rb = sbp_backend_get(SBP_BACKEND_REFERENCE, &err);
        if (!rb) {
            fprintf(stderr, "conv_real: %s\n", err.msg);
            return 1;
        }
        printf("check against the reference backend (largest difference / largest magnitude; "
               "at most %g):\n%-6s %12s %12s %12s %12s %12s\n",
               CHECK_TOL, "layer", "I", "dW", "dx", "agg dW", "agg dx");
        for (int l = 1; l < nl; l++) {
            if (!kept[l])
                continue;
            const sbp_layer *L = &net->layers[l];
            gap g[5] = {{0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}};
            check_layer(e->be, &rb->synapse[SBP_LAYER_CONV], L, e->wk + e->koff[l],
                        net->params + L->w_offset, kept[l], words[l], images, T, e->tc, g);
            int ok = 1;
            printf("%-6d", l + 1);
            for (int q = 0; q < 5; q++) {
                printf(" %12.3g", gap_rel(&g[q]));
                ok &= gap_rel(&g[q]) <= CHECK_TOL;
            }
            printf("%s\n", ok ? "" : "   FAILED");
            bad |= !ok;
        }
    }
    for (int l = 0; l < nl; l++)
        free(kept[l]);
    free(out);
    bench_spikes_close(&b);
    return bad ? 3 : 0;
}
