/*
 * conv.c — the convolution kind: a k×k convolution with stride and zero padding, no bias,
 * feeding LIF neurons (§1). Residual shortcuts use this row too: a 1×1 conv from the block
 * input (net/shortcut.c).
 */
#include <stddef.h>
#include <stdio.h>

#include "core/error.h"
#include "net/kinds/kind.h"

/* "nCk" or "nCk/s": n filters of k×k, stride s (1), padding (k−1)/2. */
static int notation_parse(sbp_layer_spec *l, const char *tok)
{
    const char *p = tok;
    long n = sbp_kind_parse_count(&p);
    if (n <= 0 || *p != 'C')
        return 0;
    p++;
    long k = sbp_kind_parse_count(&p), s = 1;
    if (k > 0 && *p == '/') {
        p++;
        s = sbp_kind_parse_count(&p);
    }
    if (k <= 0 || s <= 0 || *p != '\0')
        return 0;
    l->kind = SBP_LAYER_CONV;
    l->out = (int)n;
    l->kernel = (int)k;
    l->stride = (int)s;
    l->pad = (int)(k - 1) / 2;
    return 1;
}

static sbp_status notation_format(const sbp_layer_spec *l, int i, char *tok, size_t size,
                                  sbp_error *err)
{
    if (l->pad != (l->kernel - 1) / 2)
        return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                        "network notation: layer %d has padding %d, which the paper's "
                        "notation cannot express",
                        i + 1, l->pad);
    if (l->stride == 1)
        snprintf(tok, size, "-%dC%d", l->out, l->kernel);
    else
        snprintf(tok, size, "-%dC%d/%d", l->out, l->kernel, l->stride);
    return SBP_OK;
}

enum { KEY_PAD = 3 }; /* index of "pad" below */

static const sbp_kind_key keys[] = {
    {"filters", SBP_KEY_INT, offsetof(sbp_layer_spec, out), 1, 1 << 16, 1},
    {"kernel", SBP_KEY_INT, offsetof(sbp_layer_spec, kernel), 1, 64, 1},
    {"stride", SBP_KEY_INT, offsetof(sbp_layer_spec, stride), 1, 64, 0},
    [KEY_PAD] = {"pad", SBP_KEY_INT, offsetof(sbp_layer_spec, pad), 0, 64, 0},
    {"dropout", SBP_KEY_FLOAT, offsetof(sbp_layer_spec, dropout), 0.0, 0.999, 0},
    {"shortcut", SBP_KEY_SHORTCUT, 0, 0, 0, 0},
    {"from", SBP_KEY_FROM, 0, 0, 0, 0},
    {"name", SBP_KEY_NAME, 0, 0, 0, 0},
};

static void section_defaults(sbp_layer_spec *l)
{
    l->stride = 1;
}

static void section_complete(sbp_layer_spec *l, unsigned given)
{
    if (!(given & 1u << KEY_PAD)) /* "same" padding for odd k, as in the notation */
        l->pad = (l->kernel - 1) / 2;
}

static sbp_status infer(sbp_layer *L, const sbp_net_spec *spec, int i, sbp_error *err)
{
    (void)spec;
    const sbp_layer_spec *s = &L->spec;
    sbp_status st = sbp_kind_check_out(L, "conv", i, err);
    if (st != SBP_OK)
        return st;
    const int k = s->kernel, str = s->stride, p = s->pad, h = L->in_h, w = L->in_w;
    if (s->out <= 0 || k <= 0 || str <= 0 || p < 0 || p >= k)
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "network: layer %d (conv): filters %d, kernel %d, stride %d, "
                        "padding %d are not valid",
                        i + 1, s->out, k, str, p);
    if (h + 2 * p < k || w + 2 * p < k)
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "network: layer %d (conv): %dx%d kernel larger than the padded "
                        "%dx%d input",
                        i + 1, k, k, h + 2 * p, w + 2 * p);
    L->out_c = s->out;
    L->out_h = (h + 2 * p - k) / str + 1;
    L->out_w = (w + 2 * p - k) / str + 1;
    L->fan_in = k * k * L->in_c;
    L->w_count = (size_t)s->out * (size_t)L->fan_in;
    return SBP_OK;
}

static int param_shape(const sbp_layer *L, size_t shape[4])
{
    shape[0] = (size_t)L->out_c; /* PyTorch Conv2d: (C_out, C_in, k, k) */
    shape[1] = (size_t)L->in_c;
    shape[2] = shape[3] = (size_t)L->spec.kernel;
    return 4;
}

/* Kernel taps ky ∈ [0, k) through which input row `pos` reaches a valid output row:
 * output o = (pos + pad − ky)/stride must be an integer in [0, out). */
static uint32_t axis_fanout(int pos, int k, int stride, int pad, int out)
{
    uint32_t n = 0;
    for (int ky = 0; ky < k; ky++) {
        int q = pos + pad - ky;
        if (q >= 0 && q % stride == 0 && q / stride < out)
            n++;
    }
    return n;
}

static uint32_t fanout(const sbp_layer *L, int paramfree, size_t i)
{
    const size_t P = (size_t)L->in_h * L->in_w;
    const int y = (int)(i % P) / L->in_w, x = (int)(i % P) % L->in_w;
    const int k = L->spec.kernel, s = L->spec.stride, p = L->spec.pad;
    uint32_t taps = axis_fanout(y, k, s, p, L->out_h) * axis_fanout(x, k, s, p, L->out_w);
    return paramfree ? taps : (uint32_t)L->out_c * taps;
}

static void label(const sbp_layer_spec *s, char *buf, size_t size)
{
    if (s->stride != 1)
        snprintf(buf, size, "%dC%d/%d", s->out, s->kernel, s->stride);
    else
        snprintf(buf, size, "%dC%d", s->out, s->kernel);
}

const sbp_kind sbp_kind_conv = {
    .name = "conv",
    .flags = SBP_KIND_DROPOUT | SBP_KIND_SHORTCUT,
    .notation = "nCk, nCk/s",
    .notation_parse = notation_parse,
    .notation_format = notation_format,
    .keys = keys,
    .n_keys = sizeof keys / sizeof keys[0],
    .section_defaults = section_defaults,
    .section_complete = section_complete,
    .infer = infer,
    .param_shape = param_shape,
    .init = sbp_kind_init_normal,
    .fanout = fanout,
    .macs = sbp_kind_macs_weighted,
    .label = label,
};
