/*
 * dense.c — fully connected synapses for a chunk of tc steps (§1; §3 dW = Σ_t gI ⊗ x[t],
 * g_x[t] = Wᵀ gI[t]). The fast versions are one SGEMM each over all tc steps.
 */
#include "layers/dense.h"

#include "core/blas.h"
#include <string.h>

void sbp_dense_forward_ref(float *I, const float *x, const float *W, const sbp_layer *L, int tc)
{
    const size_t nin = L->n_in, nout = L->n_out;
    for (size_t o = 0; o < nout; o++)
        for (int t = 0; t < tc; t++) {
            float acc = 0.0f;
            for (size_t i = 0; i < nin; i++)
                acc += W[o * nin + i] * x[(size_t)t * nin + i];
            I[o * tc + t] = acc;
        }
}

void sbp_dense_backward_ref(float *dx, float *dW, const float *gI, const float *x,
                            const float *W, const sbp_layer *L, int tc)
{
    const size_t nin = L->n_in, nout = L->n_out;
    if (dx)
        memset(dx, 0, sizeof(float) * (size_t)tc * nin);
    for (size_t o = 0; o < nout; o++)
        for (int t = 0; t < tc; t++) {
            float g = gI[o * tc + t];
            if (g == 0.0f)
                continue;
            for (size_t i = 0; i < nin; i++) {
                dW[o * nin + i] += g * x[(size_t)t * nin + i];
                if (dx)
                    dx[(size_t)t * nin + i] += g * W[o * nin + i];
            }
        }
}

void sbp_dense_forward_fast(float *I, const float *x, const float *W, const sbp_layer *L, int tc)
{
    const int nin = (int)L->n_in, nout = (int)L->n_out;
    /* I (out, tc) = W (out, in) × xᵀ (in, tc) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nout, tc, nin, 1.0f, W, nin, x, nin,
                0.0f, I, tc);
}

void sbp_dense_backward_fast(float *dx, float *dW, const float *gI, const float *x,
                             const float *W, const sbp_layer *L, int tc)
{
    const int nin = (int)L->n_in, nout = (int)L->n_out;
    /* dW (out, in) += gI (out, tc) × x (tc, in) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nout, nin, tc, 1.0f, gI, tc, x, nin,
                1.0f, dW, nin);
    if (dx) /* dx (tc, in) = gIᵀ (tc, out) × W (out, in) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, tc, nin, nout, 1.0f, gI, tc, W, nin,
                    0.0f, dx, nin);
}
