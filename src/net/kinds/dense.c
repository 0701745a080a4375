/*
 * dense.c — the fully connected kind: no bias, feeding LIF neurons (§1). Its synapse (shape
 * inference, weight shape, fan-out) is shared with the output kind, which differs only in its
 * neurons (output.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "net/kinds/kind.h"

/* "nFC": n features. */
static int notation_parse(sbp_layer_spec *l, const char *tok)
{
    const char *p = tok;
    long n = sbp_kind_parse_count(&p);
    if (n <= 0 || strcmp(p, "FC") != 0)
        return 0;
    l->kind = SBP_LAYER_DENSE;
    l->out = (int)n;
    return 1;
}

static sbp_status notation_format(const sbp_layer_spec *l, int i, char *tok, size_t size,
                                  sbp_error *err)
{
    (void)i, (void)err;
    snprintf(tok, size, "-%dFC", l->out);
    return SBP_OK;
}

static const sbp_kind_key keys[] = {
    {"units", SBP_KEY_INT, offsetof(sbp_layer_spec, out), 1, 1 << 16, 1},
    {"dropout", SBP_KEY_FLOAT, offsetof(sbp_layer_spec, dropout), 0.0, 0.999, 0},
    {"name", SBP_KEY_NAME, 0, 0, 0, 0},
};

sbp_status sbp_kind_fc_infer(sbp_layer *L, const char *name, int i, sbp_error *err)
{
    const sbp_layer_spec *s = &L->spec;
    sbp_status st = sbp_kind_check_out(L, name, i, err);
    if (st != SBP_OK)
        return st;
    if (s->out <= 0)
        return sbp_fail(err, SBP_ERR_SHAPE, "network: layer %d (%s): %d features", i + 1, name,
                        s->out);
    L->out_c = s->out;
    L->out_h = L->out_w = 1;
    L->fan_in = L->in_c * L->in_h * L->in_w; /* the input flattened in (C, H, W) order */
    L->w_count = (size_t)s->out * (size_t)L->fan_in;
    return SBP_OK;
}

static sbp_status infer(sbp_layer *L, const sbp_net_spec *spec, int i, sbp_error *err)
{
    (void)spec;
    return sbp_kind_fc_infer(L, "dense", i, err);
}

int sbp_kind_fc_param_shape(const sbp_layer *L, size_t shape[4])
{
    shape[0] = L->n_out; /* PyTorch Linear: (out, in) */
    shape[1] = L->n_in;
    return 2;
}

/* Every input reaches every output neuron. */
uint32_t sbp_kind_fc_fanout(const sbp_layer *L, int paramfree, size_t i)
{
    (void)paramfree, (void)i;
    return (uint32_t)L->n_out;
}

static void label(const sbp_layer_spec *s, char *buf, size_t size)
{
    snprintf(buf, size, "%dFC", s->out);
}

const sbp_kind sbp_kind_dense = {
    .name = "dense",
    .flags = SBP_KIND_DROPOUT,
    .notation = "nFC",
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
