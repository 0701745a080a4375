/*
 * spike_overlap.c — how many weight-row loads an event-driven synapse could share, counted on
 * real spike trains (issue 14: "several samples per kernel call where weight rows can be
 * reused").
 *
 * An event-driven synapse brings one weight row (an input's fan-out) through the core per
 * input event. A kernel that served several samples, or several steps of one chunk, in one
 * pass could load the row once for all of them in which that input fired: it would load
 * |A ∪ B| rows instead of |A| + |B|. This runs a network forward on N images (exact-mode
 * engine, which keeps every spiking layer's bits) and counts, for the spikes each layer sends
 * to the synapse above it:
 *   - two samples: images 2i and 2i+1 at the same step, union / sum;
 *   - one sample, 2 and 4 consecutive steps (a chunk): union / sum.
 * 1.0 means nothing to share; 0.5 means every loaded row would serve two events.
 *
 *   build/spike_overlap --net lenet --model FILE [--data mnist] [--images 200] [-T 100]
 *   build/spike_overlap --net vgg9 [--data DIR-or-NAME] [--images 32] [-T 100]
 *
 * --net vgg9 takes the paper's VGG9 at its initial weights (seed 1, as `make bench` runs it)
 * on the CIFAR-10 slice in tests/data unless --data names another set; --model takes a
 * trained network (`spikebp train --save`). Test split, no dropout, encoding seed 1.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/rng.h"
#include "data/encode.h"
#include "engine/engine.h"
#include "net/net.h"
#include "spikebp.h"
#include "spike_trains.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: spike_overlap --net lenet --model FILE [--data NAME] [--images N] "
               "[-T STEPS]\n"
               "       spike_overlap --net vgg9 [--data NAME] [--images N] [-T STEPS]\n"
               "(union / sum of the active inputs of each synapse: two samples at one step, "
               "one sample over 2 and 4 steps)\n");
}

typedef struct {
    double sum2, union2;   /* two samples, same step */
    double sum_s2, uni_s2; /* one sample, 2 steps */
    double sum_s4, uni_s4; /* one sample, 4 steps */
} overlap;

static unsigned pop(uint64_t w)
{
    return (unsigned)__builtin_popcountll(w);
}

/* Adds one sample's counts: cur and prev are T rows of w words of spike bits (this sample's and
 * the one before it); pair: prev is this one's partner (two samples). */
static void count(overlap *o, const uint64_t *cur, const uint64_t *prev, size_t w, int T,
                  int pair)
{
    for (int t = 0; t < T; t++) {
        const uint64_t *r = cur + (size_t)t * w, *p = prev + (size_t)t * w;
        for (size_t q = 0; q < w; q++) {
            if (pair) {
                o->sum2 += pop(r[q]) + pop(p[q]);
                o->union2 += pop(r[q] | p[q]);
            }
            if (t % 2 == 0 && t + 2 <= T) {
                o->sum_s2 += pop(r[q]) + pop(r[q + w]);
                o->uni_s2 += pop(r[q] | r[q + w]);
            }
            if (t % 4 == 0 && t + 4 <= T) {
                uint64_t u = 0;
                for (int d = 0; d < 4; d++) {
                    u |= r[q + (size_t)d * w];
                    o->sum_s4 += pop(r[q + (size_t)d * w]);
                }
                o->uni_s4 += pop(u);
            }
        }
    }
}

static void print_row(const char *name, const char *feeds, size_t n, const overlap *o,
                      int images, int T)
{
    printf("%-6s %-8s %9zu %9.4f %12.3f %12.3f %12.3f\n", name, feeds, n,
           o->sum_s2 / ((double)images * (T & ~1) * n), o->sum2 > 0 ? o->union2 / o->sum2 : 1.0,
           o->uni_s2 / o->sum_s2, o->sum_s4 > 0 ? o->uni_s4 / o->sum_s4 : 1.0);
}

