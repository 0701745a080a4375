/*
 * pool.c — the reference 2×2 average pooling and its adjoint (§1; §3 "each of the 4 pooled
 * inputs receives g_Up[t]/4"), channel-first rows.
 */
#include "backend/reference/reference.h"

#include <string.h>

void sbp_pool_forward_ref(float *I, const float *x, const sbp_layer *L, int tc)
{
    const int C = L->out_c, H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    for (int t = 0; t < tc; t++)
        for (int c = 0; c < C; c++) {
            const float *xc = x + ((size_t)t * C + c) * H * W;
            float *o = I + ((size_t)t * C + c) * Ho * Wo;
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    const float *a = xc + (size_t)(2 * oy) * W + 2 * ox;
                    o[oy * Wo + ox] = 0.25f * (a[0] + a[1] + a[W] + a[W + 1]);
                }
        }
}

void sbp_pool_backward_ref(float *dx, const float *gI, const sbp_layer *L, int tc)
{
    const int C = L->out_c, H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    memset(dx, 0, sizeof(float) * (size_t)tc * L->n_in);
    for (int t = 0; t < tc; t++)
        for (int c = 0; c < C; c++) {
            float *xc = dx + ((size_t)t * C + c) * H * W;
            const float *g = gI + ((size_t)t * C + c) * Ho * Wo;
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    float q = 0.25f * g[oy * Wo + ox];
                    float *a = xc + (size_t)(2 * oy) * W + 2 * ox;
                    a[0] = q;
                    a[1] = q;
                    a[W] = q;
                    a[W + 1] = q;
                }
        }
}
