/*
 * test_gradcheck.c — tier (b) of STYLE 10: finite differences of the smooth parts.
 *
 * Spikes are discontinuous, so only the linear / smooth maps are checked by finite differences
 * here; the surrogate path (NG, exact-mode gating) is checked against an independent NumPy
 * implementation in test_golden.c.
 *
 *   conv, dense, avg-pool  f(x, W) = Σ gI ⊙ I(x, W) for a fixed random gI, accumulated in double
 *                          from the float I. Central differences (eps 1e-2) on a random sample of
 *                          weight and input coordinates must match dW and dx of every backward
 *                          kernel: reference, gemm, sparse and fast (the last three through the
 *                          kernel-layout conversions). The maps are linear, so the difference
 *                          quotient is exact up to float rounding of I.
 *   output integrator      M[t] = λ(M[t−1] + I[t]), o = M[T−1]/T: ∂o/∂I[t] = λ^(T−t)/T, and
 *                          SPEC §7's o = 0.3138139911 for a constant 0.5, T = 100.
 *   LIF membrane           below threshold V[T−1] = Σ_t λ^(T−t) I[t]; after a spike the membrane
 *                          forgets everything before the reset.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#define TEST_RNG_SEED 0xD1B54A32D192ED03ull
#include "testutil.h"
#include "layout.h"
#include "backend/cpu/conv.h"
#include "backend/cpu/dense.h"
#include "backend/reference/reference.h"
#include "net/layer.h"
#include "backend/host/neuron.h"
#include "backend/cpu/pool.h"
#include "net/net.h"

#define FD_EPS 1e-2f
#define FD_SAMPLES 30

/* ---------------------------------------------------------------- synapse maps */

typedef enum { OP_CONV, OP_DENSE, OP_POOL } op_kind;

typedef struct fd_problem {
    op_kind op;
    const sbp_layer *L;
    int tc;
    float *x, *W, *gI, *I, *ws;
} fd_problem;

/* f = Σ gI ⊙ I(x, W), I by the reference forward, sum in double. */
static double fd_f(fd_problem *p) {
    switch (p->op) {
    case OP_CONV:
        sbp_conv_forward_ref(p->I, p->x, p->W, p->L, p->tc, NULL);
        break;
    case OP_DENSE:
        sbp_dense_forward_ref(p->I, p->x, p->W, p->L, p->tc, NULL);
        break;
    case OP_POOL:
        sbp_pool_forward_ref(p->I, p->x, p->L, p->tc);
        break;
    }
    double f = 0.0;
    for (size_t i = 0; i < (size_t)p->tc * p->L->n_out; i++)
        f += (double)p->gI[i] * p->I[i];
    return f;
}

/* Central difference of f in coordinate v[j]. */
static double fd_partial(fd_problem *p, float *v, size_t j) {
    float keep = v[j];
    v[j] = keep + FD_EPS;
    double fp = fd_f(p);
    v[j] = keep - FD_EPS;
    double fm = fd_f(p);
    v[j] = keep;
    /* divide by the step actually taken in float */
    return (fp - fm) / ((double)(keep + FD_EPS) - (double)(keep - FD_EPS));
}

static int n_fd_checks;
static double worst_rel;

#define N_IMPL 4
static const char *impl_name[N_IMPL] = {"reference", "gemm", "sparse", "fast"};

/* Compares a sample of coordinates of each analytic gradient grads[k] (NULL: skipped) with
 * finite differences in `v`. tol is 1e-3 relative to max(|fd|, the gradient's RMS) so that a
 * tiny component of a large gradient is not held to a relative bound its rounding cannot meet. */
