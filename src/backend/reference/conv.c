/*
 * conv.c — the reference convolution synapses (§1 forward, §3 weight-gradient correlation and
 * transposed convolution): direct loops that state the maths, channel-first rows
 * x (tc, Cin, H, W), I and gI (tc, Cout, Ho, Wo), weights W in PyTorch layout (Cout, Cin, k, k).
 * The oracle every other backend's convolution is tested against (tests/test_kernels.c).
 */
#include "backend/reference/reference.h"

#include <string.h>

void sbp_conv_forward_ref(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                          float *ws)
{
    const int k = L->spec.kernel, s = L->spec.stride, pad = L->spec.pad;
    const int H = L->in_h, Wd = L->in_w, Ho = L->out_h, Wo = L->out_w, Ci = L->in_c;
    for (int co = 0; co < L->out_c; co++)
        for (int t = 0; t < tc; t++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    float acc = 0.0f;
                    for (int ci = 0; ci < Ci; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * s - pad + ky, ix = ox * s - pad + kx;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= Wd)
                                    continue;
                                acc += W[((co * Ci + ci) * k + ky) * k + kx] *
                                       x[((size_t)(t * Ci + ci) * H + iy) * Wd + ix];
                            }
                    I[(((size_t)t * L->out_c + co) * Ho + oy) * Wo + ox] = acc;
                }
}

void sbp_conv_backward_ref(float *dx, float *dW, const float *gI, const float *x, const float *W,
                           const sbp_layer *L, int tc, float *ws)
{
    const int k = L->spec.kernel, s = L->spec.stride, pad = L->spec.pad;
    const int H = L->in_h, Wd = L->in_w, Ho = L->out_h, Wo = L->out_w, Ci = L->in_c;
    if (dx)
        memset(dx, 0, sizeof(float) * (size_t)tc * L->n_in);
    for (int co = 0; co < L->out_c; co++)
        for (int t = 0; t < tc; t++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    float g = gI[(((size_t)t * L->out_c + co) * Ho + oy) * Wo + ox];
                    if (g == 0.0f)
                        continue;
                    for (int ci = 0; ci < Ci; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * s - pad + ky, ix = ox * s - pad + kx;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= Wd)
                                    continue;
                                size_t wi = ((size_t)(co * Ci + ci) * k + ky) * k + kx;
                                size_t xi = ((size_t)(t * Ci + ci) * H + iy) * Wd + ix;
                                dW[wi] += g * x[xi];
                                if (dx)
                                    dx[xi] += g * W[wi];
                            }
                }
}

