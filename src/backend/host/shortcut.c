/* shortcut.c — subsample and identity shortcuts (§1 residual block; §3 "the stride-2
 * subsample scatters g_U[t] to the even positions"). Channel-first for the reference
 * backend, channel-last for the cpu backend (net/layer.h); the sampled positions are the same. */
#include "backend/host/shortcut.h"

/* Index of channel c at (y, x) of an h×w map with C channels. */
static inline size_t at(int channel_last, int C, int h, int w, int c, int y, int x)
{
    return channel_last ? ((size_t)y * w + x) * C + c : ((size_t)c * h + y) * w + x;
}

void sbp_shortcut_forward_add(float *I, const float *x, const sbp_layer *sc, int tc,
                              int channel_last)
{
    const int C = sc->out_c, H = sc->in_h, W = sc->in_w, Ho = sc->out_h, Wo = sc->out_w;
    const int s = sc->spec.stride;
    for (int t = 0; t < tc; t++) {
        const float *xt = x + (size_t)t * sc->n_in;
        float *o = I + (size_t)t * sc->n_out;
        for (int c = 0; c < C; c++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++)
                    o[at(channel_last, C, Ho, Wo, c, oy, ox)] += xt[at(channel_last, C, H, W, c, s * oy, s * ox)];
    }
}

void sbp_shortcut_backward_add(float *dx, const float *gI, const sbp_layer *sc, int tc,
                               int channel_last)
{
    const int C = sc->out_c, H = sc->in_h, W = sc->in_w, Ho = sc->out_h, Wo = sc->out_w;
    const int s = sc->spec.stride;
    for (int t = 0; t < tc; t++) {
        float *xt = dx + (size_t)t * sc->n_in;
        const float *g = gI + (size_t)t * sc->n_out;
        for (int c = 0; c < C; c++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++)
                    xt[at(channel_last, C, H, W, c, s * oy, s * ox)] += g[at(channel_last, C, Ho, Wo, c, oy, ox)];
    }
}
