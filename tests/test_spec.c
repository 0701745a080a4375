/*
 * test_spec.c — the numbers of docs/method.md §7, each checked through the library's own code path
 * (the neuron kernels and the engine), never through a re-implementation in the test.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "backend/host/neuron.h"
#include "engine/engine.h"

/* A layer of n neurons of the given model (geometry 1×1 per neuron). */
static sbp_layer neuron_layer(sbp_neuron kind, size_t n)
{
    sbp_layer L;
    memset(&L, 0, sizeof L);
    L.neuron = kind;
    L.out_c = (int)n;
    L.out_h = L.out_w = 1;
    L.n_out = n;
    L.leak = kind == SBP_NEURON_IF ? 1.0f : 0.99f;
    L.threshold = kind == SBP_NEURON_INTEGRATOR ? INFINITY : (kind == SBP_NEURON_IF ? 0.75f : 1.0f);
    return L;
}

typedef struct cell {
    float v, count, trace, carry;
    uint64_t bits[128]; /* one 64-bit row per step, T ≤ 128 */
    sbp_neuron_state st;
} cell;

static void cell_init(cell *c, const sbp_layer *L)
{
    memset(c, 0, sizeof *c);
    c->st.v = &c->v;
    c->st.count = &c->count;
    c->st.trace = &c->trace;
    c->st.carry = &c->carry;
    c->st.bits = c->bits;
    sbp_neuron_reset(&c->st, L);
}

static void lif_constant_current(void)
{
    /* §7: I = 0.35 per step, T = 10. */
    sbp_layer L = neuron_layer(SBP_NEURON_LIF, 1);
    cell c;
    cell_init(&c, &L);
    const double U[10] = {0.35, 0.6965, 1.039535, 0.35, 0.6965, 1.039535, 0.35, 0.6965, 1.039535, 0.35};
    const double V[10] = {0.3465, 0.689535, 0, 0.3465, 0.689535, 0, 0.3465, 0.689535, 0, 0.3465};
    for (int t = 0; t < 10; t++) {
        float I = 0.35f, y, u = c.v + I;
        sbp_neuron_forward(&y, &I, &c.st, &L, t, 1);
        CHECK(fabs(u - U[t]) < 1e-6, "LIF U[%d] = %.7f, SPEC §7 %.7f", t, u, U[t]);
        CHECK(fabs(c.v - V[t]) < 1e-6, "LIF V[%d] = %.7f, SPEC §7 %.7f", t, c.v, V[t]);
        CHECK(y == (U[t] > 1.0 ? 1.0f : 0.0f), "LIF spike at step %d", t);
    }
    CHECK(c.count == 3.0f, "LIF spike count %g, expected 3", c.count);
}

static void ng_values(void)
{
    /* §7: T = 10, spikes at t = 2, 5, 9 → LF = 2.8926613579, γ = 3, NG = 0.9903092606. */
    sbp_layer L = neuron_layer(SBP_NEURON_LIF, 1);
    cell c;
    cell_init(&c, &L);
    for (int t = 0; t < 10; t++) {
        float I = (t == 2 || t == 5 || t == 9) ? 5.0f : 0.0f, y;
        sbp_neuron_forward(&y, &I, &c.st, &L, t, 1);
    }
    float ng;
    sbp_neuron_surrogate(&ng, &c.st, &L, SBP_BACKWARD_EXACT);
    CHECK_NEAR(c.trace, 2.8926613579, 1e-6, "LF for spikes at 2, 5, 9");
    CHECK_NEAR(c.count, 3.0, 0, "γ for spikes at 2, 5, 9");
    CHECK_NEAR(ng, 0.9903092606, 1e-6, "NG for spikes at 2, 5, 9");

    /* A silent neuron: NG = 0. */
    cell_init(&c, &L);
    for (int t = 0; t < 10; t++) {
        float I = 0.05f, y;
        sbp_neuron_forward(&y, &I, &c.st, &L, t, 1);
    }
    sbp_neuron_surrogate(&ng, &c.st, &L, SBP_BACKWARD_EXACT);
    CHECK(c.count == 0.0f && ng == 0.0f, "silent neuron NG = %g, expected 0", ng);

    /* §3: for T = 100, NG ∈ [0.98995, 0.99628] when γ > 0; the ends are one spike at the last
     * step and one spike at the first step. */
    const int first[2] = {99, 0};
    const double want[2] = {0.98995, 0.99628};
    for (int k = 0; k < 2; k++) {
        cell_init(&c, &L);
        c.st.bits = NULL;
        for (int t = 0; t < 100; t++) {
            float I = t == first[k] ? 5.0f : 0.0f, y;
            sbp_neuron_forward(&y, &I, &c.st, &L, t, 1);
        }
        sbp_neuron_surrogate(&ng, &c.st, &L, SBP_BACKWARD_EXACT);
        CHECK_NEAR(ng, want[k], 5e-6, "NG bound for T = 100");
    }
}

