/*
 * conv.c — convolution synapses for a chunk of tc steps (§1, §3 "conv: weight-gradient
 * correlation per step / transposed convolution").
 *
 * Layouts: x (tc, Cin, H, W) time-major; I and gI (Cout, tc, P) so that one GEMM covers every
 * step: I (Cout, tc·P) = W (Cout, K) × col (K, tc·P) with K = Cin·k·k and column t·P + p.
 * The reference versions are direct loops that state the maths, with weights in PyTorch layout
 * (Cout, Cin, k, k); they are the oracle the fast versions are tested against
 * (tests/test_kernels.c). The fast versions take weights in "kernel layout" Wt (K, Cout) — the
 * transpose — so that the weights one input event touches are contiguous, and choose per chunk
 * between an event-driven scatter (sparse input) and im2col + SGEMM (dense input).
 */
#include "layers/conv.h"

#include "core/simd.h"
#include "core/transpose.h"
#include "layers/events.h"

#include "core/blas.h"
#include <string.h>

#define KDIM(L) ((size_t)(L)->in_c * (size_t)(L)->spec.kernel * (size_t)(L)->spec.kernel)

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


static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

size_t sbp_conv_scratch(const sbp_layer *L, int tc)
{
    const size_t N = (size_t)tc * sbp_layer_positions(L);
    size_t gemm = 2 * KDIM(L) * N;
    size_t sparse = 2 * align16(N * (size_t)L->out_c) + sbp_events_scratch(L->n_in, tc);
    return (gemm > sparse ? gemm : sparse) + 16;
}

void sbp_conv_to_kernel_layout(float *Wt, const float *W, const sbp_layer *L)
{
    const size_t K = KDIM(L), C = (size_t)L->out_c;
    for (size_t co = 0; co < C; co++)
        for (size_t k = 0; k < K; k++)
            Wt[k * C + co] = W[co * K + k];
}

void sbp_conv_add_from_kernel_layout(float *dW, const float *dWt, const sbp_layer *L)
{
    const size_t K = KDIM(L), C = (size_t)L->out_c;
    for (size_t co = 0; co < C; co++)
        for (size_t k = 0; k < K; k++)
            dW[co * K + k] += dWt[k * C + co];
}

