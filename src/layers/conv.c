/*
 * conv.c — convolution synapses for a chunk of tc steps (§1, §3 "conv: weight-gradient
 * correlation per step / transposed convolution").
 *
 * Layouts: x (tc, Cin, H, W) time-major; I and gI (Cout, tc, P) so that one GEMM covers every
 * step: I (Cout, tc·P) = W (Cout, K) × col (K, tc·P) with K = Cin·k·k and column t·P + p.
 * The reference versions are direct loops that state the maths; they are the oracle the fast
 * versions are tested against (tests/test_kernels.c).
 */
#include "layers/conv.h"

#include "core/blas.h"
#include <string.h>

#define KDIM(L) ((size_t)(L)->in_c * (size_t)(L)->spec.kernel * (size_t)(L)->spec.kernel)

size_t sbp_conv_scratch(const sbp_layer *L, int tc)
{
    return 2 * KDIM(L) * (size_t)tc * sbp_layer_positions(L);
}

void sbp_conv_forward_ref(float *I, const float *x, const float *W, const sbp_layer *L, int tc)
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
                    I[(((size_t)co * tc + t) * Ho + oy) * Wo + ox] = acc;
                }
}

void sbp_conv_backward_ref(float *dx, float *dW, const float *gI, const float *x, const float *W,
                           const sbp_layer *L, int tc)
{
    const int k = L->spec.kernel, s = L->spec.stride, pad = L->spec.pad;
    const int H = L->in_h, Wd = L->in_w, Ho = L->out_h, Wo = L->out_w, Ci = L->in_c;
    if (dx)
        memset(dx, 0, sizeof(float) * (size_t)tc * L->n_in);
    for (int co = 0; co < L->out_c; co++)
        for (int t = 0; t < tc; t++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    float g = gI[(((size_t)co * tc + t) * Ho + oy) * Wo + ox];
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

/* col (K, tc·P): col[(ci·k + ky)·k + kx][t·P + oy·Wo + ox] = x[t, ci, oy·s − pad + ky, …]. */
static void im2col(float *col, const float *x, const sbp_layer *L, int tc)
{
    const int k = L->spec.kernel, s = L->spec.stride, pad = L->spec.pad;
    const int H = L->in_h, Wd = L->in_w, Ho = L->out_h, Wo = L->out_w, Ci = L->in_c;
    const size_t P = (size_t)Ho * Wo, ld = (size_t)tc * P;
    for (int ci = 0; ci < Ci; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((size_t)(ci * k + ky) * k + kx) * ld;
                for (int t = 0; t < tc; t++) {
                    const float *xc = x + (size_t)(t * Ci + ci) * H * Wd;
                    float *r = row + (size_t)t * P;
                    for (int oy = 0; oy < Ho; oy++) {
                        int iy = oy * s - pad + ky;
                        float *ro = r + (size_t)oy * Wo;
                        if (iy < 0 || iy >= H) {
                            memset(ro, 0, sizeof(float) * Wo);
                            continue;
                        }
                        const float *xr = xc + (size_t)iy * Wd;
                        for (int ox = 0; ox < Wo; ox++) {
                            int ix = ox * s - pad + kx;
                            ro[ox] = (ix >= 0 && ix < Wd) ? xr[ix] : 0.0f;
                        }
                    }
                }
            }
}

/* The adjoint of im2col: dx (tc, Cin, H, W) = Σ over the columns each input fed. */
static void col2im(float *dx, const float *col, const sbp_layer *L, int tc)
{
    const int k = L->spec.kernel, s = L->spec.stride, pad = L->spec.pad;
    const int H = L->in_h, Wd = L->in_w, Ho = L->out_h, Wo = L->out_w, Ci = L->in_c;
    const size_t P = (size_t)Ho * Wo, ld = (size_t)tc * P;
    memset(dx, 0, sizeof(float) * (size_t)tc * L->n_in);
    for (int ci = 0; ci < Ci; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *row = col + ((size_t)(ci * k + ky) * k + kx) * ld;
                for (int t = 0; t < tc; t++) {
                    float *xc = dx + (size_t)(t * Ci + ci) * H * Wd;
                    const float *r = row + (size_t)t * P;
                    for (int oy = 0; oy < Ho; oy++) {
                        int iy = oy * s - pad + ky;
                        if (iy < 0 || iy >= H)
                            continue;
                        float *xr = xc + (size_t)iy * Wd;
                        const float *ro = r + (size_t)oy * Wo;
                        for (int ox = 0; ox < Wo; ox++) {
                            int ix = ox * s - pad + kx;
                            if (ix >= 0 && ix < Wd)
                                xr[ix] += ro[ox];
                        }
                    }
                }
            }
}

void sbp_conv_forward_fast(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                           float *ws)
{
    const size_t K = KDIM(L), N = (size_t)tc * sbp_layer_positions(L);
    im2col(ws, x, L, tc);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L->out_c, (int)N, (int)K, 1.0f, W,
                (int)K, ws, (int)N, 0.0f, I, (int)N);
}

void sbp_conv_backward_fast(float *dx, float *dW, const float *gI, const float *x,
                            const float *W, const sbp_layer *L, int tc, float *ws)
{
    const size_t K = KDIM(L), N = (size_t)tc * sbp_layer_positions(L);
    float *col = ws, *dcol = ws + K * N;
    im2col(col, x, L, tc);
    /* dW (Cout, K) += gI (Cout, N) × colᵀ (N, K) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L->out_c, (int)K, (int)N, 1.0f, gI,
                (int)N, col, (int)N, 1.0f, dW, (int)K);
    if (!dx)
        return;
    /* dcol (K, N) = Wᵀ (K, Cout) × gI (Cout, N) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, L->out_c, 1.0f, W,
                (int)K, gI, (int)N, 0.0f, dcol, (int)N);
    col2im(dx, dcol, L, tc);
}
