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

#define VGG9 "32x32x3-64C3-64C3-P2-128C3-128C3-P2-256C3-256C3-256C3-P2-1024FC-10"

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
    const int vgg = net_name && !strcmp(net_name, "vgg9");
    if (!net_name || (!vgg && strcmp(net_name, "lenet")) || (!vgg && !model) || T < 4) {
        usage(stderr);
        return 2;
    }
    if (images < 2)
        images = vgg ? 32 : 200;
    images &= ~1; /* whole pairs */

    sbp_error err = {0};
    sbp_net *net = NULL;
    sbp_dataset *ds = NULL;
    sbp_net_spec spec;
    sbp_status st;
    if (model)
        st = sbp_net_load(&net, model, &err);
    else if ((st = sbp_net_spec_parse(&spec, VGG9, &err)) == SBP_OK) {
        spec.init_gain = 2.0f; /* as bench/sbp_bench.c builds VGG9 */
        st = sbp_net_create(&net, &spec, 1, &err);
    }
    const char *set = data ? data : vgg ? "cifar10:tests/data/cifar-10-slice" : "mnist";
    if (st == SBP_OK)
        st = sbp_dataset_open(&ds, set, SBP_SPLIT_TEST, (size_t)images, &err);
    const sbp_backend *be = st == SBP_OK ? sbp_backend_get(SBP_BACKEND_CPU, &err) : NULL;
    sbp_engine e;
    if (st != SBP_OK || !be ||
        sbp_engine_init(&e, net, T, be, 1, SBP_BACKWARD_EXACT, 0, &err) != SBP_OK) {
        fprintf(stderr, "spike_overlap: %s\n", err.msg);
        sbp_dataset_free(ds);
        sbp_net_free(net);
        return 1;
    }
    if ((size_t)images > sbp_dataset_count(ds))
        images = (int)sbp_dataset_count(ds) & ~1;
    sbp_engine_set_weights(&e, net->params);
    sbp_engine_clear_masks(&e);

    const int nl = net->n_layers;
    const size_t nin = net->layers[0].n_in;
    uint64_t *prev = malloc(e.bits_words * sizeof(uint64_t));
    int8_t *prev_in = malloc((size_t)T * nin);
    overlap in_ov = {0}; /* the encoded input spikes, which feed layer 1 */
    overlap *ov = calloc((size_t)nl, sizeof *ov);
    float *out = malloc(sizeof(float) * net->layers[nl - 1].n_out);
    if (!prev || !prev_in || !ov || !out) {
        fprintf(stderr, "spike_overlap: out of memory\n");
        return 1;
    }
    const sbp_rng_key key = sbp_rng_key_make(1, SBP_RNG_ENCODE);
    for (int i = 0; i < images; i++) {
        sbp_input in;
        sbp_input_for(&in, ds, (size_t)i, key, 0);
        sbp_engine_forward(&e, &in, out);
        for (int l = 0; l + 1 < nl; l++) {
            if (!e.st[l].bits)
                continue;
            const size_t w = sbp_spike_row_words(net->layers[l].n_out);
            const uint64_t *a = e.st[l].bits, *b = prev + (e.st[l].bits - e.bits);
            overlap *o = &ov[l];
            for (int t = 0; t < T; t++) {
                const uint64_t *r = a + (size_t)t * w;
                for (size_t q = 0; q < w; q++) {
                    if (i & 1) {
                        o->sum2 += pop(r[q]) + pop(b[(size_t)t * w + q]);
                        o->union2 += pop(r[q] | b[(size_t)t * w + q]);
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
        for (int t = 0; t < T; t++)
            for (size_t q = 0; q < nin; q++) {
                const size_t k = (size_t)t * nin + q;
                const int x = e.enc[k] != 0, y = prev_in[k] != 0;
                if (i & 1) {
                    in_ov.sum2 += x + y;
                    in_ov.union2 += x | y;
                }
                if (t % 2 == 0 && t + 2 <= T) {
                    const int x1 = e.enc[k + nin] != 0;
                    in_ov.sum_s2 += x + x1;
                    in_ov.uni_s2 += x | x1;
                }
                if (t % 4 == 0 && t + 4 <= T) {
                    int u = 0;
                    for (int d = 0; d < 4; d++) {
                        const int xd = e.enc[k + (size_t)d * nin] != 0;
                        u |= xd;
                        in_ov.sum_s4 += xd;
                    }
                    in_ov.uni_s4 += u;
                }
            }
        memcpy(prev, e.bits, e.bits_words * sizeof(uint64_t));
        memcpy(prev_in, e.enc, (size_t)T * nin);
    }
    printf("%s, %d images, T = %d: union / sum of the inputs each synapse receives\n",
           vgg ? "VGG9 (initial weights)" : model, images, T);
    printf("%-6s %-8s %9s %9s %12s %12s %12s\n", "layer", "feeds", "neurons", "rate",
           "two samples", "2 steps", "4 steps");
    printf("%-6s %-8s %9zu %9.4f %12.3f %12.3f %12.3f\n", "input", "conv", nin,
           in_ov.sum_s2 / ((double)images * (T & ~1) * nin), in_ov.union2 / in_ov.sum2,
           in_ov.uni_s2 / in_ov.sum_s2, in_ov.uni_s4 / in_ov.sum_s4);
    for (int l = 0; l + 1 < nl; l++) {
        const overlap *o = &ov[l];
        if (!e.st[l].bits || o->sum_s2 == 0)
            continue;
        const sbp_layer *up = &net->layers[l + 1];
        const char *kind = sbp_layer_kind_name(up->spec.kind);
        printf("%-6d %-8s %9zu %9.4f %12.3f %12.3f %12.3f\n", l + 1, kind,
               net->layers[l].n_out, o->sum_s2 / ((double)images * (T & ~1) * net->layers[l].n_out),
               o->sum2 > 0 ? o->union2 / o->sum2 : 1.0, o->uni_s2 / o->sum_s2,
               o->sum_s4 > 0 ? o->uni_s4 / o->sum_s4 : 1.0);
    }
    free(out);
    free(ov);
    free(prev);
    free(prev_in);
    sbp_engine_release(&e);
    sbp_dataset_free(ds);
    sbp_net_free(net);
    return 0;
}
