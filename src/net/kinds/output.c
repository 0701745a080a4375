/*
 * output.c — the output kind: a fully connected synapse (dense.c) into non-spiking leaky
 * integrators, o = M[T−1]/T (§1). The last layer of every network and only that one.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "core/error.h"
#include "net/kinds/kind.h"

/* A bare count "n": n classes. */
static int notation_parse(sbp_layer_spec *l, const char *tok)
{
    const char *p = tok;
    long n = sbp_kind_parse_count(&p);
    if (n <= 0 || *p != '\0')
        return 0;
    l->kind = SBP_LAYER_OUTPUT;
    l->out = (int)n;
    return 1;
}

static sbp_status notation_format(const sbp_layer_spec *l, int i, char *tok, size_t size,
                                  sbp_error *err)
{
    (void)i, (void)err;
    snprintf(tok, size, "-%d", l->out);
    return SBP_OK;
}

static const sbp_kind_key keys[] = {
    {"classes", SBP_KEY_INT, offsetof(sbp_layer_spec, out), 1, 1 << 16, 1},
};

static sbp_status infer(sbp_layer *L, const sbp_net_spec *spec, int i, sbp_error *err)
{
    (void)spec;
    sbp_status st = sbp_kind_fc_infer(L, "output", i, err);
    L->neuron = SBP_NEURON_INTEGRATOR;
    L->threshold = INFINITY; /* never spikes */
    return st;
}

static void label(const sbp_layer_spec *s, char *buf, size_t size)
{
    snprintf(buf, size, "%d out", s->out);
}

const sbp_kind sbp_kind_output = {
    .name = "output",
    .flags = SBP_KIND_FINAL,
    .notation = "a final class count",
    .notation_parse = notation_parse,
    .notation_format = notation_format,
    .keys = keys,
    .n_keys = sizeof keys / sizeof keys[0],
    .infer = infer,
    .param_shape = sbp_kind_fc_param_shape,
    .init = sbp_kind_init_normal,
    .fanout = sbp_kind_fc_fanout,
    .macs = sbp_kind_macs_weighted,
    .label = label,
};
