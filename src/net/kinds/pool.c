/*
 * pool.c — the pooling kind: 2×2 average pooling with stride 2 feeding integrate-and-fire
 * neurons without leak, threshold θp (§1). No weights, no keys but a name.
 */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "net/kinds/kind.h"

static int notation_parse(sbp_layer_spec *l, const char *tok)
{
    if (strcmp(tok, "P2") != 0)
        return 0;
    l->kind = SBP_LAYER_POOL;
    return 1;
}

static sbp_status notation_format(const sbp_layer_spec *l, int i, char *tok, size_t size,
                                  sbp_error *err)
{
    (void)l, (void)i, (void)err;
    snprintf(tok, size, "-P2");
    return SBP_OK;
}

static const sbp_kind_key keys[] = {
    {"name", SBP_KEY_NAME, 0, 0, 0, 0},
};

static sbp_status infer(sbp_layer *L, const sbp_net_spec *spec, int i, sbp_error *err)
{
    if (L->in_h < 2 || L->in_w < 2)
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "network: layer %d (pool): input %dx%d is smaller than 2x2", i + 1,
                        L->in_h, L->in_w);
    L->out_c = L->in_c;
    L->out_h = L->in_h / 2; /* an odd last row or column is dropped, as in PyTorch */
    L->out_w = L->in_w / 2;
    L->neuron = SBP_NEURON_IF;
    L->leak = 1.0f;
    L->threshold = spec->vth_pool;
    return SBP_OK;
}

static int param_shape(const sbp_layer *L, size_t shape[4])
{
    (void)L, (void)shape;
    return 0;
}

/* One accumulate into the 2×2 window the input falls in, if any. */
static uint32_t fanout(const sbp_layer *L, int paramfree, size_t i)
{
    (void)paramfree;
    const size_t P = (size_t)L->in_h * L->in_w;
    const int y = (int)(i % P) / L->in_w, x = (int)(i % P) % L->in_w;
    return y < 2 * L->out_h && x < 2 * L->out_w ? 1u : 0u;
}

/* An average pool has no multiplications; §8 counts its accumulates as parameter-free. */
static uint64_t macs(const sbp_layer *L)
{
    (void)L;
    return 0;
}

static void label(const sbp_layer_spec *s, char *buf, size_t size)
{
    (void)s;
    snprintf(buf, size, "P2");
}

const sbp_kind sbp_kind_pool = {
    .name = "pool",
    .flags = 0,
    .notation = "P2",
    .notation_parse = notation_parse,
    .notation_format = notation_format,
    .keys = keys,
    .n_keys = sizeof keys / sizeof keys[0],
    .infer = infer,
    .param_shape = param_shape,
    .init = NULL,
    .fanout = fanout,
    .macs = macs,
    .label = label,
};
