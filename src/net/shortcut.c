/*
 * shortcut.c — residual shortcuts: names, and the geometry of a 1×1 convolution from the
 * block input, inferred by the conv row itself so that a shortcut is a conv in every table
 * (kernels, parameter shapes, initialisation, analysis).
 */
#include "net/shortcut.h"

#include <string.h>

#include "core/error.h"
#include "net/kinds/kind.h"

static const char *const shortcut_names[] = {
    [SBP_SHORTCUT_NONE] = "none",
    [SBP_SHORTCUT_CONV] = "conv",
    [SBP_SHORTCUT_SUBSAMPLE] = "subsample",
    [SBP_SHORTCUT_IDENTITY] = "identity",
};
_Static_assert(sizeof shortcut_names / sizeof shortcut_names[0] == SBP_SHORTCUT_COUNT,
               "one name per shortcut kind");

const char *sbp_shortcut_name(sbp_shortcut s)
{
    return (unsigned)s < SBP_SHORTCUT_COUNT ? shortcut_names[s] : "?";
}

sbp_shortcut sbp_shortcut_find(const char *name)
{
    for (int k = 0; k < SBP_SHORTCUT_COUNT; k++)
        if (!strcmp(name, shortcut_names[k]))
            return (sbp_shortcut)k;
    return SBP_SHORTCUT_COUNT;
}

sbp_status sbp_shortcut_resolve(sbp_layer *sc, sbp_layer *L, const sbp_layer *layers, int i,
                                const sbp_net_spec *spec, size_t *off, sbp_error *err)
{
    const sbp_layer_spec *s = &spec->layers[i];
    if ((unsigned)s->shortcut >= SBP_SHORTCUT_COUNT)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "network: layer %d: unknown shortcut kind %d",
                        i + 1, (int)s->shortcut);
    if (!(sbp_kind_of(s->kind)->flags & SBP_KIND_SHORTCUT))
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "network: layer %d (%s): only convolution layers take a shortcut", i + 1,
                        sbp_layer_kind_name(s->kind));
    if (s->shortcut_from < -1 || s->shortcut_from >= i)
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "network: layer %d: shortcut from layer %d — it must come from the input "
                        "(0) or an earlier layer",
                        i + 1, s->shortcut_from + 1);
    int c, h, w;
    if (s->shortcut_from < 0) {
        c = spec->in_c, h = spec->in_h, w = spec->in_w;
    } else {
        const sbp_layer *F = &layers[s->shortcut_from];
        if (F->neuron == SBP_NEURON_INTEGRATOR)
            return sbp_fail(err, SBP_ERR_SHAPE, "network: layer %d: shortcut from the output",
                            i + 1);
        c = F->out_c, h = F->out_h, w = F->out_w;
    }
    memset(sc, 0, sizeof *sc);
    sc->spec.kind = SBP_LAYER_CONV;
    sc->spec.out = L->out_c;
    sc->spec.kernel = 1;
    sc->spec.stride = s->shortcut == SBP_SHORTCUT_SUBSAMPLE ? 2
                    : s->shortcut == SBP_SHORTCUT_IDENTITY  ? 1
                                                            : s->stride;
    sc->in_c = c, sc->in_h = h, sc->in_w = w;
    sc->neuron = SBP_NEURON_LIF; /* the layer's; the shortcut only adds current */
    /* A 1×1 kernel without padding always fits: the conv row cannot fail here. */
    sbp_status st = sbp_kind_conv.infer(sc, spec, i, err);
    if (st != SBP_OK)
        return st;
    sc->n_in = (size_t)c * h * w;
    sc->n_out = L->n_out;
    if (sc->out_h != L->out_h || sc->out_w != L->out_w)
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "network: layer %d: the %s shortcut maps %dx%d to %dx%d but the layer "
                        "outputs %dx%d",
                        i + 1, sbp_shortcut_name(s->shortcut), h, w, sc->out_h, sc->out_w,
                        L->out_h, L->out_w);
    if (s->shortcut != SBP_SHORTCUT_CONV && c != L->out_c)
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "network: layer %d: a %s shortcut needs equal channels (%d in, %d out); "
                        "use a conv shortcut",
                        i + 1, sbp_shortcut_name(s->shortcut), c, L->out_c);
    if (s->shortcut == SBP_SHORTCUT_CONV) {
        sc->w_offset = *off;
        *off += sc->w_count;
    } else {
        sc->w_count = 0; /* subsample and identity copy, they do not weigh */
    }
    L->sc = sc;
    return SBP_OK;
}
