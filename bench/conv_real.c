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
 *   forward   synapse forward_events on the lists the neurons would write (sbp_events_build
 *             makes the same lists), or forward where the layer reads its input as a bitmap
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

/* Step t's row of x (n floats) from a layer's bit row. */
static void unpack_row(float *x, const uint64_t *bits, size_t n)
{
    for (size_t q = 0; q < n; q++)
        x[q] = (float)((bits[q >> 6] >> (q & 63)) & 1u);
}

typedef struct {
    double fwd, bwd; /* seconds, all images, fastest pass */
    double events;   /* over all images and steps */
} timing;

/* Times layer L over the kept bits of `images` samples (T rows of w words each, one sample
 * after another). */
static timing time_layer(const sbp_synapse_ops *ops, const sbp_layer *L, const float *Wk,
                         const uint64_t *bits, size_t w, int images, int T, int tc, int reps)
{
    const size_t nin = L->n_in, nout = L->n_out, nk = ops->weights_floats
                                                          ? ops->weights_floats(L)
                                                          : L->w_count;
    float *x = falloc((size_t)tc * nin), *I = falloc((size_t)tc * nout);
    float *gI = falloc((size_t)tc * nout), *dx = falloc((size_t)tc * nin);
    float *dW = falloc(nk), *ws = falloc(ops->scratch(L, tc));
    float *ev = falloc(sbp_events_scratch(nin, tc));
    for (size_t i = 0; i < (size_t)tc * nout; i++) /* any values: the work does not depend on them */
        gI[i] = 1e-3f * (float)((i * 2654435761u) % 2001) - 1.0f;
    const int lists = ops->forward_events && (!ops->takes_events || ops->takes_events(L));
    timing best = {1e30, 1e30, 0};
    for (int r = 0; r < reps; r++) {
        timing now = {0, 0, 0};
        for (int s = 0; s < images; s++)
            for (int t0 = 0; t0 < T; t0 += tc) {
                const int n = T - t0 < tc ? T - t0 : tc;
                for (int t = 0; t < n; t++)
                    unpack_row(x + (size_t)t * nin, bits + ((size_t)s * T + t0 + t) * w, nin);
                size_t count = 0;
                if (lists)
                    sbp_events_build(ev, x, nin, n, &count);
                else
                    count = sbp_events_count(x, nin, n);
                now.events += (double)count;
                double a = bench_now();
                if (lists)
                    ops->forward_events(I, x, ev, Wk, L, n, ws);
                else
                    ops->forward(I, x, Wk, L, n, ws);
                now.fwd += bench_now() - a;
                if (ops->backward_events)
                    sbp_events_build(ev, x, nin, n, &count);
                a = bench_now();
                if (ops->backward_events)
                    ops->backward_events(dx, dW, gI, x, ev, Wk, L, n, ws);
                else
                    ops->backward(dx, dW, gI, x, Wk, L, n, ws);
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

/* Largest |a − b| over one quantity, and the largest |b| (the oracle's), accumulated. */
typedef struct {
    double diff, mag;
} gap;

static void gap_add(gap *g, double a, double b)
{
    const double d = a > b ? a - b : b - a, m = b < 0 ? -b : b;
    if (d > g->diff)
        g->diff = d;
    if (m > g->mag)
        g->mag = m;
}

static double gap_rel(const gap *g)
{
    return g->mag > 0 ? g->diff / g->mag : g->diff;
}

/* --check: the cpu backend's forward and exact backward of layer L against the reference
 * backend's (the oracle: plain loops, channel-first neurons, PyTorch-layout weights) on every
 * chunk of the kept spike trains, then the aggregate backward on each sample's spike counts;
 * the largest differences relative to the largest magnitude of the oracle's I, dW and dx, and
 * of the aggregate dW and dx (dx only where the input spiked: backend.h lets a backend leave it
 * undefined elsewhere). */
static void check_layer(const sbp_synapse_ops *ops, const sbp_synapse_ops *ref,
                        const sbp_layer *L, const float *Wk, const float *W, const uint64_t *bits,
                        size_t w, int images, int T, int tc, gap out[5])
{
    const size_t nin = L->n_in, nout = L->n_out;
    const size_t Ci = (size_t)L->in_c, Pi = nin / Ci, Co = (size_t)L->out_c, Po = nout / Co;
    const size_t nk = ops->weights_floats ? ops->weights_floats(L) : L->w_count;
    const size_t nr = ref->scratch(L, tc) + 16;
    float *x = falloc((size_t)tc * nin), *xr = falloc((size_t)tc * nin);
    float *I = falloc((size_t)tc * nout), *Ir = falloc((size_t)tc * nout);
    float *gI = falloc((size_t)tc * nout), *gr = falloc((size_t)tc * nout);
    float *dx = falloc((size_t)tc * nin), *dxr = falloc((size_t)tc * nin);
    float *dWk = falloc(nk), *dW = falloc(L->w_count), *dWr = falloc(L->w_count);
    float *ws = falloc(ops->scratch(L, tc)), *wsr = falloc(nr);
    float *ev = falloc(sbp_events_scratch(nin, tc));
    const int lists = ops->forward_events && (!ops->takes_events || ops->takes_events(L));
    for (size_t i = 0; i < (size_t)tc * nout; i++) /* the cpu order; the oracle's copy below */
        gI[i] = 1e-3f * (float)((i * 2654435761u) % 2001) - 1.0f;
    for (int s = 0; s < images; s++)
        for (int t0 = 0; t0 < T; t0 += tc) {
            const int n = T - t0 < tc ? T - t0 : tc;
            for (int t = 0; t < n; t++) {
                float *xt = x + (size_t)t * nin, *xrt = xr + (size_t)t * nin;
                unpack_row(xt, bits + ((size_t)s * T + t0 + t) * w, nin);
                for (size_t c = 0; c < Ci; c++) /* cpu: (position, channel); oracle: (channel, position) */
                    for (size_t q = 0; q < Pi; q++)
                        xrt[c * Pi + q] = xt[q * Ci + c];
                for (size_t c = 0; c < Co; c++)
                    for (size_t q = 0; q < Po; q++)
                        gr[(size_t)t * nout + c * Po + q] = gI[(size_t)t * nout + q * Co + c];
            }
            /* the calls time_layer makes (and the engine): on lists where the backend takes them */
            size_t count;
            if (lists) {
                sbp_events_build(ev, x, nin, n, &count);
                ops->forward_events(I, x, ev, Wk, L, n, ws);
            } else
                ops->forward(I, x, Wk, L, n, ws);
            ref->forward(Ir, xr, W, L, n, wsr);
            memset(dWk, 0, nk * sizeof(float));
            memset(dW, 0, L->w_count * sizeof(float));
            memset(dWr, 0, L->w_count * sizeof(float));
            if (ops->backward_events) {
                sbp_events_build(ev, x, nin, n, &count);
                ops->backward_events(dx, dWk, gI, x, ev, Wk, L, n, ws);
            } else
                ops->backward(dx, dWk, gI, x, Wk, L, n, ws);
            ref->backward(dxr, dWr, gr, xr, W, L, n, wsr);
            ops->grad_out(dW, dWk, L);
            for (int t = 0; t < n; t++) {
                for (size_t c = 0; c < Co; c++)
                    for (size_t q = 0; q < Po; q++)
                        gap_add(&out[0], I[(size_t)t * nout + q * Co + c],
                                Ir[(size_t)t * nout + c * Po + q]);
                for (size_t c = 0; c < Ci; c++)
                    for (size_t q = 0; q < Pi; q++)
                        if (x[(size_t)t * nin + q * Ci + c] != 0.0f)
                            gap_add(&out[2], dx[(size_t)t * nin + q * Ci + c],
                                    dxr[(size_t)t * nin + c * Pi + q]);
            }
            for (size_t i = 0; i < L->w_count; i++)
                gap_add(&out[1], dW[i], dWr[i]);
        }
    /* the aggregate backward (SPEC §3): one call per sample on the spike counts Σ_t x[t], as the
     * engine makes it — values up to T, not 1 — with one step of the gradient */
    for (int s = 0; s < images; s++) {
        memset(x, 0, nin * sizeof(float));
        for (int t = 0; t < T; t++) {
            unpack_row(xr, bits + ((size_t)s * T + t) * w, nin);
            for (size_t q = 0; q < nin; q++)
                x[q] += xr[q];
        }
        for (size_t c = 0; c < Ci; c++)
            for (size_t q = 0; q < Pi; q++)
                xr[c * Pi + q] = x[q * Ci + c];
        memset(dWk, 0, nk * sizeof(float));
        memset(dW, 0, L->w_count * sizeof(float));
        memset(dWr, 0, L->w_count * sizeof(float));
        ops->backward(dx, dWk, gI, x, Wk, L, 1, ws);
        ref->backward(dxr, dWr, gr, xr, W, L, 1, wsr);
        ops->grad_out(dW, dWk, L);
        for (size_t c = 0; c < Ci; c++)
            for (size_t q = 0; q < Pi; q++)
                if (x[q * Ci + c] != 0.0f)
                    gap_add(&out[4], dx[q * Ci + c], dxr[c * Pi + q]);
        for (size_t i = 0; i < L->w_count; i++)
            gap_add(&out[3], dW[i], dWr[i]);
    }
    free(x), free(xr), free(I), free(Ir), free(gI), free(gr), free(dx), free(dxr);
    free(dWk), free(dW), free(dWr), free(ws), free(wsr), free(ev);
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
    const int vgg = net_name && !strcmp(net_name, "vgg9");
    if (!net_name || (!vgg && strcmp(net_name, "lenet")) || T < 1 || optind < argc) {
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
    const sbp_synapse_ops *ops = &e->be->synapse[SBP_LAYER_CONV];
    for (int l = 1; l < nl; l++) {
        if (!kept[l])
            continue;
        const sbp_layer *L = &net->layers[l];
        const timing tm = time_layer(ops, L, e->wk + e->koff[l], kept[l], words[l], images, T,
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
            check_layer(ops, &rb->synapse[SBP_LAYER_CONV], L, e->wk + e->koff[l],
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
