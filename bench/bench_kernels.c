/*
 * bench_kernels.c — where the event-driven conv kernels beat im2col + SGEMM: times both on one
 * layer shape over a range of input densities, forward and backward, in one run (ratios are
 * what matter on a shared machine). Used to set SBP_SPARSE_MAX_DENSITY (src/layers/events.h).
 *
 *   build/bench_kernels [Cin Cout H K tc]     default: the VGG9 256→256 layer, 8×8, k3, tc 8
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/conv.h"
#include "net/net.h"
#include "kernel_bench.h"

int main(int argc, char **argv)
{
    int Cin = argc > 5 ? atoi(argv[1]) : 256, Cout = argc > 5 ? atoi(argv[2]) : 256;
    int H = argc > 5 ? atoi(argv[3]) : 8, K = argc > 5 ? atoi(argv[4]) : 3;
    int tc = argc > 5 ? atoi(argv[5]) : 8;
    char notation[128];
    snprintf(notation, sizeof notation, "%dx%dx%d-%dC%d-2", H, H, Cin, Cout, K);
    sbp_net_spec spec;
    sbp_error err = {0};
    sbp_layer layers[SBP_MAX_LAYERS];
    size_t np;
    if (sbp_net_spec_parse(&spec, notation, &err) || sbp_net_resolve(layers, NULL, &np, &spec, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const sbp_layer *L = &layers[0];
    size_t nx = (size_t)tc * L->n_in, nI = (size_t)tc * L->n_out;
    const size_t nk = sbp_conv_weights_floats(L); /* the kernel layout, padding included */
    float *x = malloc(nx * 4), *I = malloc(nI * 4), *W = malloc(nk * 4);
    float *dW = calloc(nk, 4), *dx = malloc(nx * 4), *gI = malloc(nI * 4);
    float *ws = aligned_alloc(64, ((sbp_conv_scratch(L, tc) * 4 + 63) / 64) * 64);
    srand(1);
    for (size_t i = 0; i < nk; i++)
        W[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (size_t i = 0; i < nI; i++)
        gI[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    printf("conv %d->%d, %dx%d, k%d, tc %d\n%8s %12s %12s %8s %12s %12s %8s\n", Cin, Cout, H, H,
           K, tc, "density", "fwd gemm ms", "fwd sparse", "ratio", "bwd gemm ms", "bwd sparse",
           "ratio");
    const double dens[] = {0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5};
    for (size_t di = 0; di < sizeof dens / sizeof dens[0]; di++) {
        for (size_t i = 0; i < nx; i++)
            x[i] = (double)rand() / RAND_MAX < dens[di] ? 1.0f : 0.0f;
        double t[4] = {0};
        const int reps = 5;
        for (int r = 0; r < reps; r++) {
            double a = bench_now();
            sbp_conv_forward_gemm(I, x, W, L, tc, ws);
            double b = bench_now();
            sbp_conv_forward_sparse(I, x, W, L, tc, ws);
            double c = bench_now();
            sbp_conv_backward_gemm(dx, dW, gI, x, W, L, tc, ws);
            double d = bench_now();
            sbp_conv_backward_sparse(dx, dW, gI, x, W, L, tc, ws);
            double e = bench_now();
            t[0] += b - a, t[1] += c - b, t[2] += d - c, t[3] += e - d;
        }
        printf("%8.2f %12.3f %12.3f %8.2f %12.3f %12.3f %8.2f\n", dens[di], 1e3 * t[0] / reps,
               1e3 * t[1] / reps, t[0] / t[1], 1e3 * t[2] / reps, 1e3 * t[3] / reps, t[2] / t[3]);
    }
    free(x), free(I), free(W), free(dW), free(dx), free(gI), free(ws);
    return 0;
}