int main(int argc, char **argv)
{
    const char *net_name = NULL, *model = NULL, *data = NULL;
    int images = 0, T = 100;
    static const struct option opts[] = {{"net", 1, 0, 'n'},    {"model", 1, 0, 'm'},
                                         {"data", 1, 0, 'd'},   {"images", 1, 0, 'i'},
                                         {"timesteps", 1, 0, 'T'}, {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "T:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': net_name = optarg; break;
        case 'm': model = optarg; break;
        case 'd': data = optarg; break;
        case 'i': images = atoi(optarg); break;
        case 'T': T = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    const int vgg = bench_spikes_net(net_name);
    if (vgg < 0 || (!vgg && !model) || T < 4) {
        usage(stderr);
        return 2;
    }
    if (images < 2)
        images = vgg ? 32 : 200;

    bench_spikes b;
    if (bench_spikes_open(&b, "spike_overlap", vgg, model, data, &images, T))
        return 1;
    sbp_net *const net = b.net;
    sbp_dataset *const ds = b.ds;
    sbp_engine *const e = &b.e;
    images &= ~1; /* whole pairs */

    const int nl = net->n_layers;
    const size_t nin = net->layers[0].n_in, win = sbp_spike_row_words(nin);
    uint64_t *prev = malloc(e->bits_words * sizeof(uint64_t));
    /* the encoded input spikes (which feed layer 1), as bits: this sample's and the last one's */
    uint64_t *in_bits[2] = {calloc((size_t)T * win, sizeof(uint64_t)),
                            calloc((size_t)T * win, sizeof(uint64_t))};
    overlap in_ov = {0};
    overlap *ov = calloc((size_t)nl, sizeof *ov);
    float *out = malloc(sizeof(float) * net->layers[nl - 1].n_out);
    if (!prev || !in_bits[0] || !in_bits[1] || !ov || !out) {
        fprintf(stderr, "spike_overlap: out of memory\n");
        return 1;
    }
    const sbp_rng_key key = sbp_rng_key_make(1, SBP_RNG_ENCODE);
    for (int i = 0; i < images; i++) {
        sbp_input in;
        sbp_input_for(&in, ds, (size_t)i, key, 0);
        sbp_engine_forward(e, &in, out);
        uint64_t *ib = in_bits[i & 1];
        memset(ib, 0, (size_t)T * win * sizeof(uint64_t));
        for (int t = 0; t < T; t++)
            for (size_t q = 0; q < nin; q++)
                if (e->enc[(size_t)t * nin + q])
                    ib[(size_t)t * win + q / 64] |= (uint64_t)1 << (q % 64);
        count(&in_ov, ib, in_bits[!(i & 1)], win, T, i & 1);
        for (int l = 0; l + 1 < nl; l++)
            if (e->st[l].bits)
                count(&ov[l], e->st[l].bits, prev + (e->st[l].bits - e->bits),
                      sbp_spike_row_words(net->layers[l].n_out), T, i & 1);
        memcpy(prev, e->bits, e->bits_words * sizeof(uint64_t));
    }
    printf("%s, %d images, T = %d: union / sum of the inputs each synapse receives\n",
           vgg ? "VGG9 (initial weights)" : model, images, T);
    printf("%-6s %-8s %9s %9s %12s %12s %12s\n", "layer", "feeds", "neurons", "rate",
           "two samples", "2 steps", "4 steps");
    print_row("input", sbp_layer_kind_name(net->layers[0].spec.kind), nin, &in_ov, images, T);
    for (int l = 0; l + 1 < nl; l++) {
        if (!e->st[l].bits || ov[l].sum_s2 == 0)
            continue;
        char name[16];
        snprintf(name, sizeof name, "%d", l + 1);
        print_row(name, sbp_layer_kind_name(net->layers[l + 1].spec.kind),
                  net->layers[l].n_out, &ov[l], images, T);
    }
    free(out);
    free(ov);
    free(prev);
    free(in_bits[0]);
    free(in_bits[1]);
    bench_spikes_close(&b);
    return 0;
}
