/*
 * spec.h — what every network description starts from: the neuron constants of §1 and the
 * initialisation gain of §4, no input and no layers. The notation parser (notation.c) and the
 * description parser (netfile.c) both begin here; inline so that neither calls the other's
 * level.
 */
#ifndef SBP_NET_SPEC_H
#define SBP_NET_SPEC_H

#include <string.h>

#include "spikebp.h"

static inline void sbp_net_spec_defaults(sbp_net_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->leak = 0.99f;
    spec->vth = 1.0f;
    spec->vth_pool = 0.75f;
    spec->init_gain = 2.0f;
}

#endif