void sbp_conv_forward_gemm(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc,
                           float *ws)
{
    const size_t K = KDIM(L), N = (size_t)tc * sbp_layer_positions(L);
    im2col(ws, x, L, tc);
    /* I (Cout, N) = Wtᵀ (Cout, K) × col (K, N) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L->out_c, (int)N, (int)K, 1.0f, Wt,
                L->out_c, ws, (int)N, 0.0f, I, (int)N);
}

void sbp_conv_backward_gemm(float *dx, float *dWt, const float *gI, const float *x,
                            const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    const size_t K = KDIM(L), N = (size_t)tc * sbp_layer_positions(L);
    float *col = ws, *dcol = ws + K * N;
    im2col(col, x, L, tc);
    /* dWt (K, Cout) += col (K, N) × gIᵀ (N, Cout) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)K, L->out_c, (int)N, 1.0f, col,
                (int)N, gI, (int)N, 1.0f, dWt, L->out_c);
    if (!dx)
        return;
    /* dcol (K, N) = Wt (K, Cout) × gI (Cout, N) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)K, (int)N, L->out_c, 1.0f, Wt,
                L->out_c, gI, (int)N, 0.0f, dcol, (int)N);
    col2im(dx, dcol, L, tc);
}

/* Output positions a kernel tap (ky, kx) of input (iy, ix) reaches: oy = (iy + pad − ky)/s
 * when that divides exactly and lies inside. Returns −1 when it does not. */
static inline int tap(int i, int pad, int kk, int s, int out)
{
    int num = i + pad - kk;
    if (num < 0 || num % s)
        return -1;
    num /= s;
    return num < out ? num : -1;
}

SBP_HOT void sbp_conv_forward_sparse(float *I, const float *x, const float *Wt, const sbp_layer *L,
                             int tc, float *ws)
{
    const int k = L->spec.kernel, s = L->spec.stride, pad = L->spec.pad;
    const int H = L->in_h, Wd = L->in_w, Ho = L->out_h, Wo = L->out_w;
    const size_t C = (size_t)L->out_c, P = (size_t)Ho * Wo, N = (size_t)tc * P;
    float *acc = ws; /* (tc, P, Cout) */
    size_t nev;
    sbp_events *ev = sbp_events_build(ws + 2 * align16(N * C), x, L->n_in, tc, &nev);
    memset(acc, 0, sizeof(float) * N * C);
    for (int t = 0; t < tc; t++)
        for (size_t e = ev->off[t]; e < ev->off[t + 1]; e++) {
            const uint32_t i = ev->idx[e];
            const float v = ev->val[e];
            const int ci = (int)(i / (uint32_t)(H * Wd)), rem = (int)(i % (uint32_t)(H * Wd));
            const int iy = rem / Wd, ix = rem % Wd;
            for (int ky = 0; ky < k; ky++) {
                int oy = tap(iy, pad, ky, s, Ho);
                if (oy < 0)
                    continue;
                for (int kx = 0; kx < k; kx++) {
                    int ox = tap(ix, pad, kx, s, Wo);
                    if (ox < 0)
                        continue;
                    const float *w = Wt + ((size_t)(ci * k + ky) * k + kx) * C;
                    float *o = acc + ((size_t)t * P + (size_t)oy * Wo + ox) * C;
                    for (size_t c = 0; c < C; c++)
                        o[c] += v * w[c];
                }
            }
        }
    sbp_transpose(I, acc, N, C);
}

SBP_HOT void sbp_conv_backward_sparse(float *dx, float *dWt, const float *gI, const float *x,
                              const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    const int k = L->spec.kernel, s = L->spec.stride, pad = L->spec.pad;
    const int H = L->in_h, Wd = L->in_w, Ho = L->out_h, Wo = L->out_w;
    const size_t C = (size_t)L->out_c, P = (size_t)Ho * Wo, N = (size_t)tc * P;
    float *g = ws; /* (tc, P, Cout) */
    size_t nev;
    sbp_events *ev = sbp_events_build(ws + 2 * align16(N * C), x, L->n_in, tc, &nev);
    sbp_transpose(g, gI, C, N);
    if (dx)
        memset(dx, 0, sizeof(float) * (size_t)tc * L->n_in);
    for (int t = 0; t < tc; t++)
        for (size_t e = ev->off[t]; e < ev->off[t + 1]; e++) {
            const uint32_t i = ev->idx[e];
            const float v = ev->val[e];
            const int ci = (int)(i / (uint32_t)(H * Wd)), rem = (int)(i % (uint32_t)(H * Wd));
            const int iy = rem / Wd, ix = rem % Wd;
            /* dx at this event: Σ over taps and channels of w·g, reduced across channels
             * once per event rather than once per tap. */
            float *dacc = g + N * C; /* (Cout) */
            for (size_t c = 0; c < C; c++)
                dacc[c] = 0.0f;
            for (int ky = 0; ky < k; ky++) {
                int oy = tap(iy, pad, ky, s, Ho);
                if (oy < 0)
                    continue;
                for (int kx = 0; kx < k; kx++) {
                    int ox = tap(ix, pad, kx, s, Wo);
                    if (ox < 0)
                        continue;
                    const size_t wi = ((size_t)(ci * k + ky) * k + kx) * C;
                    const float *go = g + ((size_t)t * P + (size_t)oy * Wo + ox) * C;
                    float *dw = dWt + wi;
                    const float *w = Wt + wi;
                    for (size_t c = 0; c < C; c++) {
                        dw[c] += v * go[c];
                        dacc[c] += w[c] * go[c];
                    }
                }
            }
            float d = 0.0f;
            for (size_t c = 0; c < C; c++)
                d += dacc[c];
            if (dx)
                dx[(size_t)t * L->n_in + i] = d;
        }
}

void sbp_conv_forward_fast(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc,
                           float *ws)
{
    size_t nnz = sbp_events_count(x, L->n_in, tc);
    if ((double)nnz <= SBP_SPARSE_MAX_DENSITY * (double)L->n_in * tc)
        sbp_conv_forward_sparse(I, x, Wt, L, tc, ws);
    else
        sbp_conv_forward_gemm(I, x, Wt, L, tc, ws);
}

void sbp_conv_backward_fast(float *dx, float *dWt, const float *gI, const float *x,
                            const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    size_t nnz = sbp_events_count(x, L->n_in, tc);
    if ((double)nnz <= SBP_SPARSE_MAX_DENSITY * (double)L->n_in * tc)
        sbp_conv_backward_sparse(dx, dWt, gI, x, Wt, L, tc, ws);
    else
        sbp_conv_backward_gemm(dx, dWt, gI, x, Wt, L, tc, ws);
}
