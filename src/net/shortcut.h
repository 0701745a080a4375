/*
 * shortcut.h — residual shortcuts (§1 "Residual block"): their names and their geometry, a
 * 1×1 conv row (net/kinds/conv.c) from the block input to the layer's output.
 */
#ifndef SBP_NET_SHORTCUT_H
#define SBP_NET_SHORTCUT_H

#include "net/layer.h"
#include "spikebp.h"

/* The shortcut named `name` ("none", "conv", "subsample", "identity"), or SBP_SHORTCUT_COUNT. */
sbp_shortcut sbp_shortcut_find(const char *name);

/* Resolves the shortcut of layer i (L = &layers[i], already resolved) into *sc: its input is
 * the network input or an earlier layer's output, its output must match L's. Learnable
 * weights are placed at *off, which advances past them. Links L->sc = sc. Errors are
 * SBP_ERR_SHAPE (or SBP_ERR_INVALID_ARG for an unknown shortcut) naming layer i+1. */
sbp_status sbp_shortcut_resolve(sbp_layer *sc, sbp_layer *L, const sbp_layer *layers, int i,
                                const sbp_net_spec *spec, size_t *off, sbp_error *err);

#endif
