/*
 * test_cuda.c — the cuda backend (src/backend/cuda) against the reference backend, the oracle,
 * the way tests/test_backend.c checks cpu: tiny networks through the library API (plain,
 * multi-channel with dropout, residual with all three shortcut kinds), outputs o = M[T−1]/T and
 * weight gradients of both backward modes, at the backend's chunk length and at 1 and 5 steps
 * per chunk; one trainer step and an evaluation with two workers (two host threads, two CUDA
 * streams); the golden float64 fixtures (tests/golden, golden_case.c); and the parts that must
 * be bit-exact: the rate-encoded input spikes and the dropout masks (the same Philox draws as
 * the host), the spike bits, and the SGD step's non-finite check.
 *
 * Built only where CMake found nvcc. The backend is the plugin libspikebp-cuda.so: that it
 * loads (through sbp_backend_get's loader, from where the build put it) is checked first and a
 * failure fails the test. Then, without a usable device, it prints "SKIPPED: no CUDA device
 * (reason)" and exits 77, which ctest reports as skipped (SKIP_RETURN_CODE), not passed.
 *
 * Tolerance: as test_backend.c, BC_TOL = 2e-5 of the largest magnitude for outputs and
 * gradients (backend_compare.h: cuBLAS sums in another order than the reference's loops); the golden
 * fixtures with golden_case.c's tolerances (1e-4 relative). Encoding, masks, spike counts and
 * the SGD arithmetic are elementwise and compared exactly.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cuda_loader.h" /* the plugin's raw read, for the spike words */
#include "check.h"
#include "data/dataset.h"
#include "engine/engine.h"
#include "backend_compare.h"
#include "golden_case.h"

static const bc_case cases[] = {
    {"plain", "10x10x1-6C3-P2-12FC-4", 0},
    {"rgb", "8x8x3-5C3-6C3/2-10FC-3", 0},
    {"strided", "9x9x2-4C5/2-3C1-P2-3", 0}, /* odd sizes, k 5 stride 2 padding 1, a 1×1 conv */
    {"residual", NULL, 0},
    {"framed", "16x16x1-4C5-P2-6C3-P2-10FC-3", 1}, /* margins of layer 1 with no current */
};

/* The draws: the same input spikes and dropout masks as the reference, bit for bit, and the
 * spike bits unpacked again as the forward produced them. */