static void fd_compare(fd_problem *p, float *v, size_t n, float *const grads[N_IMPL],
                       const char *tag, const char *name) {
    double rms = 0.0;
    for (size_t i = 0; i < n; i++)
        rms += (double)grads[0][i] * grads[0][i];
    rms = sqrt(rms / (double)n);
    int samples = n < FD_SAMPLES ? (int)n : FD_SAMPLES;
    for (int s = 0; s < samples; s++) {
        size_t j = n <= FD_SAMPLES ? (size_t)s : (size_t)(xorshift() % n);
        double fd = fd_partial(p, v, j);
        double scale = fmax(fabs(fd), fmax(rms, 1e-3));
        for (int k = 0; k < N_IMPL; k++) {
            if (!grads[k])
                continue;
            double e = fabs(grads[k][j] - fd) / scale;
            CHECK(e <= 1e-3, "%s: d/d%s[%zu]: %s backward %.8g, finite difference %.8g", tag, name,
                  j, impl_name[k], grads[k][j], fd);
            worst_rel = fmax(worst_rel, e);
        }
        n_fd_checks++;
    }
}

/* The fast kernels work channel-last; they are called through layout.h's wrappers. */


/* Every backward implementation of `op` at (x, W) for gI: dW (PyTorch layout, from 0) and dx
 * per implementation [reference, gemm, sparse, fast]; the kernel-layout ones go through
 * *_to_kernel_layout / *_add_from_kernel_layout. Also checks that each forward gives the same
 * f as the reference at this point. */
static void all_backwards(fd_problem *p, float *dW[N_IMPL], float *dx[N_IMPL], const char *tag) {
    const sbp_layer *L = p->L;
    const int tc = p->tc;
    const size_t nw = L->w_count, nI = (size_t)tc * L->n_out;
    const size_t nk = p->op == OP_CONV ? sbp_conv_weights_floats(L) : nw; /* kernel layout */
    float *Wt = falloc(nk), *dWt = falloc(nk), *I = falloc(nI);
    /* [reference, gemm, sparse, fast]; the last three channel-last behind layout.h's wrappers,
     * with weights and gradients in kernel layout */
    static const fwd_fn conv_fwd[N_IMPL] = {sbp_conv_forward_ref, sbp_conv_forward_gemm_chw,
                                            sbp_conv_forward_sparse_chw,
                                            sbp_conv_forward_fast_chw};
    static const bwd_fn conv_bwd[N_IMPL] = {sbp_conv_backward_ref, sbp_conv_backward_gemm_chw,
                                            sbp_conv_backward_sparse_chw,
                                            sbp_conv_backward_fast_chw};
    static const fwd_fn dense_fwd[N_IMPL] = {sbp_dense_forward_ref, dense_forward_gemm_chw,
                                             sbp_dense_forward_sparse_chw,
                                             sbp_dense_forward_fast_chw};
    static const bwd_fn dense_bwd[N_IMPL] = {sbp_dense_backward_ref, dense_backward_gemm_chw,
                                             sbp_dense_backward_sparse_chw,
                                             sbp_dense_backward_fast_chw};
    const int conv = p->op == OP_CONV;
    const fwd_fn *fwd = conv ? conv_fwd : dense_fwd;
    const bwd_fn *bwd = conv ? conv_bwd : dense_bwd;
    void (*to_kernel)(float *, const float *, const sbp_layer *) =
        conv ? sbp_conv_to_kernel_layout : sbp_dense_to_kernel_layout;
    void (*add_from_kernel)(float *, const float *, const sbp_layer *) =
        conv ? sbp_conv_add_from_kernel_layout : sbp_dense_add_from_kernel_layout;
    to_kernel(Wt, p->W, L);
    for (int k = 0; k < N_IMPL; k++) {
        memset(dW[k], 0, nw * sizeof(float));
        memset(dWt, 0, nk * sizeof(float));
        if (k == 0) {
            bwd[0](dx[0], dW[0], p->gI, p->x, p->W, L, tc, p->ws);
            fwd[0](I, p->x, p->W, L, tc, p->ws);
        } else {
            bwd[k](dx[k], dWt, p->gI, p->x, Wt, L, tc, p->ws);
            add_from_kernel(dW[k], dWt, L);
            fwd[k](I, p->x, Wt, L, tc, p->ws);
        }
        double f = 0.0, mag = 0.0, f_ref = fd_f(p);
        for (size_t i = 0; i < nI; i++) {
            f += (double)p->gI[i] * I[i];
            mag += fabs((double)p->gI[i] * p->I[i]);
        }
        CHECK(fabs(f - f_ref) <= 1e-5 * mag + 1e-6, "%s: f by the %s forward %.10g vs %.10g", tag,
              impl_name[k], f, f_ref);
    }
    free(Wt), free(dWt), free(I);
}

