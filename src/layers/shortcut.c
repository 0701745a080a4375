/* shortcut.c — subsample and identity shortcuts (§1 residual block; §3 "the stride-2
 * subsample scatters g_U[t] to the even positions"). Channel-first for the reference,
 * channel-last for the fast path (layer.h); the sampled positions are the same. */
#include "layers/shortcut.h"

/* Index of channel c at (y, x) of an h×w map with C channels in impl's layout. */
static inline size_t at(sbp_impl impl, int C, int h, int w, int c, int y, int x)
{
    return impl == SBP_IMPL_REFERENCE ? ((size_t)c * h + y) * w + x
                                      : ((size_t)y * w + x) * C + c;
}

void sbp_shortcut_forward_add(float *I, const float *x, const sbp_layer *sc, int tc,
                              sbp_impl impl)
{
    const int C = sc->out_c, H = sc->in_h, W = sc->in_w, Ho = sc->out_h, Wo = sc->out_w;
    const int s = sc->spec.stride;
    for (int t = 0; t < tc; t++) {
        const float *xt = x + (size_t)t * sc->n_in;
        float *o = I + (size_t)t * sc->n_out;
        for (int c = 0; c < C; c++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++)
                    o[at(impl, C, Ho, Wo, c, oy, ox)] += xt[at(impl, C, H, W, c, s * oy, s * ox)];
    }
}

void sbp_shortcut_backward_add(float *dx, const float *gI, const sbp_layer *sc, int tc,
                               sbp_impl impl)
{
    const int C = sc->out_c, H = sc->in_h, W = sc->in_w, Ho = sc->out_h, Wo = sc->out_w;
    const int s = sc->spec.stride;
    for (int t = 0; t < tc; t++) {
        float *xt = dx + (size_t)t * sc->n_in;
        const float *g = gI + (size_t)t * sc->n_out;
        for (int c = 0; c < C; c++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++)
                    xt[at(impl, C, H, W, c, s * oy, s * ox)] += g[at(impl, C, Ho, Wo, c, oy, ox)];
    }
}