static void check_draws(const sbp_backend *cuda, const sbp_cuda_plugin *plugin)
{
    sbp_error err = {0};
    sbp_net_spec spec;
    sbp_net *net = NULL;
    /* 3 channels of 7×9 = 189 pixels: not a multiple of 4 or 64 (the draws' tails) */
    if (sbp_net_spec_parse(&spec, "7x9x3-70C3-3", &err) != SBP_OK ||
        sbp_net_create(&net, &spec, 3, &err) != SBP_OK) {
        CHECK(0, "draws net: %s", err.msg);
        return;
    }
    sbp_layer *L0 = &net->layers[0];
    L0->spec.dropout = 0.3f;
    const size_t nin = L0->n_in, nout = L0->n_out;
    const int steps = 6, t0 = 4;
    uint8_t px[189];
    bc_image(px, sizeof px, 9);
    const float mean[3] = {0.4f, 0.5f, 0.6f}, sd[3] = {0.25f, 0.3f, 0.2f};
    sbp_input in = {.pixels = px, .mean = mean, .std = sd, .gain = 1.3f,
                    .key = sbp_rng_key_make(21, SBP_RNG_ENCODE), .tag = 5, .sample = 77};
    const sbp_backend *be[2] = {&sbp_backend_reference, cuda};
    float *x[2], *m[2];
    for (int b = 0; b < 2; b++) {
        float *xval = be[b]->alloc(nin * sizeof(float));
        float *xb = be[b]->alloc((size_t)steps * nin * sizeof(float));
        float *mb = be[b]->alloc(nout * sizeof(float));
        x[b] = malloc((size_t)steps * nin * sizeof(float));
        m[b] = malloc(nout * sizeof(float));
        be[b]->encode_values(xval, &in, L0);
        be[b]->encode(xb, NULL, &in, xval, L0, t0, steps);
        be[b]->dropout_mask(mb, L0, 0, sbp_rng_key_make(21, SBP_RNG_DROPOUT), 2, 77);
        be[b]->read_output(x[b], xb, (size_t)steps * nin, 1.0f);
        be[b]->read_output(m[b], mb, nout, 1.0f);
        be[b]->release(xval);
        be[b]->release(xb);
        be[b]->release(mb);
    }
    size_t nz = 0;
    for (size_t i = 0; i < (size_t)steps * nin; i++)
        nz += x[0][i] != 0.0f;
    CHECK(nz > 0 && nz < (size_t)steps * nin, "encoded chunk has both spikes and silence (%zu)",
          nz);
    CHECK(!memcmp(x[0], x[1], (size_t)steps * nin * sizeof(float)),
          "input spikes: cuda and reference draw the same");
    CHECK(!memcmp(m[0], m[1], nout * sizeof(float)), "dropout masks: cuda and reference agree");
    for (int b = 0; b < 2; b++) {
        free(x[b]);
        free(m[b]);
    }

    /* spike bits: a forward over layer 0 (2450 neurons: the last 64-bit word of a row partly
     * used) and unpack again; the unpacked rows equal the forward's output rows */
    sbp_neuron_state st = {0};
    const size_t words = sbp_spike_row_words(nout), nw = (size_t)(t0 + steps) * words;
    st.v = cuda->alloc(nout * sizeof(float));
    st.count = cuda->alloc(nout * sizeof(float));
    st.bits = cuda->alloc(nw * sizeof(uint64_t));
    float *I = cuda->alloc((size_t)steps * nout * sizeof(float));
    float *y = cuda->alloc((size_t)steps * nout * sizeof(float));
    float *y2 = cuda->alloc((size_t)steps * nout * sizeof(float));
    float *hI = malloc((size_t)steps * nout * sizeof(float));
    float *hy = malloc((size_t)steps * nout * sizeof(float));
    float *hy2 = malloc((size_t)steps * nout * sizeof(float));
    uint64_t *hb = malloc(nw * sizeof(uint64_t));
    for (size_t i = 0; i < (size_t)steps * nout; i++)
        hI[i] = (float)((i * 7919u) % 13u) * 0.11f;
    cuda->fill_rows(I, hI, 1.0f, (size_t)steps * nout, 1);
    cuda->neuron_reset(&st, L0);
    cuda->neuron_forward(y, I, &st, L0, t0, steps);
    cuda->spikes_unpack(y2, st.bits, NULL, nout, t0, steps);
    cuda->read_output(hy, y, (size_t)steps * nout, 1.0f);
    cuda->read_output(hy2, y2, (size_t)steps * nout, 1.0f);
    CHECK(!memcmp(hy, hy2, (size_t)steps * nout * sizeof(float)),
          "spike bits unpack to the forward's spikes");
    /* the same spikes from the host's neuron loop on the same currents */
    float *rv = calloc(nout, sizeof(float)), *rc = calloc(nout, sizeof(float));
    float *ry = malloc((size_t)steps * nout * sizeof(float));
    uint64_t *rb = calloc(nw, sizeof(uint64_t));
    sbp_neuron_state rs = {.v = rv, .count = rc, .bits = rb};
    sbp_backend_reference.neuron_forward(ry, hI, &rs, L0, t0, steps);
    CHECK(!memcmp(ry, hy, (size_t)steps * nout * sizeof(float)),
          "neuron forward: cuda and reference spike alike");
    /* and the raw words sit where sbp_spike_bit says, as the host packs them */
    CHECK(plugin->download(hb, st.bits, nw * sizeof(uint64_t)), "bits to host");
    CHECK(!memcmp(hb, rb, nw * sizeof(uint64_t)), "spike bits: the host's words");
    free(rv);
    free(rc);
    free(ry);
    free(rb);
    free(hb);
    free(hI);
    free(hy);
    free(hy2);
    cuda->release(I);
    cuda->release(y);
    cuda->release(y2);
    cuda->release(st.v);
    cuda->release(st.count);
    cuda->release(st.bits);
    sbp_net_free(net);
}