static void synapse_case(op_kind op, const sbp_layer *L, int tc, const char *tag) {
    const size_t nx = (size_t)tc * L->n_in, nI = (size_t)tc * L->n_out, nw = L->w_count;
    fd_problem p = {.op = op, .L = L, .tc = tc};
    p.x = falloc(nx);
    p.W = falloc(nw);
    p.gI = falloc(nI);
    p.I = falloc(nI);
    p.ws = op == OP_CONV    ? scratch_alloc(sbp_conv_scratch(L, tc))
           : op == OP_DENSE ? scratch_alloc(sbp_dense_scratch(L, tc))
                            : NULL;
    fill_normal(p.x, nx); /* arbitrary floats: every input is an event for the sparse kernels */
    fill_normal(p.W, nw);
    fill_normal(p.gI, nI);
    float *dW[N_IMPL] = {0}, *dx[N_IMPL] = {0};
    if (op == OP_POOL) {
        dx[0] = falloc(nx);
        sbp_pool_backward_ref(dx[0], p.gI, L, tc);
    } else {
        for (int k = 0; k < N_IMPL; k++) {
            dW[k] = falloc(nw);
            dx[k] = falloc(nx);
        }
        all_backwards(&p, dW, dx, tag);
        fd_compare(&p, p.W, nw, dW, tag, "W");
    }
    fd_compare(&p, p.x, nx, dx, tag, "x");
    for (int k = 0; k < N_IMPL; k++)
        free(dW[k]), free(dx[k]);
    free(p.x), free(p.W), free(p.gI), free(p.I), free(p.ws);
}

static void test_synapses(void) {
    /* ci h w co k s p tc */
    static const int convs[][8] = {
        {3, 9, 8, 4, 3, 1, 1, 3}, {2, 11, 7, 3, 4, 2, 1, 2}, {1, 10, 13, 2, 2, 3, 0, 4},
        {4, 6, 6, 5, 1, 1, 0, 2}, {2, 5, 7, 3, 5, 2, 4, 3},
    };
    int cases = 0;
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        const int *c = convs[i];
        sbp_net_spec spec;
        sbp_layer L;
        spec_init(&spec, c[0], c[1], c[2]);
        if (!resolve_first(&L, &spec,
                           (sbp_layer_spec){.kind = SBP_LAYER_CONV,
                                            .out = c[3],
                                            .kernel = c[4],
                                            .stride = c[5],
                                            .pad = c[6]})) {
            CHECK(0, "conv geometry %zu rejected", i);
            continue;
        }
        char tag[96];
        snprintf(tag, sizeof tag, "conv Cin %d %dx%d k%d s%d p%d Cout %d tc %d", c[0], c[1], c[2],
                 c[4], c[5], c[6], c[3], c[7]);
        synapse_case(OP_CONV, &L, c[7], tag);
        cases++;
    }
    static const int denses[][5] = {{2, 3, 4, 7, 3}, {1, 1, 30, 5, 5}, {5, 2, 2, 12, 1}};
    for (size_t i = 0; i < sizeof denses / sizeof denses[0]; i++) {
        const int *d = denses[i];
        sbp_net_spec spec;
        sbp_layer L;
        spec_init(&spec, d[0], d[1], d[2]);
        sbp_layer_kind kind = i == 2 ? SBP_LAYER_OUTPUT : SBP_LAYER_DENSE;
        if (!resolve_first(&L, &spec, (sbp_layer_spec){.kind = kind, .out = d[3]})) {
            CHECK(0, "dense geometry %zu rejected", i);
            continue;
        }
        char tag[64];
        snprintf(tag, sizeof tag, "dense %zu -> %d tc %d", L.n_in, d[3], d[4]);
        synapse_case(OP_DENSE, &L, d[4], tag);
        cases++;
    }
    static const int pools[][4] = {{2, 6, 8, 3}, {3, 7, 5, 2}};
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
        const int *q = pools[i];
        sbp_net_spec spec;
        sbp_layer L;
        spec_init(&spec, q[0], q[1], q[2]);
        if (!resolve_first(&L, &spec, (sbp_layer_spec){.kind = SBP_LAYER_POOL})) {
            CHECK(0, "pool geometry %zu rejected", i);
            continue;
        }
        char tag[64];
        snprintf(tag, sizeof tag, "pool C %d %dx%d tc %d", q[0], q[1], q[2], q[3]);
        synapse_case(OP_POOL, &L, q[3], tag);
        cases++;
    }
    printf("synapses: %d maps, %d finite differences, worst relative error %.2e\n", cases,
           n_fd_checks, worst_rel);
}

