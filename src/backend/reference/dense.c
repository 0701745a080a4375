/*
 * dense.c — the reference fully connected synapses (§1; §3 dW = Σ_t gI ⊗ x[t],
 * g_x[t] = Wᵀ gI[t]): direct loops, weights in PyTorch layout (out, in).
 */
#include "backend/reference/reference.h"

#include <string.h>

void sbp_dense_forward_ref(float *I, const float *x, const float *W, const sbp_layer *L, int tc,
                           float *ws)
{
    const size_t nin = L->n_in, nout = L->n_out;
    for (size_t o = 0; o < nout; o++)
        for (int t = 0; t < tc; t++) {
            float acc = 0.0f;
            for (size_t i = 0; i < nin; i++)
                acc += W[o * nin + i] * x[(size_t)t * nin + i];
            I[(size_t)t * nout + o] = acc;
        }
}

void sbp_dense_backward_ref(float *dx, float *dW, const float *gI, const float *x,
                            const float *W, const sbp_layer *L, int tc, float *ws)
{
    const size_t nin = L->n_in, nout = L->n_out;
    if (dx)
        memset(dx, 0, sizeof(float) * (size_t)tc * nin);
    for (size_t o = 0; o < nout; o++)
        for (int t = 0; t < tc; t++) {
            float g = gI[(size_t)t * nout + o];
            if (g == 0.0f)
                continue;
            for (size_t i = 0; i < nin; i++) {
                dW[o * nin + i] += g * x[(size_t)t * nin + i];
                if (dx)
                    dx[(size_t)t * nin + i] += g * W[o * nin + i];
            }
        }
}

