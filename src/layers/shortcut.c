/* shortcut.c — subsample and identity shortcuts (§1 residual block; §3 "the stride-2
 * subsample scatters g_U[t] to the even positions"). */
#include "layers/shortcut.h"

void sbp_shortcut_forward_add(float *I, const float *x, const sbp_layer *sc, int tc)
{
    const int C = sc->out_c, H = sc->in_h, W = sc->in_w, Ho = sc->out_h, Wo = sc->out_w;
    const int s = sc->spec.stride;
    for (int c = 0; c < C; c++)
        for (int t = 0; t < tc; t++) {
            const float *xc = x + ((size_t)t * C + c) * H * W;
            float *o = I + ((size_t)c * tc + t) * Ho * Wo;
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++)
                    o[oy * Wo + ox] += xc[(size_t)(s * oy) * W + s * ox];
        }
}

void sbp_shortcut_backward_add(float *dx, const float *gI, const sbp_layer *sc, int tc)
{
    const int C = sc->out_c, H = sc->in_h, W = sc->in_w, Ho = sc->out_h, Wo = sc->out_w;
    const int s = sc->spec.stride;
    for (int c = 0; c < C; c++)
        for (int t = 0; t < tc; t++) {
            float *xc = dx + ((size_t)t * C + c) * H * W;
            const float *g = gI + ((size_t)c * tc + t) * Ho * Wo;
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++)
                    xc[(size_t)(s * oy) * W + s * ox] += g[oy * Wo + ox];
        }
}
