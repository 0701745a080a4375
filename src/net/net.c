/*
 * net.c — turning a description into a network: shape inference with errors that name the
 * layer, the flat parameter arena, and §4's initialisation. What differs between layer kinds
 * (output shape, neuron model, weight count, how weights are drawn) is the kind's row
 * (kinds/kind.h); what is checked here holds for every kind.
 */
#include "net/net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "net/kinds/kind.h"
#include "net/shortcut.h"

sbp_status sbp_net_resolve(sbp_layer *layers, sbp_layer *shortcuts, size_t *n_params,
                           const sbp_net_spec *spec, sbp_error *err)
{
    if (spec->in_c <= 0 || spec->in_h <= 0 || spec->in_w <= 0)
        return sbp_fail(err, SBP_ERR_SHAPE, "network: input shape %dx%dx%d is not positive",
                        spec->in_h, spec->in_w, spec->in_c);
    if (spec->n_layers < 1 || spec->n_layers > SBP_MAX_LAYERS)
        return sbp_fail(err, SBP_ERR_SHAPE, "network: %d layers (need 1 … %d)", spec->n_layers,
                        SBP_MAX_LAYERS);
    if (!(spec->leak > 0.0f && spec->leak <= 1.0f) || !(spec->vth > 0.0f && isfinite(spec->vth)) ||
        !(spec->vth_pool > 0.0f && isfinite(spec->vth_pool)) ||
        !(spec->init_gain > 0.0f && isfinite(spec->init_gain)))
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "network: neuron constants out of range (leak %g, vth %g, pool vth %g, "
                        "init gain %g)",
                        spec->leak, spec->vth, spec->vth_pool, spec->init_gain);
    /* Size limits keep every count within the int and uint32 fields that hold it (layer.h,
     * model files) and reject absurd descriptions before anything is allocated. */
    const long max_side = 1 << 16, max_count = 1L << 30;
    if (spec->in_c > max_side || spec->in_h > max_side || spec->in_w > max_side ||
        (long)spec->in_c * spec->in_h * spec->in_w > max_count)
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "network: input %dx%dx%d is too large (at most %ld per side and %ld "
                        "values)", spec->in_h, spec->in_w, spec->in_c, max_side, max_count);
    int c = spec->in_c, h = spec->in_h, w = spec->in_w;
    size_t off = 0;
    for (int i = 0; i < spec->n_layers; i++) {
        const sbp_layer_spec *s = &spec->layers[i];
        sbp_layer *L = &layers[i];
        memset(L, 0, sizeof *L);
        L->spec = *s;
        L->in_c = c;
        L->in_h = h;
        L->in_w = w;
        L->leak = spec->leak;
        L->threshold = spec->vth;
        L->neuron = SBP_NEURON_LIF;
        const sbp_kind *K = sbp_kind_of(s->kind);
        if (!K)
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "network: layer %d: unknown kind %d", i + 1,
                            (int)s->kind);
        const int final = (K->flags & SBP_KIND_FINAL) != 0;
        if (final != (i == spec->n_layers - 1))
            return sbp_fail(err, SBP_ERR_SHAPE,
                            "network: layer %d (%s): the output layer must be the last and only "
                            "the last",
                            i + 1, K->name);
        if (!(s->dropout >= 0.0f && s->dropout < 1.0f))
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "network: layer %d: dropout %g not in [0, 1)",
                            i + 1, s->dropout);
        if (s->dropout > 0.0f && !(K->flags & SBP_KIND_DROPOUT))
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "network: layer %d (%s): dropout applies only to hidden LIF layers",
                            i + 1, K->name);
        if (s->kernel > 64 || s->stride > max_side || s->pad > 64) /* `out`: the row checks */
            return sbp_fail(err, SBP_ERR_SHAPE,
                            "network: layer %d (%s): size out of range (out %d, kernel %d, "
                            "stride %d, padding %d)",
                            i + 1, K->name, s->out, s->kernel, s->stride, s->pad);
        sbp_status st = K->infer(L, spec, i, err);
        if (st != SBP_OK)
            return st;
        L->n_in = (size_t)c * h * w;
        L->n_out = (size_t)L->out_c * L->out_h * L->out_w;
        if (L->n_out > (size_t)max_count || L->w_count > ((size_t)1 << 32))
            return sbp_fail(err, SBP_ERR_SHAPE,
                            "network: layer %d (%s) is too large (%zu neurons, %zu weights; at "
                            "most %ld and %zu)", i + 1, K->name, L->n_out,
                            L->w_count, max_count, (size_t)1 << 32);
        L->w_offset = off;
        off += L->w_count;
        if (s->shortcut != SBP_SHORTCUT_NONE) {
            if (!shortcuts)
                return sbp_fail(err, SBP_ERR_INVALID_ARG,
                                "network: layer %d has a shortcut but no room was given for it",
                                i + 1);
            st = sbp_shortcut_resolve(&shortcuts[i], L, layers, i, spec, &off, err);
            if (st != SBP_OK)
                return st;
        }
        c = L->out_c;
        h = L->out_h;
        w = L->out_w;
    }
    *n_params = off;
    return SBP_OK;
}