/* ---------------------------------------------------------------- neurons */

/* Runs one layer's neurons over T steps (as one chunk) on I (T, n) and returns v. */
static void run_neuron(float *v, const float *I, const sbp_layer *L, int T, float *spikes_out) {
    size_t n = L->n_out;
    float *count = falloc(n), *trace = falloc(n), *carry = falloc(n);
    float *y = L->neuron == SBP_NEURON_INTEGRATOR ? NULL : falloc((size_t)T * n);
    sbp_neuron_state st = {.v = v, .count = count, .trace = trace, .carry = carry};
    sbp_neuron_reset(&st, L);
    sbp_neuron_forward(y, I, &st, L, 0, T);
    if (spikes_out)
        memcpy(spikes_out, count, n * sizeof(float));
    free(count), free(trace), free(carry), free(y);
}

/*
 * The output integrator. o = M[T−1]/T = Σ_t λ^(T−t) I[t] / T, so ∂o/∂I[t] = λ^(T−t)/T.
 * Note: the training gradient deliberately uses 1/T at every step instead (SPEC §3 "the leak
 * is ignored by the gradient", as in the authors' code); this test pins down the forward map
 * the surrogate approximates, not the gradient the engine applies.
 */
static void test_integrator(void) {
    const int T = 100, F = 3;
    sbp_net_spec spec;
    sbp_layer L;
    spec_init(&spec, F, 1, 1);
    if (!resolve_first(&L, &spec, (sbp_layer_spec){.kind = SBP_LAYER_OUTPUT, .out = F})) {
        CHECK(0, "integrator geometry");
        return;
    }
    CHECK(L.neuron == SBP_NEURON_INTEGRATOR && isinf(L.threshold) && L.leak == 0.99f &&
              L.n_out == (size_t)F,
          "output layer resolves to an integrator (leak %g, threshold %g)", L.leak, L.threshold);
    const double lam = L.leak;

    /* SPEC §7: constant 0.5, T = 100 → o = 0.3138139911 (0.5 without leak). */
    float *I = falloc((size_t)F * T), *v = falloc(F);
    for (int i = 0; i < F * T; i++)
        I[i] = 0.5f;
    run_neuron(v, I, &L, T, NULL);
    for (int c = 0; c < F; c++)
        CHECK_NEAR(v[c] / T, 0.3138139911, 1e-6, "SPEC §7 integrator output, constant 0.5");

    /* ∂o/∂I[c, t] by central differences, for every t of one feature and a sample of others. */
    for (int i = 0; i < F * T; i++)
        I[i] = 0.5f * nrand();
    int n = 0;
    double worst = 0.0;
    for (int c = 0; c < F; c++)
        for (int t = 0; t < T; t += c == 0 ? 1 : 7) {
            float *at = &I[t * F + c], keep = *at; /* I (T, n = F) */
            *at = keep + FD_EPS;
            run_neuron(v, I, &L, T, NULL);
            double op = (double)v[c] / T;
            *at = keep - FD_EPS;
            run_neuron(v, I, &L, T, NULL);
            double om = (double)v[c] / T;
            *at = keep;
            double fd = (op - om) / ((double)(keep + FD_EPS) - (double)(keep - FD_EPS));
            double want = pow(lam, T - t) / T;
            double rel = fabs(fd - want) / want;
            worst = fmax(worst, rel);
            CHECK(rel <= 1e-3,
                  "integrator: do/dI[%d, t=%d] = %.8g by finite differences, want "
                  "λ^(T−t)/T = %.8g",
                  c, t, fd, want);
            n++;
        }
    printf("integrator: %d finite differences, worst relative error %.2e\n", n, worst);
    free(I), free(v);
}