/* SGD: the host arithmetic bit for bit, and a NaN gradient stops the step, naming its index. */
static void check_sgd(const sbp_backend *cuda)
{
    enum { N = 1000 };
    float w[N], g[N], wr[N], gr[N], out[N];
    for (int i = 0; i < N; i++) {
        w[i] = sinf((float)i) * 0.3f;
        g[i] = cosf((float)i * 0.7f) * 0.01f;
    }
    float *dw = cuda->alloc(sizeof w), *dg = cuda->alloc(sizeof g);
    cuda->fill_rows(dw, w, 1.0f, N, 1);
    cuda->fill_rows(dg, g, 1.0f, N, 1);
    memcpy(wr, w, sizeof w);
    memcpy(gr, g, sizeof g);
    CHECK(sbp_backend_reference.sgd(wr, gr, N, 0.1f, 5e-4f, 1) == -1, "host sgd");
    CHECK(cuda->sgd(dw, dg, N, 0.1f, 5e-4f, 1) == -1, "cuda sgd accepts finite values");
    cuda->read_output(out, dw, N, 1.0f);
    CHECK(!memcmp(out, wr, sizeof out), "cuda sgd: the host's bits");
    cuda->read_output(out, dg, N, 1.0f);
    CHECK(bc_max_abs(out, N) == 0.0, "cuda sgd zeroes the gradient");
    g[123] = NAN;
    g[700] = INFINITY;
    cuda->fill_rows(dg, g, 1.0f, N, 1);
    cuda->read_output(wr, dw, N, 1.0f);
    CHECK(cuda->sgd(dw, dg, N, 0.1f, 5e-4f, 1) == 123, "cuda sgd names the first bad index");
    cuda->read_output(out, dw, N, 1.0f);
    CHECK(!memcmp(out, wr, sizeof out), "cuda sgd leaves the weights after a NaN");
    cuda->release(dw);
    cuda->release(dg);
}

int main(void)
{
    sbp_error err = {0};
    /* the plugin must load wherever this test runs: only the device may be missing */
    const sbp_cuda_plugin *plugin = sbp_cuda_plugin_get(&err);
    CHECK(plugin != NULL, "the cuda plugin loads: %s", err.msg);
    if (!plugin)
        return check_finish("test_cuda");
    const sbp_backend *cuda = sbp_backend_get(SBP_BACKEND_CUDA, &err);
    if (!cuda) {
        printf("SKIPPED: no CUDA device (%s)\n", err.msg);
        return 77;
    }
    CHECK(cuda == plugin->backend, "sbp_backend_get hands out the plugin's table");
    bc_check_table(cuda);
    check_draws(cuda, plugin);
    check_sgd(cuda);
    const int tcs[3] = {0, 1, 5};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int m = 0; m < SBP_BACKWARD_COUNT; m++)
            for (int k = 0; k < 3; k++)
                bc_compare_engines("cuda", &cases[c], (sbp_backward)m, tcs[k], 1);
    bc_compare_trainers("cuda", 2, 2); /* two workers: two host threads, two CUDA streams */
    const char *golden[] = {"small", "lenetlike", "residual"};
    for (int c = 0; c < 3; c++)
        for (int m = 0; m < SBP_BACKWARD_COUNT; m++)
            for (int k = 0; k < 3; k++)
                golden_run_case(golden[c], cuda, tcs[k], (sbp_backward)m);
    return check_finish("test_cuda");
}
