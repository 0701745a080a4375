/*
 * spike_trains.h — what the benchmarks that read a network's real spike trains (spike_overlap.c,
 * conv_real.c) share: the network, its test images and an exact-mode cpu engine, which keeps
 * every spiking layer's bits over the T steps of the last sample it ran.
 */
#ifndef SBP_BENCH_SPIKE_TRAINS_H
#define SBP_BENCH_SPIKE_TRAINS_H

#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "engine/engine.h"
#include "net/net.h"
#include "spikebp.h"

#define BENCH_VGG9 "32x32x3-64C3-64C3-P2-128C3-128C3-P2-256C3-256C3-256C3-P2-1024FC-10"

typedef struct {
    sbp_net *net;
    sbp_dataset *ds;
    const char *set; /* the data set's name */
    sbp_engine e;
} bench_spikes;

/* --net's value: 1 for vgg9, 0 for lenet, -1 for anything else (NULL included). */
static inline int bench_spikes_net(const char *name)
{
    return !name ? -1 : !strcmp(name, "vgg9") ? 1 : !strcmp(name, "lenet") ? 0 : -1;
}

/* Opens model's network (NULL: LeNet, or VGG9 with vgg, at its initial weights, seed 1, as
 * bench/sbp_bench.c builds them), *images test images of data (NULL: MNIST, or the CIFAR-10
 * slice in tests/data with vgg; *images lowered to what the set has) and an exact-mode cpu
 * engine over T steps, no dropout. 0, or 1 after naming the failure on stderr after `who`. */
static inline int bench_spikes_open(bench_spikes *b, const char *who, int vgg, const char *model,
                                    const char *data, int *images, int T)
{
    sbp_error err = {0};
    sbp_net_spec spec;
    sbp_status st;
    b->net = NULL, b->ds = NULL;
    if (model)
        st = sbp_net_load(&b->net, model, &err);
    else if ((st = vgg ? sbp_net_spec_parse(&spec, BENCH_VGG9, &err)
                       : sbp_net_spec_builtin(&spec, "lenet", &err)) == SBP_OK) {
        if (vgg)
            spec.init_gain = 2.0f; /* as bench/sbp_bench.c builds VGG9 */
        st = sbp_net_create(&b->net, &spec, 1, &err);
    }
    b->set = data ? data : vgg ? "cifar10:tests/data/cifar-10-slice" : "mnist";
    if (st == SBP_OK)
        st = sbp_dataset_open(&b->ds, b->set, SBP_SPLIT_TEST, (size_t)*images, &err);
    const sbp_backend *be = st == SBP_OK ? sbp_backend_get(SBP_BACKEND_CPU, &err) : NULL;
    if (st != SBP_OK || !be ||
        sbp_engine_init(&b->e, b->net, T, be, 1, SBP_BACKWARD_EXACT, 0, &err) != SBP_OK) {
        fprintf(stderr, "%s: %s\n", who, err.msg);
        sbp_dataset_free(b->ds);
        sbp_net_free(b->net);
        return 1;
    }
    if ((size_t)*images > sbp_dataset_count(b->ds))
        *images = (int)sbp_dataset_count(b->ds);
    sbp_engine_set_weights(&b->e, b->net->params);
    sbp_engine_clear_masks(&b->e);
    return 0;
}

static inline void bench_spikes_close(bench_spikes *b)
{
    sbp_engine_release(&b->e);
    sbp_dataset_free(b->ds);
    sbp_net_free(b->net);
}

#endif