/* One LIF neuron: V[T−1] as a function of I[t]. */
static void test_lif_membrane(void) {
    const int T = 20;
    sbp_net_spec spec;
    sbp_layer L;
    spec_init(&spec, 1, 1, 1);
    if (!resolve_first(&L, &spec, (sbp_layer_spec){.kind = SBP_LAYER_DENSE, .out = 1})) {
        CHECK(0, "LIF geometry");
        return;
    }
    CHECK(L.neuron == SBP_NEURON_LIF && L.n_out == 1 && L.threshold == 1.0f, "LIF geometry");
    const double lam = L.leak;
    float I[20], v, count;
    int n = 0;
    double worst = 0.0;

    /* (a) Below threshold throughout (U ≤ 20·0.04 + eps < 1): dV[T−1]/dI[t] = λ^(T−t). */
    for (int t = 0; t < T; t++)
        I[t] = (float)(-0.02 + 0.06 * urand());
    run_neuron(&v, I, &L, T, &count);
    CHECK(count == 0.0f, "LIF below threshold: %g spikes", count);
    double v_sum = 0.0;
    for (int t = 0; t < T; t++)
        v_sum += pow(lam, T - t) * I[t];
    CHECK_NEAR(v, v_sum, 1e-6, "LIF subthreshold V[T-1] = Σ λ^(T−t) I[t]");
    for (int t = 0; t < T; t++) {
        float keep = I[t], cp, cm, vp, vm;
        I[t] = keep + FD_EPS;
        run_neuron(&vp, I, &L, T, &cp);
        I[t] = keep - FD_EPS;
        run_neuron(&vm, I, &L, T, &cm);
        I[t] = keep;
        CHECK(cp == 0.0f && cm == 0.0f, "LIF perturbed input spiked");
        double fd = ((double)vp - vm) / ((double)(keep + FD_EPS) - (double)(keep - FD_EPS));
        double want = pow(lam, T - t);
        double rel = fabs(fd - want) / want;
        worst = fmax(worst, rel);
        CHECK(rel <= 1e-3,
              "LIF: dV[T-1]/dI[t=%d] = %.8g by finite differences, want λ^(T−t) = "
              "%.8g",
              t, fd, want);
        n++;
    }

    /* (b) One clear spike at t = 8 (U far from threshold either way): the reset forgets the
     * past, so dV[T−1]/dI[t] = 0 for t ≤ 8 and λ^(T−t) after. */
    for (int t = 0; t < T; t++)
        I[t] = (float)(0.01 * urand());
    I[8] = 2.0f;
    run_neuron(&v, I, &L, T, &count);
    CHECK(count == 1.0f, "LIF one-spike case: %g spikes", count);
    for (int t = 0; t < T; t++) {
        float keep = I[t], cp, cm, vp, vm;
        I[t] = keep + FD_EPS;
        run_neuron(&vp, I, &L, T, &cp);
        I[t] = keep - FD_EPS;
        run_neuron(&vm, I, &L, T, &cm);
        I[t] = keep;
        CHECK(cp == 1.0f && cm == 1.0f, "LIF perturbation changed the spike count");
        double fd = ((double)vp - vm) / ((double)(keep + FD_EPS) - (double)(keep - FD_EPS));
        double want = t <= 8 ? 0.0 : pow(lam, T - t);
        CHECK(fabs(fd - want) <= 1e-3 * fmax(want, 1.0),
              "LIF after reset: dV[T-1]/dI[t=%d] = %.8g, want %.8g", t, fd, want);
        n++;
    }
    printf("LIF membrane: %d finite differences, worst relative error %.2e\n", n, worst);
}

int main(void) {
    test_synapses();
    test_integrator();
    test_lif_membrane();
    return check_finish("test_gradcheck");
}