static void exact_recursion(void)
{
    /* §7: s = 0,0,1,0,1,0,0,1,0,1,0,0 (T = 12), constant g_s = c → g_U = c for t = 0 … 9 and
     * 0 for t = 10, 11. Factor 1 so that g_s = g_y = c. */
    sbp_layer L = neuron_layer(SBP_NEURON_LIF, 1);
    cell c;
    cell_init(&c, &L);
    const int s[12] = {0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0};
    for (int t = 0; t < 12; t++)
        if (s[t])
            c.bits[sbp_spike_bit(1, t, 0) >> 6] |= (uint64_t)1 << (sbp_spike_bit(1, t, 0) & 63);
    const float cval = 0.37f, factor = 1.0f;
    float gy[12], gU[12];
    for (int t = 0; t < 12; t++)
        gy[t] = cval;
    /* Two chunks in reverse order, as the engine calls it. */
    sbp_neuron_backward(gU + 6, gy + 6, &factor, &c.st, &L, 6, 6);
    sbp_neuron_backward(gU, gy, &factor, &c.st, &L, 0, 6);
    for (int t = 0; t < 12; t++)
        CHECK(gU[t] == (t <= 9 ? cval : 0.0f), "exact recursion g_U[%d] = %g", t, gU[t]);
}

static void output_layer(void)
{
    /* §7: constant input current 0.5 for T = 100 → o = 0.3138139911 (0.5 without leak), and
     * ∂o/∂I[t] = 1/T at every step. Built as a network with one input, one output weight 0.5
     * and an input spike at every step; checked through the engine in both backward modes. */
    sbp_net_spec spec;
    sbp_error err = {0};
    CHECK(sbp_net_spec_parse(&spec, "1x1x1-1", &err) == SBP_OK, "%s", err.msg);
    sbp_net *net = NULL;
    CHECK(sbp_net_create(&net, &spec, 1, &err) == SBP_OK, "%s", err.msg);
    net->params[0] = 0.5f;
    float spikes[100];
    for (int t = 0; t < 100; t++)
        spikes[t] = 1.0f;
    for (int m = 0; m < SBP_BACKWARD_COUNT; m++) {
        sbp_engine e;
        CHECK(sbp_engine_init(&e, net, 100, &sbp_backend_cpu, 1, (sbp_backward)m, 0, &err) == SBP_OK,
              "%s", err.msg);
        sbp_input in = {.spikes = spikes};
        float o, g = 1.0f, dW = 0.0f;
        sbp_engine_set_weights(&e, net->params);
        sbp_engine_forward(&e, &in, &o);
        CHECK_NEAR(o, 0.3138139911, 1e-6, "output o for constant current 0.5, T = 100");
        sbp_engine_backward(&e, &g);
        sbp_engine_take_grad(&e, &dW);
        /* dW = Σ_t ∂o/∂I[t] · x[t] = T · (1/T) · 1 = 1 (with the leak it would be 0.634). */
        CHECK_NEAR(dW, 1.0, 1e-5, sbp_backward_name((sbp_backward)m));
        sbp_engine_release(&e);
    }
    sbp_net_free(net);
}

int main(void)
{
    lif_constant_current();
    ng_values();
    exact_recursion();
    output_layer();
    return check_finish("spec");
}
