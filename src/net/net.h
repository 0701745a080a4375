/*
 * net.h — the resolved network behind the opaque sbp_net: layer geometry plus one flat
 * parameter arena with a view per layer (STYLE 4: one memset, one write, one reduction).
 */
#ifndef SBP_NET_NET_H
#define SBP_NET_NET_H

#include "net/layer.h"
#include "spikebp.h"

#define SBP_NET_MAX_META 48

struct sbp_net {
    sbp_net_spec spec;
    int n_layers;
    sbp_layer layers[SBP_MAX_LAYERS];
    sbp_layer shortcuts[SBP_MAX_LAYERS]; /* geometry of layers[i].sc when it has one */
    size_t n_params;
    float *params; /* (n_params) every weight, layer after layer, PyTorch layout per layer */
    int n_meta;
    char meta_key[SBP_NET_MAX_META][32];
    char meta_val[SBP_NET_MAX_META][1024];
};

/* Resolves shapes, neuron constants and weight offsets of `spec` into layers[] (no
 * allocation). Errors name the offending layer. */
sbp_status sbp_net_resolve(sbp_layer *layers, sbp_layer *shortcuts, size_t *n_params,
                           const sbp_net_spec *spec, sbp_error *err);

/* Draws every weight from N(0, init_gain/fan_in) (§4) with the INIT stream of `seed`. */
void sbp_net_init_weights(sbp_net *net, uint64_t seed);

/* Builds a net from a spec with zeroed weights (used by sbp_net_load). Caller frees. */
sbp_status sbp_net_alloc(sbp_net **out, const sbp_net_spec *spec, sbp_error *err);

#endif