sbp_status sbp_net_alloc(sbp_net **out, const sbp_net_spec *spec, sbp_error *err)
{
    *out = NULL;
    sbp_net *net = calloc(1, sizeof *net);
    if (!net)
        return sbp_fail(err, SBP_ERR_NOMEM, "network: out of memory");
    net->spec = *spec;
    net->n_layers = spec->n_layers;
    sbp_status st = sbp_net_resolve(net->layers, net->shortcuts, &net->n_params, spec, err);
    if (st != SBP_OK) {
        free(net);
        return st;
    }
    net->params = calloc(net->n_params ? net->n_params : 1, sizeof(float));
    if (!net->params) {
        size_t n = net->n_params;
        free(net);
        return sbp_fail(err, SBP_ERR_NOMEM, "network: cannot allocate %zu weights", n);
    }
    *out = net;
    return SBP_OK;
}

void sbp_net_init_weights(sbp_net *net, uint64_t seed)
{
    sbp_rng_key key = sbp_rng_key_make(seed, SBP_RNG_INIT);
    const float gain = net->spec.init_gain;
    for (int i = 0; i < net->n_layers; i++) {
        const sbp_layer *L = &net->layers[i];
        if (L->w_count)
            sbp_kind_of(L->spec.kind)->init(net->params + L->w_offset, L, gain, key,
                                            (uint32_t)i, 0);
        if (L->sc && L->sc->w_count) /* §4: shortcuts drawn the same way, fan_in = C_in */
            sbp_kind_of(L->sc->spec.kind)->init(net->params + L->sc->w_offset, L->sc, gain, key,
                                                (uint32_t)i, 1);
    }
}

sbp_status sbp_net_create(sbp_net **out, const sbp_net_spec *spec, uint64_t seed, sbp_error *err)
{
    sbp_status st = sbp_net_alloc(out, spec, err);
    if (st == SBP_OK)
        sbp_net_init_weights(*out, seed);
    return st;
}

void sbp_net_free(sbp_net *net)
{
    if (!net)
        return;
    free(net->params);
    free(net);
}

const sbp_net_spec *sbp_net_get_spec(const sbp_net *net)
{
    return &net->spec;
}

size_t sbp_net_param_count(const sbp_net *net)
{
    return net->n_params;
}

void sbp_net_layer_shape(const sbp_net *net, int i, int *c, int *h, int *w)
{
    const sbp_layer *L = &net->layers[i];
    if (c)
        *c = L->out_c;
    if (h)
        *h = L->out_h;
    if (w)
        *w = L->out_w;
}

float *sbp_net_shortcut_weights(sbp_net *net, int i, size_t *count)
{
    const sbp_layer *sc = net->layers[i].sc;
    if (count)
        *count = sc ? sc->w_count : 0;
    return sc && sc->w_count ? net->params + sc->w_offset : NULL;
}

float *sbp_net_layer_weights(sbp_net *net, int i, size_t *count)
{
    const sbp_layer *L = &net->layers[i];
    if (count)
        *count = L->w_count;
    return L->w_count ? net->params + L->w_offset : NULL;
}

sbp_status sbp_net_set_meta(sbp_net *net, const char *key, const char *value, sbp_error *err)
{
    size_t kl = strlen(key), vl = strlen(value);
    if (kl == 0 || kl >= sizeof net->meta_key[0] || vl >= sizeof net->meta_val[0])
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "model metadata '%.40s': key or value too long (%zu and %zu bytes; at "
                        "most %zu and %zu)", key, kl, vl, sizeof net->meta_key[0] - 1,
                        sizeof net->meta_val[0] - 1);
    for (size_t i = 0; i < kl; i++)
        if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= '0' && key[i] <= '9') ||
              key[i] == '_'))
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "model metadata key '%s': only a-z, 0-9 and _ are allowed", key);
    for (size_t i = 0; i < vl; i++)
        if ((unsigned char)value[i] < 32)
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "model metadata '%s': value has a control character", key);
    int slot = -1;
    for (int i = 0; i < net->n_meta; i++)
        if (strcmp(net->meta_key[i], key) == 0)
            slot = i;
    if (slot < 0) {
        if (net->n_meta >= SBP_NET_MAX_META)
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "model metadata: more than %d entries",
                            SBP_NET_MAX_META);
        slot = net->n_meta++;
        memcpy(net->meta_key[slot], key, kl + 1);
    }
    memcpy(net->meta_val[slot], value, vl + 1);
    return SBP_OK;
}

const char *sbp_net_get_meta(const sbp_net *net, const char *key)
{
    for (int i = 0; i < net->n_meta; i++)
        if (strcmp(net->meta_key[i], key) == 0)
            return net->meta_val[i];
    return NULL;
}
