/*
 * test_kernels.c — tier (a) of STYLE 10: every fast kernel against its plain-loop reference over
 * a grid of random shapes, plus the properties the kernels promise in layer.h, conv.h, dense.h,
 * pool.h and neuron.h:
 *
 *   conv, dense   gemm, sparse (event-driven) and fast (density dispatch) vs *_ref: forward I,
 *                 backward dW (through the kernel-layout conversions) and dx; the gradient rule
 *                 "parameters accumulate (dW +=), activations overwrite (dx =), dx NULL skips";
 *                 the sparse dx contract (exact where x ≠ 0, exactly 0 elsewhere);
 *   pool          vs a direct 2×2 average written here, odd edges dropped, and the backward as
 *                 the exact adjoint of the forward (<gI, pool x> = <pool_backward gI, x>);
 *   neuron        one chunk of T steps vs the same window split into chunks (bit-identical
 *                 outputs, spike bits, counts, traces, membranes), the exact backward run over
 *                 reversed chunks vs once over T, and both against a scalar per-neuron loop
 *                 written from SPEC §1/§3.
 *
 * Shapes come from a fixed-seed xorshift generator of this file, so a failure is reproducible;
 * each geometry is validated by sbp_net_resolve (configurations whose output would be empty are
 * skipped). Arrays a kernel must overwrite are NaN-filled first, so "accumulated into garbage"
 * cannot pass. What this file does not do: finite differences (test_gradcheck.c) or the
 * surrogate factor NG against an independent implementation (test_golden.c).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#define TEST_RNG_SEED 0x9E3779B97F4A7C15ull
#include "testutil.h"
#include "layout.h"
#include "backend/cpu/conv.h"
#include "backend/cpu/conv_neuron_pool.h"
#include "backend/cpu/dense.h"
#include "backend/reference/reference.h"
#include "core/divide.h"
#include "core/rng.h"
#include "data/encode.h"
#include "backend/cpu/events.h"
#include "net/layer.h"
#include "backend/host/neuron.h"
#include "backend/cpu/neuron_pool.h"
#include "core/cpu.h"
#include "backend/cpu/pool.h"
#include "net/net.h"

/* ---------------------------------------------------------------- helpers */

static void fill_nan(float *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        a[i] = NAN;
}

/* Input kinds: signed spikes (~60 % nonzero: the dense path of every layer width), sparse
 * spikes (~5 %: the event-driven path), dropout-scaled spikes (~10 %, ±1/(1 − 0.25)), arbitrary floats, and an
 * all-zero chunk (no events at all; only in the hand-picked cases). */
enum { X_SPIKES, X_SPARSE, X_DROPOUT, X_FLOATS, X_KINDS, X_ZERO = X_KINDS, X_UNIT, X_ALL_KINDS };
static const char *x_kind_name[X_ALL_KINDS] = {"signed spikes 60%", "signed spikes 5%",
                                               "dropout-scaled spikes 10%", "floats", "zeros",
                                               "unit spikes 5%"};

static void fill_input(float *x, size_t n, int kind) {
    for (size_t i = 0; i < n; i++) {
        if (kind == X_FLOATS) {
            x[i] = nrand();
            continue;
        }
        double r = urand(), half = kind == X_SPIKES ? 0.3 : kind == X_SPARSE ? 0.025 : 0.05;
        if (kind == X_ZERO)
            half = 0.0;
        float v = r < half ? -1.0f : r < 2 * half ? 1.0f : 0.0f;
        if (kind == X_UNIT) /* spikes of a layer without dropout: every value 1 */
            v = r < 0.05 ? 1.0f : 0.0f;
        if (kind == X_DROPOUT && v != 0.0f)
            v *= 1.3333334f; /* 1/(1 − 0.25) */
        x[i] = v;
    }
}

static double max_abs(const float *a, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > m)
            m = fabs(a[i]);
    return m;
}

/* Largest |got − want| − tol over the array (≤ 0: all within tol, NaN counts as a failure);
 * tol = 1e-5·scale + 1e-5 with scale the magnitude of the reference. *where gets the index. */
static int arrays_close(const float *got, const float *want, size_t n, size_t *where, double *err,
                        double *tol_out) {
    double scale = max_abs(want, n), tol = 1e-5 * scale + 1e-5;
    *tol_out = tol;
    *err = 0.0;
    *where = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)want[i]);
        if (!(e <= tol)) {
            *where = i;
            *err = e;
            return 0;
        }
        if (e > *err)
            *err = e;
    }
    return 1;
}

#define CHECK_ARRAYS(got, want, n, ...)                                                            \
    do {                                                                                           \
        size_t w_;                                                                                 \
        double e_, t_;                                                                             \
        int ok_ = arrays_close((got), (want), (n), &w_, &e_, &t_);                                 \
        char what_[256];                                                                           \
        snprintf(what_, sizeof what_, __VA_ARGS__);                                                \
        CHECK(ok_, "%s: element %zu of %zu: %.9g vs reference %.9g (|diff| %.3g > tol %.3g)",      \
              what_, w_, (size_t)(n), (double)(got)[w_], (double)(want)[w_], e_, t_);              \
    } while (0)

static int conv_layer(sbp_layer *L, int ci, int h, int w, int co, int k, int s, int p) {
    sbp_net_spec spec;
    spec_init(&spec, ci, h, w);
    return resolve_first(
        L, &spec,
        (sbp_layer_spec){.kind = SBP_LAYER_CONV, .out = co, .kernel = k, .stride = s, .pad = p});
}

/* ---------------------------------------------------------------- conv and dense */

/*
 * Every synapse implementation behind one signature. The reference kernels take W in PyTorch
 * layout; gemm, sparse and fast take Wt and accumulate dWt in kernel layout (the transpose).
 * dx contract: ref and gemm compute dx everywhere; sparse exactly where x ≠ 0 and 0 elsewhere;
 * fast is one of the two, chosen per chunk from the input's density.
 */
typedef void (*layout_fn)(float *dst, const float *src, const sbp_layer *L);

enum { DX_DENSE, DX_SPARSE, DX_EITHER };

typedef struct impl_desc {
    const char *name;
    fwd_fn fwd;
    bwd_fn bwd;
    int kernel_layout;
    int dx_mode;
} impl_desc;

typedef struct family_desc {
    const char *name;
    impl_desc impl[4]; /* [0] is the reference */
    layout_fn to_kernel, add_from_kernel;
    size_t (*kernel_floats)(const sbp_layer *L); /* of the kernel layout, padding included */
    size_t (*scratch)(const sbp_layer *L, int tc);
    /* the cpu backend's forward in its own layout, and the same given x's event lists */
    void (*fast)(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc, float *ws);
    void (*events)(float *I, const float *x, const void *ev, const float *Wt, const sbp_layer *L,
                   int tc, float *ws);
} family_desc;

static size_t dense_kernel_floats(const sbp_layer *L) {
    return L->w_count;
}

static const family_desc conv_family = {
    "conv",
    {{"reference", sbp_conv_forward_ref, sbp_conv_backward_ref, 0, DX_DENSE},
     {"gemm", sbp_conv_forward_gemm_chw, sbp_conv_backward_gemm_chw, 1, DX_DENSE},
     {"sparse", sbp_conv_forward_sparse_chw, sbp_conv_backward_sparse_chw, 1, DX_SPARSE},
     {"fast", sbp_conv_forward_fast_chw, sbp_conv_backward_fast_chw, 1, DX_EITHER}},
    sbp_conv_to_kernel_layout,
    sbp_conv_add_from_kernel_layout,
    sbp_conv_weights_floats,
    sbp_conv_scratch,
    sbp_conv_forward_fast,
    sbp_conv_forward_events,
};

static const family_desc dense_family = {
    "dense",
    {{"reference", sbp_dense_forward_ref, sbp_dense_backward_ref, 0, DX_DENSE},
     {"gemm", dense_forward_gemm_chw, dense_backward_gemm_chw, 1, DX_DENSE},
     {"sparse", sbp_dense_forward_sparse_chw, sbp_dense_backward_sparse_chw, 1, DX_SPARSE},
     {"fast", sbp_dense_forward_fast_chw, sbp_dense_backward_fast_chw, 1, DX_EITHER}},
    sbp_dense_to_kernel_layout,
    sbp_dense_add_from_kernel_layout,
    dense_kernel_floats,
    sbp_dense_scratch,
    sbp_dense_forward_fast,
    sbp_dense_forward_events,
};

static int fast_took_sparse, fast_took_gemm;
static int floats_identical(const float *a, const float *b, size_t n);

/* Checks dx of a kernel against the reference under its contract. */
static void check_dx(const float *dx, const float *dx_ref, const float *x, size_t nx, int mode,
                     const char *tag, const char *impl) {
    if (mode == DX_EITHER) { /* which path did fast take? all zeros off the events = sparse */
        int off_events_zero = 1, any_off_events = 0;
        for (size_t i = 0; i < nx; i++)
            if (x[i] == 0.0f) {
                any_off_events |= dx_ref[i] != 0.0f;
                if (dx[i] != 0.0f)
                    off_events_zero = 0;
            }
        mode = off_events_zero ? DX_SPARSE : DX_DENSE;
        if (any_off_events)
            *(mode == DX_SPARSE ? &fast_took_sparse : &fast_took_gemm) += 1;
    }
    if (mode == DX_DENSE) {
        CHECK_ARRAYS(dx, dx_ref, nx, "%s: %s backward dx (overwrite)", tag, impl);
        return;
    }
    /* sparse: dx[i] = reference where x[i] ≠ 0, exactly 0 where x[i] = 0 */
    float *masked = falloc(nx);
    for (size_t i = 0; i < nx; i++)
        masked[i] = x[i] != 0.0f ? dx_ref[i] : 0.0f;
    CHECK_ARRAYS(dx, masked, nx, "%s: %s backward dx (events only, overwrite)", tag, impl);
    int zero = 1;
    for (size_t i = 0; i < nx; i++)
        if (x[i] == 0.0f && dx[i] != 0.0f)
            zero = 0;
    CHECK(zero, "%s: %s backward dx not exactly 0 where x = 0", tag, impl);
    free(masked);
}

static void synapse_case(const family_desc *fam, const sbp_layer *L, int tc, int xkind) {
    const size_t nx = (size_t)tc * L->n_in, nI = (size_t)tc * L->n_out, nw = L->w_count;
    const size_t nk = fam->kernel_floats(L);
    char tag[200];
    if (fam == &conv_family)
        snprintf(tag, sizeof tag, "conv Cin %d %dx%d k%d s%d p%d Cout %d tc %d (%s)", L->in_c,
                 L->in_h, L->in_w, L->spec.kernel, L->spec.stride, L->spec.pad, L->out_c, tc,
                 x_kind_name[xkind]);
    else
        snprintf(tag, sizeof tag, "dense %zu -> %zu tc %d (%s)", L->n_in, L->n_out, tc,
                 x_kind_name[xkind]);
    float *x = falloc(nx), *W = falloc(nw), *Wt = falloc(nk), *gI = falloc(nI);
    float *I_ref = falloc(nI), *I = falloc(nI);
    float *dW0 = falloc(nw), *inc = falloc(nw), *expect = falloc(nw), *dW_ref = falloc(nw);
    float *dWk = falloc(nk), *back = falloc(nw), *pad0 = falloc(nk);
    float *dx_ref = falloc(nx), *dx = falloc(nx);
    float *ws = scratch_alloc(fam->scratch(L, tc));
    fill_input(x, nx, xkind);
    fill_normal(W, nw);
    fill_normal(gI, nI);
    for (size_t i = 0; i < nI; i += 7) /* some exact zeros: the reference skips them */
        gI[i] = 0.0f;
    fill_normal(dW0, nw);
    fill_nan(Wt, nk); /* the layout's padding too must be written */
    fam->to_kernel(Wt, W, L);
    /* where the kernel layout pads (kernel_floats > w_count): zeros, found as the entries that
     * stay 0 for weights drawn without zeros */
    size_t npad = 0;
    for (size_t i = 0; i < nk; i++) {
        pad0[i] = Wt[i] == 0.0f;
        npad += Wt[i] == 0.0f;
    }
    CHECK(npad == nk - nw, "%s: kernel layout has %zu zero entries where it pads %zu", tag, npad,
          nk - nw);

    /* Forward: every implementation against the reference; I overwritten (NaN beforehand). */
    fill_nan(I_ref, nI);
    fam->impl[0].fwd(I_ref, x, W, L, tc, NULL);
    for (int k = 1; k < 4; k++) {
        fill_nan(I, nI);
        fam->impl[k].fwd(I, x, Wt, L, tc, ws);
        CHECK_ARRAYS(I, I_ref, nI, "%s: %s forward I", tag, fam->impl[k].name);
    }

    /* Given the event lists of x (as a spiking layer below lists them), the same I bit for bit
     * as the forward that finds them itself (x read in the kernels' own layout). */
    {
        float *evbuf = scratch_alloc(sbp_events_scratch(L->n_in, tc) + 64), *I2 = falloc(nI);
        size_t nev;
        const sbp_events *ev = sbp_events_build_plain(evbuf, x, L->n_in, tc, &nev);
        fill_nan(I, nI);
        fill_nan(I2, nI);
        fam->fast(I, x, Wt, L, tc, ws);
        fam->events(I2, x, ev, Wt, L, tc, ws);
        CHECK(floats_identical(I, I2, nI), "%s: forward given event lists differs", tag);
        /* the lists alone (x NULL: the neurons below wrote no rows): the same I at any
         * density (within the tolerance: a GEMM there above its density threshold) */
        fill_nan(I2, nI);
        fam->events(I2, NULL, ev, Wt, L, tc, ws);
        CHECK_ARRAYS(I2, I, nI, "%s: forward from the event lists alone", tag);
        free(evbuf), free(I2);
    }

    /* Reference backward and the += rule: increment alone (from 0), then from a nonzero dW. */
    memset(inc, 0, nw * sizeof(float));
    fam->impl[0].bwd(NULL, inc, gI, x, W, L, tc, NULL);
    for (size_t i = 0; i < nw; i++)
        expect[i] = dW0[i] + inc[i];
    memcpy(dW_ref, dW0, nw * sizeof(float));
    fill_nan(dx_ref, nx); /* garbage: must be overwritten, not accumulated into */
    fam->impl[0].bwd(dx_ref, dW_ref, gI, x, W, L, tc, NULL);
    CHECK_ARRAYS(dW_ref, expect, nw, "%s: reference dW += rule", tag);
    CHECK(max_abs(dx_ref, nx) == max_abs(dx_ref, nx), "%s: reference dx kept NaN garbage", tag);

    /* add_from_kernel_layout adds (dW += transpose(dWt)). */
    memcpy(back, dW0, nw * sizeof(float));
    fam->to_kernel(dWk, inc, L);
    fam->add_from_kernel(back, dWk, L);
    CHECK_ARRAYS(back, expect, nw, "%s: add_from_kernel_layout(to_kernel_layout) += rule", tag);

    for (int k = 1; k < 4; k++) {
        const impl_desc *im = &fam->impl[k];
        for (int with_dx = 1; with_dx >= 0; with_dx--) {
            fam->to_kernel(dWk, dW0, L); /* nonzero start, kernel layout */
            fill_nan(dx, nx);
            im->bwd(with_dx ? dx : NULL, dWk, gI, x, Wt, L, tc, ws);
            int pad_kept = 1; /* the gradient's padding stays 0 (backend.h: weights_floats) */
            for (size_t i = 0; i < nk; i++)
                pad_kept &= !pad0[i] || dWk[i] == 0.0f;
            CHECK(pad_kept, "%s: %s backward wrote the kernel layout's padding", tag, im->name);
            memset(back, 0, nw * sizeof(float));
            fam->add_from_kernel(back, dWk, L);
            CHECK_ARRAYS(back, dW_ref, nw, "%s: %s backward dW (+= from nonzero%s)", tag, im->name,
                         with_dx ? "" : ", dx = NULL");
            if (with_dx)
                check_dx(dx, dx_ref, x, nx, im->dx_mode, tag, im->name);
        }
    }
    free(x), free(W), free(Wt), free(gI), free(I_ref), free(I), free(dW0), free(inc);
    free(expect), free(dW_ref), free(dWk), free(back), free(dx_ref), free(dx), free(ws);
    free(pad0);
}

static void test_conv(void) {
    int shapes = 0, skipped = 0;
    fast_took_sparse = fast_took_gemm = 0;
    for (int trial = 0; trial < 160; trial++) {
        int ci = irand(1, 5), co = irand(1, 7), h = irand(3, 13), w = irand(3, 13);
        int k = irand(1, 5), s = irand(1, 3), p = irand(0, k - 1), tc = irand(1, 7);
        sbp_layer L;
        if (!conv_layer(&L, ci, h, w, co, k, s, p)) {
            skipped++;
            continue;
        }
        synapse_case(&conv_family, &L, tc, trial % X_KINDS);
        shapes++;
    }
    /* Edge cases picked by hand: 1×1 kernel, kernel = padded input, stride > kernel. */
    static const int fixed[][8] = {
        /* ci h  w  co k s p tc */
        {1, 3, 3, 1, 1, 1, 0, 1}, {2, 3, 5, 3, 5, 1, 1, 2},   {3, 7, 4, 2, 1, 3, 0, 4},
        {1, 5, 5, 1, 5, 2, 4, 3}, {4, 13, 13, 7, 5, 3, 4, 7}, {5, 4, 11, 6, 3, 2, 2, 5},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        const int *f = fixed[i];
        sbp_layer L;
        int ok = conv_layer(&L, f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
        CHECK(ok, "fixed conv shape %zu rejected by sbp_net_resolve", i);
        if (!ok)
            continue;
        for (int kind = 0; kind < X_ALL_KINDS; kind++)
            synapse_case(&conv_family, &L, f[7], kind);
        shapes++;
    }
    /* Wide layers take the output-stationary form (conv_pull.c) on AVX-512 machines: 64 and
     * 80 channels (a masked last vector), 300 (two blocks of channels), strides and padding. */
    static const int wide[][8] = {
        /* ci h  w  co  k s p tc */
        {3, 9, 9, 64, 3, 1, 1, 2}, {5, 7, 6, 80, 3, 2, 1, 3}, {2, 6, 7, 300, 3, 1, 2, 2},
        {4, 8, 5, 70, 5, 1, 2, 1}, {1, 5, 5, 64, 1, 1, 0, 2},
        /* blocks of 4 (64 channels) or 2 pixels (128) over whole words of 64 input channels,
         * with pixels left over at the row's end, and without padding */
        {64, 6, 7, 64, 3, 1, 1, 2}, {128, 5, 5, 128, 3, 1, 1, 2}, {64, 4, 9, 128, 3, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        const int *f = wide[i];
        sbp_layer L;
        int ok = conv_layer(&L, f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
        CHECK(ok, "wide conv shape %zu rejected by sbp_net_resolve", i);
        if (!ok)
            continue;
        for (int kind = 0; kind < X_ALL_KINDS; kind++)
            synapse_case(&conv_family, &L, f[7], kind);
        shapes++;
    }
    /* An empty output must be rejected (that is why the grid can skip such shapes). */
    sbp_layer L;
    CHECK(!conv_layer(&L, 1, 3, 3, 1, 5, 1, 0), "5x5 kernel on 3x3 unpadded input accepted");
    /* LeNet's second convolution (20 → 50 channels, 14×14, k5, pad 2). */
    int ok = conv_layer(&L, 20, 14, 14, 50, 5, 1, 2);
    CHECK(ok && L.out_h == 14 && L.out_w == 14, "LeNet conv geometry");
    if (ok) {
        synapse_case(&conv_family, &L, 3, X_SPIKES);
        synapse_case(&conv_family, &L, 3, X_SPARSE);
        synapse_case(&conv_family, &L, 3, X_FLOATS);
        synapse_case(&conv_family, &L, 3, X_UNIT);
        shapes++;
    }
    CHECK(fast_took_sparse > 0 && fast_took_gemm > 0,
          "conv fast never took one of its paths (sparse %d, gemm %d)", fast_took_sparse,
          fast_took_gemm);
    printf("conv:   %d shapes (reference vs gemm, sparse, fast: forward, backward dW/dx; fast "
           "took sparse %d, gemm %d times; %d empty skipped)\n",
           shapes, fast_took_sparse, fast_took_gemm, skipped);
}

/* The first layer's forward by input patterns (conv_patterns.c) against the reference loops:
 * unit spikes at densities 0, 5, 30 and 100 %, LeNet's first layer and random image-layer
 * shapes (every pixel written: NaN beforehand); a value other than 0 and 1 anywhere declined;
 * layers it does not serve declined. */
static void test_conv_patterns(void) {
    int cases = 0;
    static const double density[] = {0.0, 0.05, 0.3, 1.0};
    for (int trial = 0; trial < 160; trial++) {
        int h = 28, w = 28, co = 20, k = 5, p = 2, tc = 4; /* LeNet's first layer first */
        if (trial >= 4)
            h = irand(1, 30), w = irand(1, 60), co = irand(1, 32), k = irand(1, 5),
            p = irand(0, k - 1), tc = irand(1, 5);
        sbp_layer L;
        if (!conv_layer(&L, 1, h, w, co, k, 1, p))
            continue;
        if (!sbp_conv_patterns_usable(&L)) {
            CHECK(!sbp_use_avx512() || w + 2 * p > 64, "conv patterns declined 1x%dx%d k%d p%d "
                  "Cout %d", h, w, k, p, co);
            continue;
        }
        const size_t nx = (size_t)tc * L.n_in, nI = (size_t)tc * L.n_out;
        float *x = falloc(nx), *W = falloc(L.w_count), *Wt = falloc(sbp_conv_weights_floats(&L));
        float *I = falloc(nI), *I_ref = falloc(nI), *ws = scratch_alloc(sbp_conv_scratch(&L, tc));
        const double d = density[trial % 4];
        for (size_t i = 0; i < nx; i++)
            x[i] = urand() < d ? 1.0f : 0.0f;
        fill_normal(W, L.w_count);
        sbp_conv_to_kernel_layout(Wt, W, &L);
        fill_nan(I_ref, nI);
        sbp_conv_forward_ref(I_ref, x, W, &L, tc, NULL);
        float *I_hwc = falloc(nI); /* the kernel's channel-last rows, the reference's first */
        fill_nan(I_hwc, nI);
        CHECK(sbp_conv_forward_patterns(I_hwc, x, Wt, &L, tc, ws),
              "conv patterns declined unit spikes");
        to_channel_first(I, I_hwc, co, (size_t)L.out_h * L.out_w, tc);
        free(I_hwc);
        CHECK_ARRAYS(I, I_ref, nI, "conv patterns 1x%dx%d k%d p%d Cout %d tc %d density %.2f", h,
                     w, k, p, co, tc, d);
        x[irand(0, (int)nx - 1)] = urand() < 0.5 ? -1.0f : 0.5f;
        CHECK(!sbp_conv_forward_patterns(I, x, Wt, &L, tc, ws),
              "conv patterns accepted a value other than 0 and 1 (1x%dx%d k%d)", h, w, k);
        cases++;
        free(x), free(W), free(Wt), free(I), free(I_ref), free(ws);
    }
    static const int other[][7] = {
        /* ci h w co k s p: two channels, stride 2, 33 outputs, k 7, a row over 64 bits */
        {2, 8, 8, 4, 3, 1, 1}, {1, 9, 9, 4, 3, 2, 1}, {1, 8, 8, 33, 3, 1, 1},
        {1, 9, 9, 4, 7, 1, 3}, {1, 8, 63, 4, 3, 1, 1},
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        const int *f = other[i];
        sbp_layer L;
        CHECK(conv_layer(&L, f[0], f[1], f[2], f[3], f[4], f[5], f[6]) &&
                  !sbp_conv_patterns_usable(&L),
              "conv patterns took a layer it does not serve (%zu)", i);
    }
    if (sbp_use_avx512())
        CHECK(cases >= 100, "conv patterns: only %d cases ran", cases);
    printf("conv patterns: %d cases against the reference (unit spikes 0-100 %%), each also "
           "declining a value other than 0 and 1\n", cases);
}

/* The weight-gradient-in-registers backward (conv_wgrad.c) gives the scatter's bits: dWt
 * accumulated from a nonzero start, and dx, on every input kind, with and without dx. */
static void test_conv_wgrad(void) {
    static const int shapes[][8] = {
        /* ci h  w  co k s p tc    LeNet's two, VGG's first two, edges and odd widths */
        {1, 28, 28, 20, 5, 1, 2, 4}, {20, 14, 14, 50, 5, 1, 2, 4}, {3, 10, 9, 64, 3, 1, 1, 2},
        {64, 6, 5, 64, 3, 1, 1, 2},  {2, 5, 7, 3, 5, 1, 4, 3},     {4, 9, 6, 51, 5, 1, 1, 3},
        {3, 6, 6, 16, 1, 1, 0, 5},   {5, 7, 8, 85, 3, 1, 2, 2},    {1, 4, 4, 1, 3, 1, 1, 1},
    };
    int cases = 0, ran = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int *f = shapes[i];
        sbp_layer L;
        if (!conv_layer(&L, f[0], f[1], f[2], f[3], f[4], f[5], f[6])) {
            CHECK(0, "wgrad shape %zu rejected by sbp_net_resolve", i);
            continue;
        }
        const int tc = f[7];
        const size_t nx = L.n_in * tc, ng = L.n_out * tc;
        const size_t nw = sbp_conv_weights_floats(&L); /* kernel layout, padding included */
        float *x = falloc(nx), *gI = falloc(ng), *Wt = falloc(nw), *dw0 = falloc(nw);
        float *dwa = falloc(nw), *dwb = falloc(nw), *dxa = falloc(nx), *dxb = falloc(nx);
        float *ws = scratch_alloc(sbp_conv_scratch(&L, tc));
        fill_normal(gI, ng), fill_normal(Wt, nw), fill_normal(dw0, nw);
        for (int kind = 0; kind < X_ALL_KINDS; kind++)
            for (int with_dx = 1; with_dx >= 0; with_dx--) {
                fill_input(x, nx, kind);
                memcpy(dwa, dw0, nw * sizeof(float)), memcpy(dwb, dw0, nw * sizeof(float));
                fill_nan(dxa, nx), fill_nan(dxb, nx);
                sbp_conv_backward_scatter(with_dx ? dxb : NULL, dwb, gI, x, Wt, &L, tc, ws);
                const int took = sbp_conv_backward_wgrad(with_dx ? dxa : NULL, dwa, gI, x, Wt,
                                                         &L, tc, ws);
                CHECK(took == sbp_conv_wgrad_usable(&L),
                      "wgrad shape %zu: ran %d where usable says %d", i, took,
                      sbp_conv_wgrad_usable(&L));
                if (!took)
                    continue;
                ran++;
                CHECK(floats_identical(dwa, dwb, nw),
                      "wgrad shape %zu (%s%s): dWt differs from the scatter's", i,
                      x_kind_name[kind], with_dx ? "" : ", dx = NULL");
                if (with_dx)
                    CHECK(floats_identical(dxa, dxb, nx),
                          "wgrad shape %zu (%s): dx differs from the scatter's", i,
                          x_kind_name[kind]);
                cases++;
            }
        free(x), free(gI), free(Wt), free(dw0), free(dwa), free(dwb), free(dxa), free(dxb);
        free(ws);
    }
    if (!ran)
        printf("conv wgrad: SKIPPED (no AVX-512 on this CPU: the scatter runs everywhere)\n");
    else
        printf("conv wgrad: %d cases bit-identical to the scatter backward\n", cases);
}

static int dense_layer(sbp_layer *L, int c, int h, int w, int out, int as_output) {
    sbp_net_spec spec;
    spec_init(&spec, c, h, w);
    if (as_output) { /* the output layer is dense too (its synapses use the same kernels) */
        spec.n_layers = 1;
        spec.layers[0] = (sbp_layer_spec){.kind = SBP_LAYER_OUTPUT, .out = out};
        size_t n_params;
        sbp_error err = {0};
        return sbp_net_resolve(L, NULL, &n_params, &spec, &err) == SBP_OK;
    }
    return resolve_first(L, &spec, (sbp_layer_spec){.kind = SBP_LAYER_DENSE, .out = out});
}

static void test_dense(void) {
    int shapes = 0;
    fast_took_sparse = fast_took_gemm = 0;
    for (int trial = 0; trial < 120; trial++) {
        int c = irand(1, 5), h = irand(1, 13), w = irand(1, 13), out = irand(1, 40);
        int tc = irand(1, 7);
        sbp_layer L;
        int ok = dense_layer(&L, c, h, w, out, trial % 4 == 3);
        CHECK(ok && L.n_in == (size_t)c * h * w && L.n_out == (size_t)out,
              "dense geometry %dx%dx%d -> %d", c, h, w, out);
        if (!ok)
            continue;
        synapse_case(&dense_family, &L, tc, trial % X_KINDS);
        shapes++;
    }
    sbp_layer L; /* LeNet: 50×4×4 → 200, and 200 → 10 */
    if (dense_layer(&L, 50, 4, 4, 200, 0)) {
        for (int kind = 0; kind < X_ALL_KINDS; kind++)
            synapse_case(&dense_family, &L, 3, kind);
        shapes++;
    }
    if (dense_layer(&L, 200, 1, 1, 10, 1)) {
        synapse_case(&dense_family, &L, 7, X_DROPOUT);
        synapse_case(&dense_family, &L, 7, X_SPIKES);
        shapes++;
    }
    /* Layout spot check against a direct sum: I (tc, out), x (tc, in), W (out, in). */
    if (dense_layer(&L, 3, 2, 2, 5, 0)) {
        const int tc = 4;
        float x[4 * 12], W[5 * 12], I[5 * 4];
        fill_normal(x, 48);
        fill_normal(W, 60);
        sbp_dense_forward_ref(I, x, W, &L, tc, NULL);
        double worst = 0.0;
        for (int o = 0; o < 5; o++)
            for (int t = 0; t < tc; t++) {
                double acc = 0.0;
                for (int i = 0; i < 12; i++)
                    acc += (double)W[o * 12 + i] * x[t * 12 + i];
                worst = fmax(worst, fabs(acc - I[t * 5 + o]));
            }
        CHECK(worst < 1e-5, "dense reference layout: |I − direct sum| = %g", worst);
    }
    CHECK(fast_took_sparse > 0 && fast_took_gemm > 0,
          "dense fast never took one of its paths (sparse %d, gemm %d)", fast_took_sparse,
          fast_took_gemm);
    printf("dense:  %d shapes (reference vs gemm, sparse, fast: forward, backward dW/dx; fast "
           "took sparse %d, gemm %d times)\n",
           shapes, fast_took_sparse, fast_took_gemm);
}

/* ---------------------------------------------------------------- pool */

static int floats_identical(const float *a, const float *b, size_t n);

static void pool_case(const sbp_layer *L, int tc) {
    const int C = L->in_c, H = L->in_h, Wd = L->in_w, Ho = L->out_h, Wo = L->out_w;
    const size_t nx = (size_t)tc * L->n_in, nI = (size_t)tc * L->n_out;
    char tag[96];
    snprintf(tag, sizeof tag, "pool C %d %dx%d tc %d", C, H, Wd, tc);
    CHECK(L->out_c == C && Ho == H / 2 && Wo == Wd / 2, "%s: output shape %dx%dx%d", tag, L->out_c,
          Ho, Wo);
    float *x = falloc(nx), *I = falloc(nI), *want = falloc(nI), *gI = falloc(nI);
    float *dx = falloc(nx);

    /* Forward on floats vs a direct 2×2 average; x (tc, C, H, W) → I (tc, C, Ho, Wo). */
    fill_normal(x, nx);
    fill_nan(I, nI);
    sbp_pool_forward_ref(I, x, L, tc);
    for (int c = 0; c < C; c++)
        for (int t = 0; t < tc; t++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    double acc = 0.0;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dxx = 0; dxx < 2; dxx++)
                            acc += x[(((size_t)t * C + c) * H + 2 * oy + dy) * Wd + 2 * ox + dxx];
                    want[(((size_t)t * C + c) * Ho + oy) * Wo + ox] = (float)(acc / 4.0);
                }
    CHECK_ARRAYS(I, want, nI, "%s: forward vs direct 2x2 average", tag);

    /* Spikes in {0, 1}: exact multiples of 1/4, equal to (number of ones)/4. */
    int exact = 1;
    for (size_t i = 0; i < nx; i++)
        x[i] = urand() < 0.5 ? 1.0f : 0.0f;
    sbp_pool_forward_ref(I, x, L, tc);
    for (int c = 0; c < C && exact; c++)
        for (int t = 0; t < tc && exact; t++)
            for (int oy = 0; oy < Ho && exact; oy++)
                for (int ox = 0; ox < Wo && exact; ox++) {
                    int ones = 0;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dxx = 0; dxx < 2; dxx++)
                            ones +=
                                x[(((size_t)t * C + c) * H + 2 * oy + dy) * Wd + 2 * ox + dxx] !=
                                0.0f;
                    float v = I[(((size_t)t * C + c) * Ho + oy) * Wo + ox];
                    if (v != 0.25f * (float)ones || v * 4.0f != floorf(v * 4.0f))
                        exact = 0;
                }
    CHECK(exact, "%s: 0/1 input does not give exact multiples of 0.25", tag);

    /* Backward is the adjoint: <gI, pool x> = <pool_backward gI, x>; dx overwritten (NaN
     * garbage beforehand), dropped odd edges get exactly 0. */
    fill_normal(x, nx);
    fill_normal(gI, nI);
    fill_nan(dx, nx);
    sbp_pool_forward_ref(I, x, L, tc);
    sbp_pool_backward_ref(dx, gI, L, tc);
    double lhs = 0.0, rhs = 0.0, mag = 0.0;
    for (size_t i = 0; i < nI; i++) {
        lhs += (double)gI[i] * I[i];
        mag += fabs((double)gI[i] * I[i]);
    }
    for (size_t i = 0; i < nx; i++)
        rhs += (double)dx[i] * x[i];
    CHECK(fabs(lhs - rhs) <= 1e-5 * mag + 1e-6, "%s: adjoint identity %.10g vs %.10g", tag, lhs,
          rhs);
    int edges_zero = 1, quarter = 1;
    for (int t = 0; t < tc; t++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < Wd; xx++) {
                    float d = dx[(((size_t)t * C + c) * H + y) * Wd + xx];
                    if (y >= 2 * Ho || xx >= 2 * Wo) {
                        if (d != 0.0f)
                            edges_zero = 0;
                    } else if (d != 0.25f * gI[(((size_t)t * C + c) * Ho + y / 2) * Wo + xx / 2])
                        quarter = 0;
                }
    CHECK(edges_zero, "%s: backward leaves dropped odd edges nonzero (not overwritten?)", tag);
    CHECK(quarter, "%s: backward does not give each pooled input gI/4", tag);

    /* The channel-last fast kernels: bit-identical to the reference after the layout change
     * (same sums in the same order); outputs NaN-filled first. */
    float *xs = falloc(nx), *Is = falloc(nI), *gs = falloc(nI), *dxs = falloc(nx);
    float *back = falloc(nx > nI ? nx : nI);
    memset(back, 0, (nx > nI ? nx : nI) * sizeof(float)); /* (quiets a false GCC warning) */
    to_channel_last(xs, x, C, (size_t)H * Wd, tc);
    fill_nan(Is, nI);
    sbp_pool_forward_fast(Is, xs, L, tc);
    to_channel_first(back, Is, C, (size_t)Ho * Wo, tc);
    CHECK(floats_identical(back, I, nI), "%s: fast (channel-last) forward differs", tag);
    to_channel_last(gs, gI, C, (size_t)Ho * Wo, tc);
    fill_nan(dxs, nx);
    sbp_pool_backward_fast(dxs, gs, L, tc);
    to_channel_first(back, dxs, C, (size_t)H * Wd, tc);
    CHECK(floats_identical(back, dx, nx), "%s: fast (channel-last) backward differs", tag);
    free(xs), free(Is), free(gs), free(dxs), free(back);
    free(x), free(I), free(want), free(gI), free(dx);
}

static void test_pool(void) {
    int shapes = 0;
    /* Every parity combination first, then channel counts whose last vector is partial and
     * whose whole-vector spill fits in a pixel (the fast kernels' unmasked path: 8 ≤ C, C not
     * a multiple of 16, even and odd maps; LeNet's 20 and 50), then random shapes. */
    static const int fixed[][4] = {{1, 2, 2, 1},   {2, 4, 6, 3},    {3, 5, 7, 2},  {2, 6, 5, 4},
                                   {1, 7, 4, 7},   {20, 28, 28, 2}, {50, 14, 14, 3},
                                   {12, 7, 9, 2},  {9, 4, 6, 3},    {24, 6, 5, 2}, {32, 4, 4, 2},
                                   {8, 2, 2, 5}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        sbp_net_spec spec;
        sbp_layer L;
        spec_init(&spec, fixed[i][0], fixed[i][1], fixed[i][2]);
        int ok = resolve_first(&L, &spec, (sbp_layer_spec){.kind = SBP_LAYER_POOL});
        CHECK(ok, "pool geometry %d", (int)i);
        if (ok) {
            pool_case(&L, fixed[i][3]);
            shapes++;
        }
    }
    for (int trial = 0; trial < 60; trial++) {
        sbp_net_spec spec;
        sbp_layer L;
        spec_init(&spec, trial % 2 ? irand(1, 5) : irand(6, 40), irand(2, 13), irand(2, 13));
        if (!resolve_first(&L, &spec, (sbp_layer_spec){.kind = SBP_LAYER_POOL}))
            continue;
        pool_case(&L, irand(1, 7));
        shapes++;
    }
    printf("pool:   %d shapes (vs direct average, 0/1 exactness, adjoint identity, fast "
           "channel-last bit-identical)\n",
           shapes);
}

/* ---------------------------------------------------------------- neuron */

typedef struct neuron_buf {
    float *v, *count, *trace, *carry;
    uint64_t *bits;
    sbp_neuron_state st;
} neuron_buf;

static void nb_init(neuron_buf *b, const sbp_layer *L, int T, const float *mask) {
    size_t n = L->n_out;
    b->v = falloc(n);
    b->count = falloc(n);
    b->trace = falloc(n);
    b->carry = falloc(n);
    fill_nan(b->v, n); /* reset must clear everything */
    fill_nan(b->count, n);
    fill_nan(b->trace, n);
    fill_nan(b->carry, n);
    /* one 64-bit-aligned row of bits per step (neuron.h: sbp_spike_row_words / _bit) */
    b->bits = calloc((size_t)T * sbp_spike_row_words(n), sizeof(uint64_t));
    b->st = (sbp_neuron_state){.v = b->v,
                               .count = b->count,
                               .trace = b->trace,
                               .mask = mask,
                               .bits = b->bits,
                               .carry = b->carry};
    sbp_neuron_reset(&b->st, L);
}

static void nb_free(neuron_buf *b) {
    free(b->v), free(b->count), free(b->trace), free(b->carry), free(b->bits);
}

/* Copies steps [t0, t0+tc) of I (T, n) into Ic (tc, n). */
static void slice_steps(float *Ic, const float *I, size_t n, int t0, int tc) {
    memcpy(Ic, I + (size_t)t0 * n, (size_t)tc * n * sizeof(float));
}

/* Next chunk length of a deliberately uneven schedule 3, 4, 1, 5, 2, … */
/* The length of chunk i (uneven lengths in turn), at most `left` steps. */
static int chunk_len(int i, int left) {
    static const int lens[] = {3, 4, 1, 5, 2, 7, 6};
    return lens[i % 7] < left ? lens[i % 7] : left;
}

static int bits_equal(const uint64_t *a, const uint64_t *b, size_t n, int T) {
    for (int t = 0; t < T; t++)
        for (size_t i = 0; i < n; i++)
            if (sbp_spike_get(a, sbp_spike_bit(n, t, i)) !=
                sbp_spike_get(b, sbp_spike_bit(n, t, i)))
                return 0;
    return 1;
}

static int floats_identical(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* The cpu backend's listing neurons over I (T, n) in uneven chunks (the chunk lengths from
 * chunk_len(i + shift, …)), from b's state: whether each chunk's lists equal what scanning y1,
 * the outputs of the plain forward, gives. y (T, n): where the listing forward writes its
 * outputs, or NULL for the lists alone. */
static int listing_matches(const sbp_layer *L, int T, const float *I, const float *y1, float *y,
                           neuron_buf *b, int shift)
{
    const size_t n = L->n_out;
    float *Ic = falloc((size_t)T * n), *ws = falloc(sbp_events_scratch(n, 7) + 64);
    void *buf = malloc(sbp_events_bytes(n, 7));
    int same = 1;
    for (int t0 = 0, i = 0; t0 < T; i++) {
        const int tc = chunk_len(i + shift, T - t0);
        slice_steps(Ic, I, n, t0, tc);
        sbp_events_neuron_forward(y ? y + (size_t)t0 * n : NULL, buf, Ic, &b->st, L, t0, tc);
        const sbp_events *got = buf;
        size_t nev;
        const sbp_events *want = sbp_events_build_plain(ws, y1 + (size_t)t0 * n, n, tc, &nev);
        for (int t = 0; t <= tc; t++)
            same &= got->off[t] == want->off[t];
        same &= memcmp(got->idx, want->idx, nev * sizeof(uint32_t)) == 0 &&
                memcmp(got->val, want->val, nev * sizeof(float)) == 0;
        t0 += tc;
    }
    free(Ic), free(ws), free(buf);
    return same;
}

/* mean: the currents' mean (0.15: now and then; 0.7: most steps, so that vectors of 16
 * neurons with more than 8 spikes, which the listing forward stores in two halves, occur) */
static void neuron_case(const sbp_layer *L, int T, int use_mask, float mean, const char *what) {
    const int C = L->out_c;
    const size_t P = sbp_layer_positions(L), n = L->n_out;
    const int spiking = L->neuron != SBP_NEURON_INTEGRATOR;
    char tag[128];
    snprintf(tag, sizeof tag, "%s neuron C %d P %zu T %d%s mean %.2f", what, C, P, T,
             use_mask ? " masked" : "", (double)mean);
    float *I = falloc((size_t)T * n), *Ic = falloc((size_t)T * n);
    float *y1 = falloc((size_t)T * n), *y2 = falloc((size_t)T * n);
    float *mask = NULL;
    if (use_mask) {
        mask = falloc(n);
        for (size_t i = 0; i < n; i++)
            mask[i] = urand() < 0.25 ? 0.0f : 1.3333334f;
    }
    /* Currents that make neurons spike now and then, some often, some never (or mostly). */
    for (size_t i = 0; i < (size_t)T * n; i++)
        I[i] = 0.45f * nrand() + mean;
    fill_nan(y1, (size_t)T * n);
    fill_nan(y2, (size_t)T * n);

    neuron_buf a, b;
    nb_init(&a, L, T, mask);
    nb_init(&b, L, T, mask);
    sbp_neuron_forward(spiking ? y1 : NULL, I, &a.st, L, 0, T);
    int chunks = 0;
    for (int t0 = 0, i = 0; t0 < T; i++) {
        const int tc = chunk_len(i, T - t0);
        slice_steps(Ic, I, n, t0, tc);
        sbp_neuron_forward(spiking ? y2 + (size_t)t0 * n : NULL, Ic, &b.st, L, t0, tc);
        t0 += tc;
        chunks++;
    }
    CHECK(floats_identical(a.v, b.v, n), "%s: membrane after %d chunks differs from one chunk", tag,
          chunks);
    if (spiking) {
        /* The cpu backend's neurons that also list their outputs: the same outputs and state,
         * and lists equal to what scanning the outputs gives (what the synapses above read). */
        neuron_buf c;
        nb_init(&c, L, T, mask);
        float *y3 = falloc((size_t)T * n);
        CHECK(listing_matches(L, T, I, y1, y3, &c, 1),
              "%s: listed outputs differ from the scanned outputs", tag);
        CHECK(floats_identical(y1, y3, (size_t)T * n) && floats_identical(a.v, c.v, n) &&
                  floats_identical(a.count, c.count, n) && floats_identical(a.trace, c.trace, n) &&
                  bits_equal(a.bits, c.bits, n, T),
              "%s: the listing forward's outputs or state differ", tag);
        /* the lists alone (no output rows, as the engine asks where only the synapse above
         * reads them): the same lists and state */
        neuron_buf d;
        nb_init(&d, L, T, mask);
        CHECK(listing_matches(L, T, I, y1, NULL, &d, 2),
              "%s: lists without the output rows differ", tag);
        CHECK(floats_identical(a.v, d.v, n) && floats_identical(a.count, d.count, n) &&
                  floats_identical(a.trace, d.trace, n) && bits_equal(a.bits, d.bits, n, T),
              "%s: the lists-only forward's state differs", tag);
        nb_free(&d);
        free(y3);
        nb_free(&c);
    }
    if (spiking) {
        CHECK(floats_identical(y1, y2, (size_t)T * n), "%s: outputs differ chunked", tag);
        CHECK(floats_identical(a.count, b.count, n), "%s: counts differ chunked", tag);
        CHECK(floats_identical(a.trace, b.trace, n), "%s: traces differ chunked", tag);
        CHECK(bits_equal(a.bits, b.bits, n, T), "%s: spike bits differ chunked", tag);
    }

    /* Independent scalar loop from SPEC §1/§3 (tolerance only for a possible FMA). */
    int ok_v = 1, ok_y = 1, ok_c = 1, ok_l = 1, ok_b = 1;
    size_t spikes = 0;
    for (int c = 0; c < C; c++)
        for (size_t p = 0; p < P; p++) {
            size_t j = (size_t)c * P + p;
            float v = 0.0f, lf = 0.0f; /* float, as §1 runs: no spike flips by rounding */
            int g = 0;
            for (int t = 0; t < T; t++) {
                float cur = I[(size_t)t * n + j];
                if (L->neuron == SBP_NEURON_INTEGRATOR) {
                    v = L->leak * (v + cur);
                    continue;
                }
                float u = v + cur;
                int s = u > L->threshold;
                v = s ? 0.0f : L->leak * u;
                g += s;
                lf = L->leak * lf + (float)s;
                float want_y = s ? (mask ? mask[j] : 1.0f) : 0.0f;
                if (y1[(size_t)t * n + j] != want_y)
                    ok_y = 0;
                if (sbp_spike_get(a.bits, sbp_spike_bit(n, t, j)) != s)
                    ok_b = 0;
            }
            spikes += (size_t)g;
            if (fabs(a.v[j] - v) > 1e-4 * (1.0 + fabs(v)))
                ok_v = 0;
            if (spiking && a.count[j] != (float)g)
                ok_c = 0;
            if (spiking && fabs(a.trace[j] - lf) > 1e-5 * (1.0 + lf))
                ok_l = 0;
        }
    CHECK(ok_v, "%s: membrane differs from the scalar loop", tag);
    if (spiking) {
        CHECK(ok_y && ok_b, "%s: spikes differ from the scalar loop (y %d, bits %d)", tag, ok_y,
              ok_b);
        CHECK(ok_c && ok_l, "%s: count/trace differ from the scalar loop", tag);
        CHECK(spikes > 0 && spikes < (size_t)T * n, "%s: degenerate test (%zu spikes)", tag,
              spikes);
    }

    if (spiking) {
        /* Exact backward: once over T vs reversed uneven chunks; gI garbage-filled first. */
        float *factor = falloc(n), *gy = falloc((size_t)T * n);
        float *g1 = falloc((size_t)T * n), *g2 = falloc((size_t)T * n);
        fill_normal(factor, n);
        fill_normal(gy, (size_t)T * n);
        fill_nan(g1, (size_t)T * n);
        memset(a.carry, 0, n * sizeof(float));
        sbp_neuron_backward(g1, gy, factor, &a.st, L, 0, T);
        memset(b.carry, 0, n * sizeof(float));
        int ok = 1;
        for (int t1 = T, i = 0; t1 > 0; i++) {
            const int tc = chunk_len(i + 2, t1);
            int t0 = t1 - tc;
            fill_nan(Ic, (size_t)tc * n);
            sbp_neuron_backward(Ic, gy + (size_t)t0 * n, factor, &b.st, L, t0, tc);
            /* Ic (tc, n) against g1 (T, n) */
            if (memcmp(Ic, g1 + (size_t)t0 * n, (size_t)tc * n * sizeof(float)) != 0)
                ok = 0;
            t1 = t0;
        }
        CHECK(ok, "%s: chunked backward differs from one chunk", tag);
        CHECK(floats_identical(a.carry, b.carry, n), "%s: carry after backward differs", tag);

        /* SPEC §3: g_U[t] = s·f·gy + (1 − s)·g_U[t+1], gI = g_U. */
        int ok_ref = 1;
        for (int c = 0; c < C; c++)
            for (size_t p = 0; p < P; p++) {
                size_t j = (size_t)c * P + p;
                float gu = 0.0f;
                for (int t = T - 1; t >= 0; t--) {
                    if (sbp_spike_get(a.bits, sbp_spike_bit(n, t, j)))
                        gu = factor[j] * gy[(size_t)t * n + j];
                    if (g1[(size_t)t * n + j] != gu)
                        ok_ref = 0;
                }
            }
        CHECK(ok_ref, "%s: backward differs from the SPEC §3 recursion", tag);
        free(factor), free(gy), free(g1), free(g2);
    }
    nb_free(&a);
    nb_free(&b);
    free(I), free(Ic), free(y1), free(y2), free(mask);
}

static void test_neuron(void) {
    int cases = 0;
    /* its own draws, whatever the tests before it consumed: some of its small cases (T = 1,
     * six IF neurons) spike only for some draws, and the degenerate-test check needs spikes */
    rng_state = TEST_RNG_SEED;
    for (int trial = 0; trial < 24; trial++) {
        sbp_net_spec spec;
        sbp_layer L;
        int kind = trial % 3, T = irand(1, 40);
        spec_init(&spec, irand(1, 4), irand(2, 9), irand(2, 9));
        int ok;
        const char *what;
        if (kind == 0) {
            ok = resolve_first(&L, &spec,
                               (sbp_layer_spec){.kind = SBP_LAYER_CONV,
                                                .out = irand(1, 6),
                                                .kernel = 3,
                                                .stride = 1,
                                                .pad = 1});
            what = "LIF";
        } else if (kind == 1) {
            ok = resolve_first(&L, &spec, (sbp_layer_spec){.kind = SBP_LAYER_POOL});
            what = "IF";
        } else {
            spec.n_layers = 1;
            spec.layers[0] = (sbp_layer_spec){.kind = SBP_LAYER_OUTPUT, .out = irand(1, 12)};
            size_t np;
            sbp_error err = {0};
            ok = sbp_net_resolve(&L, NULL, &np, &spec, &err) == SBP_OK;
            what = "integrator";
        }
        CHECK(ok, "neuron layer geometry (trial %d)", trial);
        if (!ok)
            continue;
        if (trial == 0)
            T = 100; /* one full-length window */
        neuron_case(&L, T, kind == 0 && trial % 2 == 0, trial / 3 % 3 == 1 ? 0.7f : 0.15f, what);
        cases++;
    }
    /* layers wider than the portable path's block of 1,024 neurons, whose lists grow block
     * after block: LeNet's first pooling (3,920 IF neurons) and first convolution (15,680 LIF
     * neurons, a dropout mask) */
    for (int big = 0; big < 3; big++) {
        sbp_net_spec spec;
        sbp_layer L;
        spec_init(&spec, big < 2 ? 20 : 1, 28, 28);
        const int ok = resolve_first(
            &L, &spec,
            big < 2 ? (sbp_layer_spec){.kind = SBP_LAYER_POOL}
                    : (sbp_layer_spec){.kind = SBP_LAYER_CONV, .out = 20, .kernel = 5, .stride = 1,
                                       .pad = 2});
        CHECK(ok, "neuron layer geometry (LeNet's, %d)", big);
        if (!ok)
            continue;
        neuron_case(&L, 7, big == 2, big == 1 ? 0.7f : 0.15f, big < 2 ? "IF" : "LIF");
        cases++;
    }

    /* SPEC §7: one LIF neuron, constant 0.35, T = 10, one step per chunk. Spikes at t = 2, 5, 8,
     * so LF = λ⁷ + λ⁴ + λ. */
    sbp_net_spec spec;
    sbp_layer L;
    spec_init(&spec, 1, 1, 1);
    if (resolve_first(&L, &spec, (sbp_layer_spec){.kind = SBP_LAYER_DENSE, .out = 1})) {
        static const float want_v[10] = {0.3465f, 0.689535f, 0,         0.3465f, 0.689535f,
                                         0,       0.3465f,   0.689535f, 0,       0.3465f};
        neuron_buf b;
        nb_init(&b, &L, 10, NULL);
        float I[10], y[10];
        for (int t = 0; t < 10; t++)
            I[t] = 0.35f;
        int ok = 1;
        for (int t = 0; t < 10; t++) {
            sbp_neuron_forward(y + t, I + t, &b.st, &L, t, 1);
            if (fabsf(b.v[0] - want_v[t]) > 1e-6f || y[t] != (want_v[t] == 0 ? 1.0f : 0.0f))
                ok = 0;
        }
        CHECK(ok, "SPEC §7 LIF sequence (constant 0.35)");
        CHECK(b.count[0] == 3.0f, "SPEC §7: 3 spikes, got %g", b.count[0]);
        CHECK_NEAR(b.trace[0], pow(0.99, 7) + pow(0.99, 4) + 0.99, 1e-6, "SPEC §7 trace LF");
        nb_free(&b);
        cases++;
    }
    printf("neuron: %d cases (chunked vs whole forward and backward, scalar loop)\n", cases);
}

/* ---------------------------------------------------------------- neurons + pooling */

/* Whether neuron i (channel-last) of L's map lies outside the quiet margins (NULL: none). */
static int live_neuron(const sbp_layer *L, const int *quiet, size_t i)
{
    const int y = (int)(i / (size_t)L->out_c / (size_t)L->out_w);
    const int x = (int)(i / (size_t)L->out_c % (size_t)L->out_w);
    return !quiet || (y >= quiet[0] && y < L->out_h - quiet[1] && x >= quiet[2] &&
                      x < L->out_w - quiet[3]);
}

/* nb_init without a mask, keeping only what keep says (1 γ, 2 LF, 4 bits), as the engine
 * keeps in inference (0), aggregate (3) and exact training (7). */
static void nb_init_keep(neuron_buf *b, const sbp_layer *L, int T, int keep)
{
    nb_init(b, L, T, NULL);
    if (!(keep & 1))
        b->st.count = NULL;
    if (!(keep & 2))
        b->st.trace = NULL;
    if (!(keep & 4))
        b->st.bits = NULL;
}

/* Two runs of a layer's neurons and the pooling above, bit for bit: the pooled current (T, np)
 * and, of what keep says was kept (1 γ, 2 LF, 4 bits), the state. */
static void same_pass(const char *tag, const neuron_buf *a, const neuron_buf *b, const float *Pa,
                      const float *Pb, size_t n, size_t np, int T, int keep)
{
    CHECK(floats_identical(Pa, Pb, (size_t)T * np), "%s: pooled current differs", tag);
    CHECK(floats_identical(a->v, b->v, n), "%s: membrane differs", tag);
    if (keep & 1)
        CHECK(floats_identical(a->count, b->count, n), "%s: spike counts differ", tag);
    if (keep & 2)
        CHECK(floats_identical(a->trace, b->trace, n), "%s: traces differ", tag);
    if (keep & 4)
        CHECK(bits_equal(a->bits, b->bits, n, T), "%s: spike bits differ", tag);
}

/* The cpu backend's neurons and 2×2 pooling in one pass (backend/cpu/neuron_pool.c) against the
 * two kernels it stands for, each tested against its reference above: the same pooled current,
 * membrane, γ, LF and spike bits, bit for bit, chunk by chunk (uneven chunks, bits at t0).
 * keep: 1 γ, 2 LF, 4 bits (inference 0, analysis 1, aggregate 3, exact 7). quiet (or NULL):
 * margins of the map (top, bottom, left, right) that get no current, told to the one pass
 * (sbp_neuron_state.quiet), which may skip them — the two kernels step every neuron. Where the
 * one pass declines (no AVX-512; bits on rows of partial words) the engine calls the two
 * kernels: checked, nothing to compare. */
static int neuron_pool_case(const sbp_layer *L, const sbp_layer *Pl, int T, int keep,
                            float mean, const int *quiet, int *silent, const char *what)
{
    const size_t n = L->n_out, np = Pl->n_out;
    char tag[200];
    snprintf(tag, sizeof tag, "%s: neurons+pool %dx%dx%d T %d keep %d mean %.2f quiet %d %d %d %d",
             what, L->out_h, L->out_w, L->out_c, T, keep, (double)mean, quiet ? quiet[0] : 0,
             quiet ? quiet[1] : 0, quiet ? quiet[2] : 0, quiet ? quiet[3] : 0);
    float *I = falloc((size_t)T * n), *Ic = falloc((size_t)T * n), *y = falloc((size_t)T * n);
    float *Pa = falloc((size_t)T * np), *Pb = falloc((size_t)T * np);
    float *ws = falloc(sbp_neuron_pool_scratch(L, 7));
    int live = 1; /* whether any neuron is outside the margins */
    for (size_t i = 0; i < (size_t)T * n; i++) {
        I[i] = live_neuron(L, quiet, i % n) ? 0.45f * nrand() + mean : 0.0f;
    }
    if (quiet)
        live = quiet[0] + quiet[1] < L->out_h && quiet[2] + quiet[3] < L->out_w;
    fill_nan(Pa, (size_t)T * np);
    fill_nan(Pb, (size_t)T * np);
    neuron_buf a, b;
    nb_init_keep(&a, L, T, keep);
    nb_init_keep(&b, L, T, keep);
    if (quiet)
        memcpy(b.st.quiet, quiet, sizeof b.st.quiet);
    int fused = 1;
    for (int t0 = 0, i = 0; t0 < T; i++) {
        const int tc = chunk_len(i, T - t0);
        slice_steps(Ic, I, n, t0, tc);
        sbp_neuron_forward(y, Ic, &a.st, L, t0, tc);
        sbp_pool_forward_fast(Pa + (size_t)t0 * np, y, Pl, tc);
        fused &= sbp_neuron_pool_forward(Pb + (size_t)t0 * np, Ic, &b.st, L, Pl, t0, tc, ws);
        t0 += tc;
    }
    /* it declines spike bits on image rows that are not whole 16-neuron words */
    const int applies = sbp_use_avx512() && !((keep & 4) && (size_t)L->out_w * L->out_c % 16);
    CHECK(fused == applies, "%s: fused %d where it %s", tag, fused,
          applies ? "applies" : "does not apply");
    if (fused) {
        size_t spikes = 0;
        for (size_t i = 0; i < (size_t)T * np; i++)
            spikes += Pa[i] != 0.0f;
        if (silent) /* a random case: counted, the caller checks that few are */
            *silent += live && !spikes;
        else
            CHECK(spikes > 0, "%s: no spike reached the pooling (the case tests nothing)", tag);
        same_pass(tag, &a, &b, Pa, Pb, n, np, T, keep);
    }
    nb_free(&a);
    nb_free(&b);
    free(I), free(Ic), free(y), free(Pa), free(Pb), free(ws);
    return fused;
}

/* Their exact backward in one pass against the pooling's backward then the neurons' (chunks
 * from last to first, the carry across them): the same input gradient and carry, bit for bit;
 * random spike bits, a factor with zeros (as a dropout mask makes); quiet margins (or NULL) as
 * in neuron_pool_case, where no neuron fired. Returns whether it ran. */
static int neuron_pool_backward_case(const sbp_layer *L, const sbp_layer *Pl, int T,
                                     const int *quiet, int *silent, const char *what)
{
    const size_t n = L->n_out, np = Pl->n_out, words = sbp_spike_row_words(n);
    char tag[200];
    snprintf(tag, sizeof tag, "%s: neurons+pool backward %dx%dx%d T %d quiet %d %d %d %d", what,
             L->out_h, L->out_w, L->out_c, T, quiet ? quiet[0] : 0, quiet ? quiet[1] : 0,
             quiet ? quiet[2] : 0, quiet ? quiet[3] : 0);
    float *gP = falloc((size_t)T * np), *factor = falloc(n), *dx = falloc((size_t)T * n);
    float *ga = falloc((size_t)T * n), *gb = falloc((size_t)T * n);
    float *ca = falloc(n), *cb = falloc(n), *ws = falloc(sbp_neuron_pool_scratch(L, 7));
    uint64_t *bits = calloc((size_t)T * words, sizeof(uint64_t));
    memset(ca, 0, n * sizeof(float)); /* g_U[T] = 0 (SPEC §3) */
    memset(cb, 0, n * sizeof(float));
    for (size_t i = 0; i < (size_t)T * np; i++)
        gP[i] = nrand();
    for (size_t i = 0; i < n; i++)
        factor[i] = urand() < 0.2 ? 0.0f : 0.5f + (float)urand();
    for (int t = 0; t < T; t++)
        for (size_t i = 0; i < n; i++) {
            if (live_neuron(L, quiet, i) && urand() < 0.3)
                bits[(size_t)t * words + i / 64] |= (uint64_t)1 << (i % 64);
        }
    fill_nan(ga, (size_t)T * n);
    fill_nan(gb, (size_t)T * n);
    sbp_neuron_state a = {.carry = ca, .bits = bits}, b = {.carry = cb, .bits = bits};
    if (quiet)
        memcpy(b.quiet, quiet, sizeof b.quiet);
    const int live = !quiet || (quiet[0] + quiet[1] < L->out_h && quiet[2] + quiet[3] < L->out_w);
    int bounds[64], nc = 0; /* uneven chunks, done from the last to the first */
    for (int t0 = 0, i = 0; t0 < T && nc < 63; i++) {
        bounds[nc++] = t0;
        t0 += chunk_len(i, T - t0);
    }
    bounds[nc] = T;
    int fused = 1;
    for (int c = nc - 1; c >= 0; c--) {
        const int t0 = bounds[c], tc = (bounds[c + 1] < T ? bounds[c + 1] : T) - t0;
        sbp_pool_backward_fast(dx, gP + (size_t)t0 * np, Pl, tc);
        sbp_neuron_backward(ga + (size_t)t0 * n, dx, factor, &a, L, t0, tc);
        fused &= sbp_neuron_pool_backward(gb + (size_t)t0 * n, gP + (size_t)t0 * np, factor, &b,
                                          L, Pl, t0, tc, ws);
    }
    CHECK(fused == sbp_use_avx512(), "%s: fused %d where AVX-512 is %d", tag, fused,
          sbp_use_avx512());
    if (fused) {
        size_t nonzero = 0;
        for (size_t i = 0; i < (size_t)T * n; i++)
            nonzero += ga[i] != 0.0f;
        if (silent)
            *silent += live && !nonzero;
        else
            CHECK(nonzero > 0, "%s: all gradients 0 (the case tests nothing)", tag);
        CHECK(floats_identical(ga, gb, (size_t)T * n), "%s: input gradient differs", tag);
        CHECK(floats_identical(ca, cb, n), "%s: carry differs", tag);
    }
    free(gP), free(factor), free(dx), free(ga), free(gb), free(ca), free(cb), free(ws);
    free(bits);
    return fused;
}

/* A convolution (3×3, pad 1, or the notation's) and the pooling above it. */
static int conv_pool_layers(sbp_layer *layers, const char *notation)
{
    sbp_net_spec spec;
    sbp_error err = {0};
    size_t np;
    return sbp_net_spec_parse(&spec, notation, &err) == SBP_OK &&
           sbp_net_resolve(layers, NULL, &np, &spec, &err) == SBP_OK;
}

static void test_neuron_pool(void)
{
    int cases = 0, compared = 0, back_cases = 0, back_compared = 0;
    rng_state = TEST_RNG_SEED ^ 0x5A5A;
    sbp_layer layers[SBP_MAX_LAYERS];
    /* LeNet's two: image rows of 560 floats (whole 16-neuron words) and of 700 (not) */
    if (conv_pool_layers(layers, "28x28x1-20C5-P2-50C5-P2-200FC-10")) {
        const int keeps[] = {0, 3, 7};
        for (int k = 0; k < 3; k++) {
            /* margins as an MNIST digit leaves them on the first layer, odd and even */
            static const int q1[4] = {3, 5, 4, 1}, q2[4] = {2, 1, 3, 0};
            static const int q3[4] = {1, 2, 2, 0}; /* from neuron 40: not a whole word */
            compared += neuron_pool_case(&layers[0], &layers[1], 20, keeps[k], 0.15f, NULL, NULL,
                                         "LeNet conv 1");
            compared += neuron_pool_case(&layers[2], &layers[3], 20, keeps[k], 0.15f, NULL, NULL,
                                         "LeNet conv 2");
            compared += neuron_pool_case(&layers[0], &layers[1], 20, keeps[k], 0.5f, q1, NULL,
                                         "LeNet conv 1");
            compared += neuron_pool_case(&layers[2], &layers[3], 20, keeps[k], 0.5f, q2, NULL,
                                         "LeNet conv 2");
            compared += neuron_pool_case(&layers[0], &layers[1], 20, keeps[k], 0.5f, q3, NULL,
                                         "LeNet conv 1");
            cases += 5;
        }
        static const int q1[4] = {3, 5, 4, 1}, q3[4] = {1, 2, 2, 0};
        back_compared +=
            neuron_pool_backward_case(&layers[0], &layers[1], 20, NULL, NULL, "LeNet conv 1");
        back_compared +=
            neuron_pool_backward_case(&layers[2], &layers[3], 23, NULL, NULL, "LeNet conv 2");
        back_compared +=
            neuron_pool_backward_case(&layers[0], &layers[1], 20, q1, NULL, "LeNet conv 1");
        back_compared +=
            neuron_pool_backward_case(&layers[0], &layers[1], 20, q3, NULL, "LeNet conv 1");
        back_cases += 4;
    } else
        CHECK(0, "LeNet's layers resolve");
    /* other shapes: every row alignment, every kept set, spikes now and then or most steps;
     * a small map over few steps may see no spike at all: a few such cases are allowed */
    int silent = 0;
    for (int trial = 0; trial < 40; trial++) {
        char notation[96];
        const int h = 2 * irand(1, 6), w = 2 * irand(1, 6), ci = irand(1, 3), co = irand(1, 70);
        snprintf(notation, sizeof notation, "%dx%dx%d-%dC3-P2-4FC-2", h, w, ci, co);
        const int ok = conv_pool_layers(layers, notation);
        CHECK(ok, "layers %s resolve", notation);
        if (!ok)
            continue;
        static const int keeps[] = {0, 1, 3, 7}; /* what the engine keeps: LF implies γ */
        /* every other shape with random margins, now and then covering the whole map */
        int quiet[4] = {irand(0, h), irand(0, h / 2), irand(0, w / 2), irand(0, w / 2)};
        compared += neuron_pool_case(&layers[0], &layers[1], irand(1, 30), keeps[trial % 4],
                                     trial % 3 == 1 ? 0.7f : 0.15f, trial % 2 ? quiet : NULL,
                                     &silent, notation);
        back_compared += neuron_pool_backward_case(&layers[0], &layers[1], irand(1, 30),
                                                   trial % 2 ? quiet : NULL, &silent, notation);
        back_cases++;
        cases++;
    }
    CHECK(silent <= 8, "neurons+pool: %d of 80 random cases saw no spike (they test nothing)",
          silent);
    /* where it does not apply: a dropout mask (scaled spikes), an odd map */
    if (conv_pool_layers(layers, "6x6x2-5C3-P2-4FC-2")) {
        float mask[180], I[180], P[45], ws[512];
        for (int i = 0; i < 180; i++)
            mask[i] = 1.25f, I[i] = 2.0f;
        sbp_neuron_state st = {.v = falloc(180), .mask = mask};
        CHECK(!sbp_neuron_pool_forward(P, I, &st, &layers[0], &layers[1], 0, 1, ws),
              "neurons+pool: declines a masked layer");
        free(st.v);
    }
    if (conv_pool_layers(layers, "7x6x2-5C3-P2-4FC-2")) {
        float I[210], P[45], ws[512];
        sbp_neuron_state st = {.v = falloc(210)};
        CHECK(!sbp_neuron_pool_forward(P, I, &st, &layers[0], &layers[1], 0, 1, ws),
              "neurons+pool: declines an odd map");
        free(st.v);
    }
    printf("neurons+pool: %d cases, %d compared bit for bit with neurons then pooling, %d "
           "declined as they should (no AVX-512, or bits on rows of partial words)%s\n",
           cases, compared, cases - compared, compared ? "" : " — comparison SKIPPED");
    printf("neurons+pool backward: %d cases, %d compared bit for bit with the pooling's backward "
           "then the neurons'%s; %d random cases of both without a spike\n",
           back_cases, back_compared, back_compared ? "" : " — SKIPPED (no AVX-512)", silent);
}

/* The first convolution, its neurons and the pooling in one pass (conv_neuron_pool.c) against
 * the convolution's forward then the neurons+pooling pass, each tested above: the same pooled
 * current, membrane, γ, LF and bits, bit for bit, chunk by chunk. x: unit spikes inside an
 * input rectangle (the pixels that can spike), the quiet margins (sbp_neuron_state.quiet) the
 * outputs it does not reach, as the engine sets them. Where a chunk is too dense for the
 * patterns (sbp_conv_forward_fast then runs a GEMM) or values are not 0/1, the one pass must
 * decline and leave everything as it was. Returns whether every chunk ran fused. */
static int conv_neuron_pool_case(const sbp_layer *L, const sbp_layer *Pl, int T, int keep,
                                 double density, const int *box, int scaled, const char *what)
{
    const size_t n = L->n_out, np = Pl->n_out, nin = L->n_in;
    const int k = L->spec.kernel, pad = L->spec.pad, Ho = L->out_h, Wo = L->out_w;
    char tag[200];
    snprintf(tag, sizeof tag, "%s: conv+neurons+pool keep %d density %.2f box %d-%d x %d-%d%s",
             what, keep, density, box[0], box[1], box[2], box[3], scaled ? " scaled" : "");
    const size_t nw = sbp_conv_weights_floats(L);
    float *x = falloc((size_t)T * nin), *xc = falloc((size_t)T * nin), *Wt = falloc(nw);
    float *I = falloc((size_t)T * n), *Pa = falloc((size_t)T * np), *Pb = falloc((size_t)T * np);
    float *wsa = scratch_alloc(sbp_conv_scratch(L, 7) > sbp_neuron_pool_scratch(L, 7)
                                   ? sbp_conv_scratch(L, 7)
                                   : sbp_neuron_pool_scratch(L, 7));
    float *wsb = scratch_alloc(sbp_conv_neuron_pool_scratch(L, 7));
    fill_normal(Wt, nw);
    for (size_t i = 0; i < nw; i++)
        Wt[i] *= 0.6f; /* spikes now and then, not at every step */
    for (int t = 0; t < T; t++)
        for (size_t i = 0; i < nin; i++) {
            const int y = (int)(i / (size_t)L->in_w), xx = (int)(i % (size_t)L->in_w);
            const int in = y >= box[0] && y < box[1] && xx >= box[2] && xx < box[3];
            x[(size_t)t * nin + i] = in && urand() < density ? 1.0f : 0.0f;
        }
    if (scaled)
        x[(size_t)(T / 2) * nin + (size_t)box[0] * L->in_w + box[2]] = 1.25f; /* dropout's */
    /* outputs reached by the box: rows box[0] + pad − k + 1 … box[1] − 1 + pad */
    int quiet[4] = {box[0] + pad - k + 1, Ho - (box[1] + pad), box[2] + pad - k + 1,
                    Wo - (box[3] + pad)};
    for (int q = 0; q < 4; q++)
        quiet[q] = quiet[q] < 0 ? 0 : quiet[q];
    fill_nan(Pa, (size_t)T * np);
    fill_nan(Pb, (size_t)T * np);
    neuron_buf a, b;
    nb_init_keep(&a, L, T, keep);
    nb_init_keep(&b, L, T, keep);
    memcpy(a.st.quiet, quiet, sizeof quiet);
    memcpy(b.st.quiet, quiet, sizeof quiet);
    int all = 1, spikes = 0;
    for (int t0 = 0, i = 0; t0 < T; i++) {
        const int tc = chunk_len(i, T - t0);
        slice_steps(xc, x, nin, t0, tc);
        size_t nnz = 0;
        int unit = 1;
        for (size_t j = 0; j < (size_t)tc * nin; j++)
            nnz += xc[j] != 0.0f, unit &= xc[j] == 0.0f || xc[j] == 1.0f;
        const int applies = sbp_use_avx512() && unit && (double)nnz <= 0.5 * (double)nin * tc &&
                            !((keep & 4) && (size_t)L->out_w * L->out_c % 16);
        const float v_before = b.v[n / 2];
        const int took = sbp_conv_neuron_pool_forward(Pb + (size_t)t0 * np, xc, Wt, &b.st, L,
                                                      Pl, t0, tc, wsb);
        CHECK(took == applies, "%s: chunk %d fused %d where it %s", tag, i, took,
              applies ? "applies" : "does not apply");
        sbp_conv_forward_fast(I, xc, Wt, L, tc, wsa);
        const int pa = sbp_neuron_pool_forward(Pa + (size_t)t0 * np, I, &a.st, L, Pl, t0, tc, wsa);
        if (!took) { /* nothing changed: the engine makes the same step with the two calls */
            CHECK(isnan(Pb[(size_t)t0 * np]) && floats_identical(&b.v[n / 2], &v_before, 1),
                  "%s: chunk %d declined but wrote", tag, i);
            if (pa)
                memcpy(Pb + (size_t)t0 * np, Pa + (size_t)t0 * np, (size_t)tc * np * sizeof(float));
            memcpy(b.v, a.v, n * sizeof(float));
            if (keep & 1)
                memcpy(b.count, a.count, n * sizeof(float));
            if (keep & 2)
                memcpy(b.trace, a.trace, n * sizeof(float));
            if (keep & 4)
                memcpy(b.bits, a.bits, (size_t)T * sbp_spike_row_words(n) * sizeof(uint64_t));
        }
        all &= took;
        t0 += tc;
    }
    if (all) {
        for (size_t i = 0; i < (size_t)T * np; i++)
            spikes += Pa[i] != 0.0f;
        CHECK(spikes > 0, "%s: no spike reached the pooling (the case tests nothing)", tag);
    }
    same_pass(tag, &a, &b, Pa, Pb, n, np, T, keep);
    nb_free(&a);
    nb_free(&b);
    free(x), free(xc), free(Wt), free(I), free(Pa), free(Pb), free(wsa), free(wsb);
    return all;
}

/* The first layer's exact backward in one pass (sbp_conv_neuron_pool_backward: neurons+pooling
 * backward, two rows at a time into the convolution's weight gradient) against the two calls
 * it stands for, the neurons+pooling backward into a gI and sbp_conv_backward_fast from it,
 * chunks from last to first: the same carry bit for bit; dWt (added to random values, padding
 * lanes included) summed in another order, so both against a double-precision sum of the
 * products from the two calls' gI, within 2e-5 of the magnitudes summed (the start value's
 * and the products': a missing product is ~1/(their count) of that). x: unit spikes in an input box, spike bits only on the
 * outputs the box reaches (the quiet margins, as the engine sets them). Where a chunk is too
 * dense for the event kernels, the one pass must decline and leave dWt and the carry as they
 * were. Returns whether every chunk ran fused. */
static int conv_neuron_pool_backward_case(const sbp_layer *L, const sbp_layer *Pl, int T,
                                          double density, const int *box, const char *what)
{
    const size_t n = L->n_out, np = Pl->n_out, nin = L->n_in, words = sbp_spike_row_words(n);
    const int k = L->spec.kernel, pad = L->spec.pad, Ho = L->out_h, Wo = L->out_w;
    const int C = L->out_c, H = L->in_h, W = L->in_w;
    char tag[200];
    snprintf(tag, sizeof tag, "%s: conv+neurons+pool backward T %d density %.2f box %d-%d x %d-%d",
             what, T, density, box[0], box[1], box[2], box[3]);
    const size_t nw = sbp_conv_weights_floats(L);
    float *x = falloc((size_t)T * nin), *xc = falloc((size_t)T * nin), *Wt = falloc(nw);
    float *gP = falloc((size_t)T * np), *factor = falloc(n), *gI = falloc((size_t)7 * n);
    float *gy = falloc((size_t)7 * n), *dwa = falloc(nw), *dwb = falloc(nw), *ca = falloc(n), *cb = falloc(n);
    double *ref = calloc(nw, sizeof(double)), *mag = calloc(nw, sizeof(double));
    float *wsa = scratch_alloc(sbp_conv_scratch(L, 7) > sbp_neuron_pool_scratch(L, 7)
                                   ? sbp_conv_scratch(L, 7)
                                   : sbp_neuron_pool_scratch(L, 7));
    float *wsb = scratch_alloc(sbp_conv_neuron_pool_scratch(L, 7));
    uint64_t *bits = calloc((size_t)T * words, sizeof(uint64_t));
    fill_normal(Wt, nw);
    fill_normal(dwa, nw);
    memcpy(dwb, dwa, nw * sizeof(float));
    for (size_t i = 0; i < nw; i++)
        ref[i] = dwa[i], mag[i] = fabs((double)dwa[i]);
    for (int t = 0; t < T; t++)
        for (size_t i = 0; i < nin; i++) {
            const int y = (int)(i / (size_t)W), xx = (int)(i % (size_t)W);
            const int in = y >= box[0] && y < box[1] && xx >= box[2] && xx < box[3];
            x[(size_t)t * nin + i] = in && urand() < density ? 1.0f : 0.0f;
        }
    int quiet[4] = {box[0] + pad - k + 1, Ho - (box[1] + pad), box[2] + pad - k + 1,
                    Wo - (box[3] + pad)};
    for (int q = 0; q < 4; q++)
        quiet[q] = quiet[q] < 0 ? 0 : quiet[q];
    for (size_t i = 0; i < (size_t)T * np; i++)
        gP[i] = nrand();
    for (size_t i = 0; i < n; i++)
        factor[i] = urand() < 0.2 ? 0.0f : 0.5f + (float)urand();
    for (int t = 0; t < T; t++)
        for (size_t i = 0; i < n; i++)
            if (live_neuron(L, quiet, i) && urand() < 0.3)
                bits[(size_t)t * words + i / 64] |= (uint64_t)1 << (i % 64);
    memset(ca, 0, n * sizeof(float));
    memset(cb, 0, n * sizeof(float));
    sbp_neuron_state a = {.carry = ca, .bits = bits}, b = {.carry = cb, .bits = bits};
    memcpy(a.quiet, quiet, sizeof quiet);
    memcpy(b.quiet, quiet, sizeof quiet);
    int bounds[64], nc = 0;
    for (int t0 = 0, i = 0; t0 < T && nc < 63; i++) {
        bounds[nc++] = t0;
        t0 += chunk_len(i, T - t0);
    }
    bounds[nc] = T;
    int all = 1, nonzero = 0;
    for (int c = nc - 1; c >= 0; c--) {
        const int t0 = bounds[c], tc = bounds[c + 1] - t0;
        slice_steps(xc, x, nin, t0, tc);
        size_t nnz = 0;
        for (size_t j = 0; j < (size_t)tc * nin; j++)
            nnz += xc[j] != 0.0f;
        const int applies = sbp_use_avx512() && sbp_conv_wgrad_usable(L) &&
                            (double)nnz <= 0.5 * (double)nin * tc;
        const float c_before = cb[n / 2], w_before = dwb[nw / 2];
        const int took = sbp_conv_neuron_pool_backward(dwb, gP + (size_t)t0 * np, factor, xc,
                                                       &b, L, Pl, t0, tc, wsb);
        CHECK(took == applies, "%s: chunk %d fused %d where it %s", tag, c, took,
              applies ? "applies" : "does not apply");
        fill_nan(gI, (size_t)tc * n);
        if (!sbp_neuron_pool_backward(gI, gP + (size_t)t0 * np, factor, &a, L, Pl, t0, tc,
                                      wsa)) { /* no AVX-512: the two apart */
            sbp_pool_backward_fast(gy, gP + (size_t)t0 * np, Pl, tc);
            sbp_neuron_backward(gI, gy, factor, &a, L, t0, tc);
        }
        sbp_conv_backward_fast(NULL, dwa, gI, xc, Wt, L, tc, wsa);
        if (!took) { /* nothing changed: the engine then makes the two calls */
            CHECK(floats_identical(&cb[n / 2], &c_before, 1) &&
                      floats_identical(&dwb[nw / 2], &w_before, 1),
                  "%s: chunk %d declined but wrote", tag, c);
            memcpy(cb, ca, n * sizeof(float));
            memcpy(dwb, dwa, nw * sizeof(float));
        }
        all &= took;
        /* the products, from the two calls' gI */
        for (int t = 0; t < tc; t++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            const int iy = oy - pad + ky, ix = ox - pad + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                continue;
                            const float v = xc[(size_t)t * nin + (size_t)iy * W + ix];
                            if (v == 0.0f)
                                continue;
                            const float *g = gI + (size_t)t * n + ((size_t)oy * Wo + ox) * C;
                            const size_t o = sbp_conv_wt(L, 0, ky, k - 1 - kx);
                            for (int co = 0; co < C; co++) {
                                ref[o + co] += (double)v * g[co];
                                mag[o + co] += fabs((double)v * g[co]);
                                nonzero += g[co] != 0.0f;
                            }
                        }
    }
    CHECK(nonzero > 0, "%s: no product reached the weight gradient (the case tests nothing)",
          tag);
    CHECK(floats_identical(ca, cb, n), "%s: carry differs", tag);
    double worst_a = 0.0, worst_b = 0.0;
    for (size_t i = 0; i < nw; i++) {
        const double tol = 2e-5 * mag[i] + 1e-30;
        const double ea = fabs(dwa[i] - ref[i]) / tol, eb = fabs(dwb[i] - ref[i]) / tol;
        worst_a = ea > worst_a ? ea : worst_a;
        worst_b = eb > worst_b || isnan(eb) ? eb : worst_b;
    }
    CHECK(worst_a <= 1.0, "%s: the two calls' dWt off the double sum (%.3g of the tolerance)",
          tag, worst_a);
    CHECK(worst_b <= 1.0, "%s: dWt off the double sum (%.3g of the tolerance)", tag, worst_b);
    free(x), free(xc), free(Wt), free(gP), free(factor), free(gI), free(gy), free(dwa), free(dwb);
    free(ca), free(cb), free(ref), free(mag), free(wsa), free(wsb), free(bits);
    return all;
}

/* A random one-channel convolution of kernel 1, 3 or 5 by trial ("same" padding: even maps
 * for the pooling) with up to co5 (k 5) or co channels, the pooling above it, and an input box
 * (rows box[0] … box[1] − 1, columns box[2] … box[3] − 1). */
static int one_channel_conv_pool(sbp_layer *layers, char *notation, size_t size, int trial,
                                 int co5, int co, int box[4])
{
    const int kk = 1 + 2 * (trial % 3);
    const int h = 2 * irand(3, 12), w = 2 * irand(3, 12), c = irand(1, kk == 5 ? co5 : co);
    snprintf(notation, size, "%dx%dx1-%dC%d-P2-4FC-2", h, w, c, kk);
    const int ok = conv_pool_layers(layers, notation);
    CHECK(ok, "layers %s resolve", notation);
    box[0] = irand(0, h / 3);
    box[1] = h - irand(0, h / 3);
    box[2] = irand(0, w / 3);
    box[3] = w - irand(0, w / 3);
    return ok;
}

/* Both directions of the one pass. */
static void test_conv_neuron_pool(void)
{
    int cases = 0, fused = 0, back_cases = 0, back_fused = 0;
    rng_state = TEST_RNG_SEED ^ 0xC0DE;
    sbp_layer layers[SBP_MAX_LAYERS];
    if (conv_pool_layers(layers, "28x28x1-20C5-P2-50C5-P2-200FC-10")) {
        static const int digit[4] = {4, 24, 5, 23}, whole[4] = {0, 28, 0, 28};
        static const int corner[4] = {0, 9, 19, 28}; /* margins odd and even, one side none */
        const int keeps[] = {0, 3, 7};
        for (int q = 0; q < 3; q++) {
            fused += conv_neuron_pool_case(&layers[0], &layers[1], 23, keeps[q], 0.15, digit, 0,
                                           "LeNet conv 1");
            fused += conv_neuron_pool_case(&layers[0], &layers[1], 9, keeps[q], 0.3, whole, 0,
                                           "LeNet conv 1");
            fused += conv_neuron_pool_case(&layers[0], &layers[1], 11, keeps[q], 0.2, corner, 0,
                                           "LeNet conv 1");
            cases += 3;
        }
        /* declined: a dropout-scaled value in one chunk; every pixel spiking (too dense) */
        CHECK(!conv_neuron_pool_case(&layers[0], &layers[1], 12, 3, 0.2, digit, 1,
                                     "LeNet conv 1"),
              "conv+neurons+pool: a scaled spike must be declined");
        CHECK(!conv_neuron_pool_case(&layers[0], &layers[1], 8, 0, 1.0, whole, 0,
                                     "LeNet conv 1"),
              "conv+neurons+pool: a chunk denser than the patterns take must be declined");
        /* the second convolution (20 channels in): not by patterns, so not fused */
        float P[8], ws[64];
        sbp_neuron_state st = {0};
        CHECK(!sbp_conv_neuron_pool_forward(P, ws, ws, &st, &layers[2], &layers[3], 0, 1, ws),
              "conv+neurons+pool: declines a layer of several input channels");
        back_fused += conv_neuron_pool_backward_case(&layers[0], &layers[1], 23, 0.15, digit,
                                                     "LeNet conv 1");
        back_fused += conv_neuron_pool_backward_case(&layers[0], &layers[1], 9, 0.3, whole,
                                                     "LeNet conv 1");
        back_fused += conv_neuron_pool_backward_case(&layers[0], &layers[1], 11, 0.2, corner,
                                                     "LeNet conv 1");
        back_cases += 3;
        /* declined backward: every pixel spiking (sbp_conv_backward_fast takes the GEMM) */
        CHECK(!conv_neuron_pool_backward_case(&layers[0], &layers[1], 8, 1.0, whole,
                                              "LeNet conv 1"),
              "conv+neurons+pool backward: a chunk too dense for events must be declined");
        CHECK(!sbp_conv_neuron_pool_backward(P, P, P, P, &st, &layers[2], &layers[3], 0, 1, ws),
              "conv+neurons+pool backward: declines a layer of several input channels");
    } else
        CHECK(0, "LeNet's layers resolve");
    /* other shapes the patterns take: k 1, 3, 5 ("same" padding: even maps for the pooling),
     * up to 32 channels, rows of whole words or not */
    for (int trial = 0; trial < 24; trial++) {
        char notation[96];
        int box[4];
        if (!one_channel_conv_pool(layers, notation, sizeof notation, trial, 32, 32, box))
            continue;
        fused += conv_neuron_pool_case(&layers[0], &layers[1], irand(1, 20), trial % 2 ? 7 : 3,
                                       0.1 + 0.3 * urand(), box, 0, notation);
        cases++;
    }
    /* the backward on its own shapes: up to 51 channels at k 5, 63 below (k·Cout ≤ 256) */
    for (int trial = 0; trial < 24; trial++) {
        char notation[96];
        int box[4];
        if (!one_channel_conv_pool(layers, notation, sizeof notation, trial, 51, 63, box))
            continue;
        back_fused += conv_neuron_pool_backward_case(&layers[0], &layers[1], irand(1, 20),
                                                     0.05 + 0.35 * urand(), box, notation);
        back_cases++;
    }
    if (sbp_use_avx512()) {
        CHECK(fused >= 12, "conv+neurons+pool: only %d of %d cases ran fused", fused, cases);
        CHECK(back_fused >= 20, "conv+neurons+pool backward: only %d of %d cases ran fused",
              back_fused, back_cases);
    }
    printf("conv+neurons+pool: %d cases, %d fused and bit-identical to the convolution then "
           "neurons+pooling, the rest declined as they should%s\n",
           cases, fused, fused ? "" : " — SKIPPED (no AVX-512)");
    printf("conv+neurons+pool backward: %d cases, %d fused: the same carry bit for bit as the "
           "neurons+pooling backward then the convolution's, dWt within 2e-5 of its products' "
           "magnitudes of a double sum%s\n",
           back_cases, back_fused, back_fused ? "" : " — SKIPPED (no AVX-512)");
}

/* ---------------------------------------------------------------- events */

/* The event list (vector path where the CPU has one) against the plain loop: same offsets,
 * indices and values, every length around the vector width, densities from none to all. */
static void test_events(void) {
    int cases = 0;
    for (int trial = 0; trial < 200; trial++) {
        const size_t n = (size_t)irand(1, 70);
        const int tc = irand(1, 5);
        const double density = trial % 5 == 0 ? 0.0 : trial % 5 == 1 ? 1.0 : urand();
        float *x = falloc(n * tc);
        for (size_t i = 0; i < n * tc; i++)
            x[i] = urand() < density ? (urand() < 0.5 ? -1.0f : 1.3333334f) : 0.0f;
        const size_t words = sbp_events_scratch(n, tc);
        float *wa = scratch_alloc(words), *wb = scratch_alloc(words);
        size_t ka = 0, kb = 0;
        sbp_events *a = sbp_events_build(wa, x, n, tc, &ka);
        sbp_events *b = sbp_events_build_plain(wb, x, n, tc, &kb);
        int same = ka == kb && sbp_events_count(x, n, tc) == kb &&
                   sbp_events_count_plain(x, n, tc) == kb;
        for (int t = 0; t <= tc && same; t++)
            same = a->off[t] == b->off[t];
        for (size_t e = 0; e < kb && same; e++)
            same = a->idx[e] == b->idx[e] && a->val[e] == b->val[e];
        CHECK(same, "events n %zu tc %d density %.2f: vector path differs from the plain loop", n,
              tc, density);
        free(x), free(wa), free(wb);
        cases++;
    }
    printf("events: %d lists (vector path where available vs plain loop)\n", cases);
}

/* Spike bits to rows and event lists in one pass (sbp_events_unpack, the cpu backend's
 * spikes_unpack_events) against the rows the host unpacks and the lists the plain scan finds
 * in them; then the synapses' backward given those lists (backward_events) against their
 * backward that scans the rows (backward_fast): the same dW and dx, bit for bit, sparse and
 * dense inputs, dropout masks with zeros, with and without dx. */
/* Whether unpacked rows x and lists buf equal the rows y and lists want (n per step, tc steps). */
static int unpacked_as(const float *x, const void *buf, const float *y, const sbp_events *want,
                       size_t n, int tc)
{
    const sbp_events *got = buf;
    int same = floats_identical(x, y, (size_t)tc * n) && got->off[tc] == want->off[tc];
    for (int t = 0; t <= tc && same; t++)
        same = got->off[t] == want->off[t];
    for (size_t e = 0; e < want->off[tc] && same; e++)
        same = got->idx[e] == want->idx[e] && got->val[e] == want->val[e];
    return same;
}

static void backward_events_case(const sbp_layer *L, int tc, double density, int masked,
                                 int with_dx, const char *what)
{
    const size_t n = L->n_in, words = sbp_spike_row_words(n), nw = L->w_count + 64;
    const int t0 = irand(0, 3), T = t0 + tc;
    uint64_t *bits = calloc((size_t)T * words, sizeof(uint64_t));
    for (int t = 0; t < T; t++)
        for (size_t i = 0; i < n; i++)
            if (urand() < density)
                bits[(size_t)t * words + i / 64] |= (uint64_t)1 << (i % 64);
    float *mask = masked ? falloc(n) : NULL;
    for (size_t i = 0; masked && i < n; i++)
        mask[i] = urand() < 0.3 ? 0.0f : 1.25f;
    float *x = falloc((size_t)tc * n), *y = falloc((size_t)tc * n);
    void *buf = scratch_alloc(sbp_events_bytes(n, tc) / sizeof(float) + 16);
    float *wb = scratch_alloc(sbp_events_scratch(n, tc));
    fill_nan(x, (size_t)tc * n);
    sbp_events_unpack(x, buf, bits, mask, n, t0, tc);
    for (int t = 0; t < tc; t++)
        sbp_spikes_unpack(y + (size_t)t * n, bits + (size_t)(t0 + t) * words, mask, n);
    size_t k = 0;
    const sbp_events *want = sbp_events_build_plain(wb, y, n, tc, &k);
    CHECK(unpacked_as(x, buf, y, want, n, tc),
          "%s: unpacked rows or lists differ (n %zu, tc %d, t0 %d, density %.2f, mask %d)", what,
          n, tc, t0, density, masked);
    /* the portable loop, which runs where the vector path does not */
    void *pbuf = scratch_alloc(sbp_events_bytes(n, tc) / sizeof(float) + 16);
    float *px = falloc((size_t)tc * n);
    sbp_events_unpack_plain(px, pbuf, bits, mask, n, t0, tc);
    CHECK(unpacked_as(px, pbuf, y, want, n, tc),
          "%s: the portable unpack differs (n %zu, tc %d, density %.2f, mask %d)", what, n, tc,
          density, masked);
    free(pbuf), free(px);
    /* the backward both ways, from the same start */
    const int conv = L->spec.kind == SBP_LAYER_CONV;
    const size_t nWt = conv ? sbp_conv_weights_floats(L) : nw;
    float *Wt = falloc(nWt), *gI = falloc((size_t)tc * L->n_out), *dw0 = falloc(nWt);
    float *dwa = falloc(nWt), *dwb = falloc(nWt), *dxa = falloc((size_t)tc * n);
    float *dxb = falloc((size_t)tc * n);
    float *ws = scratch_alloc(conv ? sbp_conv_scratch(L, tc) : sbp_dense_scratch(L, tc));
    fill_normal(Wt, nWt), fill_normal(gI, (size_t)tc * L->n_out), fill_normal(dw0, nWt);
    memcpy(dwa, dw0, nWt * sizeof(float)), memcpy(dwb, dw0, nWt * sizeof(float));
    fill_nan(dxa, (size_t)tc * n), fill_nan(dxb, (size_t)tc * n);
    if (conv) {
        sbp_conv_backward_fast(with_dx ? dxa : NULL, dwa, gI, x, Wt, L, tc, ws);
        sbp_conv_backward_events(with_dx ? dxb : NULL, dwb, gI, x, buf, Wt, L, tc, ws);
    } else {
        sbp_dense_backward_fast(with_dx ? dxa : NULL, dwa, gI, x, Wt, L, tc, ws);
        sbp_dense_backward_events(with_dx ? dxb : NULL, dwb, gI, x, buf, Wt, L, tc, ws);
    }
    CHECK(floats_identical(dwa, dwb, nWt), "%s: dW given the lists differs (density %.2f)", what,
          density);
    /* dx matters where x ≠ 0 (backend.h); elsewhere either may hold anything */
    int dx_same = 1;
    for (size_t i = 0; with_dx && i < (size_t)tc * n; i++)
        if (x[i] != 0.0f)
            dx_same &= dxa[i] == dxb[i] || (dxa[i] != dxa[i] && dxb[i] != dxb[i]);
    CHECK(dx_same, "%s: dx given the lists differs (density %.2f)", what, density);
    free(bits), free(mask), free(x), free(y), free(buf), free(wb), free(Wt), free(gI), free(dw0);
    free(dwa), free(dwb), free(dxa), free(dxb), free(ws);
}

static void test_backward_events(void)
{
    int cases = 0;
    sbp_layer L;
    static const double densities[] = {0.0, 0.03, 0.2, 0.7};
    /* LeNet's second convolution and dense layers (as the exact backward runs them), then
     * other convolutions and dense layers */
    static const int convs[][7] = {{20, 14, 14, 50, 5, 1, 2}, {3, 10, 9, 64, 3, 1, 1},
                                   {4, 9, 6, 51, 5, 1, 1},   {5, 7, 8, 85, 3, 2, 1},
                                   {1, 4, 4, 1, 3, 1, 1}};
    for (size_t c = 0; c < sizeof convs / sizeof convs[0]; c++) {
        const int *f = convs[c];
        if (!conv_layer(&L, f[0], f[1], f[2], f[3], f[4], f[5], f[6])) {
            CHECK(0, "backward events: conv shape %zu rejected", c);
            continue;
        }
        for (int d = 0; d < 4; d++, cases++)
            backward_events_case(&L, irand(1, 5), densities[d], d % 2, d != 3, "conv");
    }
    static const int denses[][5] = {{50, 7, 7, 200, 0}, {200, 1, 1, 10, 1}, {3, 5, 4, 37, 0}};
    for (size_t c = 0; c < sizeof denses / sizeof denses[0]; c++) {
        const int *f = denses[c];
        if (!dense_layer(&L, f[0], f[1], f[2], f[3], f[4])) {
            CHECK(0, "backward events: dense shape %zu rejected", c);
            continue;
        }
        for (int d = 0; d < 4; d++, cases++)
            backward_events_case(&L, d == 1 ? 1 : irand(1, 5), densities[d], d % 2, d != 2,
                                 "dense");
    }
    printf("backward events: %d cases (unpacked lists vs a scan; backward given them vs "
           "scanning, bit for bit)\n", cases);
}

/* ---------------------------------------------------------------- summation by parts
 *
 * conv_sweep.c: the exact backward over a whole window of T steps, chunk by chunk from the
 * last, against the reference backward called on every chunk (dW summed, dx per step, both in
 * the reference's channel-first layout). The output gradient is either a spiking layer's — per
 * neuron constant over stretches of steps that end at random (a spike with a new g_s; 0 after
 * the last) — or arbitrary floats (every element changes every step: the sweep's record space
 * fills and its weight gradient is taken before the chunk ends). The input: spike bits, with
 * or without a dropout scale, read into event lists as the engine reads them
 * (sbp_events_unpack). */
static void sweep_case(const sbp_layer *L, int T, int tc, int spiking_g, int masked,
                       double density, double change)
{
    char tag[200];
    snprintf(tag, sizeof tag, "sweep conv Cin %d %dx%d k%d p%d Cout %d T %d (%s gI %.3f%s)",
             L->in_c, L->in_h, L->in_w, L->spec.kernel, L->spec.pad, L->out_c, T,
             spiking_g ? "spiking" : "arbitrary", change, masked ? ", dropout" : "");
    const size_t nin = L->n_in, nout = L->n_out, nw = L->w_count;
    const size_t nk = sbp_conv_weights_floats(L), words = sbp_spike_row_words(nin);
    const size_t Pin = (size_t)L->in_h * L->in_w, Pout = (size_t)L->out_h * L->out_w;
    /* the window: input bits (channel-last neuron order), the scale, the output gradient */
    uint64_t *bits = calloc((size_t)T * words, sizeof(uint64_t));
    float *count = falloc(nin), *mask = masked ? falloc(nin) : NULL;
    memset(count, 0, nin * sizeof(float));
    for (size_t i = 0; masked && i < nin; i++)
        mask[i] = urand() < 0.25 ? 0.0f : 1.25f;
    for (int t = 0; t < T; t++)
        for (size_t i = 0; i < nin; i++)
            if (urand() < density) {
                bits[(size_t)t * words + i / 64] |= (uint64_t)1 << (i % 64);
                count[i] += 1.0f;
            }
    float *g = falloc((size_t)T * nout); /* channel-last rows */
    for (size_t o = 0; o < nout; o++) {
        float v = 0.0f; /* g_U after the last spike */
        for (int t = T - 1; t >= 0; t--) {
            /* change < 0: every neuron's g_s the same over the window (as when the layers above
             * pass a constant gradient) but the last neuron's, the map's corner, which changes
             * at every step: a chunk's Δ are that one's alone but at the window's end */
            if (!spiking_g || (change < 0 && (o + 1 == nout || t == T - 1)) ||
                urand() < change)
                v = (float)nrand();
            g[(size_t)t * nout + o] = v;
        }
    }
    float *W = falloc(nw), *Wt = falloc(nk), *dW0 = falloc(nw);
    fill_normal(W, nw), fill_normal(dW0, nw);
    sbp_conv_to_kernel_layout(Wt, W, L);
    /* the reference, chunk by chunk */
    float *x = falloc((size_t)tc * nin), *xf = falloc((size_t)tc * nin);
    float *gf = falloc((size_t)tc * nout), *dxf = falloc((size_t)tc * nin);
    float *dW_ref = falloc(nw), *dx_ref = falloc((size_t)T * nin);
    memcpy(dW_ref, dW0, nw * sizeof(float));
    for (int t0 = 0; t0 < T; t0 += tc) {
        const int n = T - t0 < tc ? T - t0 : tc;
        for (int t = 0; t < n; t++)
            sbp_spikes_unpack(x + (size_t)t * nin, bits + (size_t)(t0 + t) * words, mask, nin);
        to_channel_first(xf, x, L->in_c, Pin, n);
        to_channel_first(gf, g + (size_t)t0 * nout, L->out_c, Pout, n);
        sbp_conv_backward_ref(dxf, dW_ref, gf, xf, W, L, n, NULL);
        to_channel_last(dx_ref + (size_t)t0 * nin, dxf, L->in_c, Pin, n);
    }
    /* the sweep, from the last chunk to the first */
    float *state = falloc(sbp_conv_sweep_floats(L, 0)), *WT = falloc(sbp_conv_sweep_floats(L, 1));
    /* the scratch in any alignment (backend.h): 3 floats off a 64-byte line here */
    float *ws = scratch_alloc(sbp_conv_sweep_scratch(L, tc) + 3), *dx = falloc((size_t)T * nin);
    void *buf = scratch_alloc(sbp_events_bytes(nin, tc) / sizeof(float) + 16);
    float *dWk = falloc(nk), *out_count = falloc(nout), *dW = falloc(nw);
    memset(out_count, 0, nout * sizeof(float));
    sbp_conv_to_kernel_layout(dWk, dW0, L);
    sbp_conv_sweep_weights(WT, Wt, L);
    /* no output spikes: the sweep pays wherever the input has an event */
    CHECK(sbp_conv_sweep_begin(state, count, mask, out_count, L), "%s: declined", tag);
    for (int t0 = (T - 1) / tc * tc; t0 >= 0; t0 -= tc) {
        const int n = T - t0 < tc ? T - t0 : tc;
        sbp_events_unpack(x, buf, bits, mask, nin, t0, n);
        sbp_conv_sweep_backward(dx + (size_t)t0 * nin, state, WT, g + (size_t)t0 * nout, buf, L,
                                n, ws + 3);
    }
    sbp_conv_sweep_end(dWk, state, L);
    memset(dW, 0, nw * sizeof(float));
    sbp_conv_add_from_kernel_layout(dW, dWk, L);
    CHECK_ARRAYS(dW, dW_ref, nw, "%s: dW (+= from nonzero)", tag);
    CHECK_ARRAYS(dx, dx_ref, (size_t)T * nin, "%s: dx", tag); /* everywhere */
    /* the decision: an output spiking far more than its input receives takes the events */
    for (size_t o = 0; o < nout; o++)
        out_count[o] = (float)T;
    for (size_t i = 0; i < nin; i++)
        count[i] = i == 0;
    CHECK(!sbp_conv_sweep_begin(state, count, NULL, out_count, L),
          "%s: taken for one input event against every output spiking at every step", tag);
    free(bits), free(count), free(mask), free(g), free(W), free(Wt), free(dW0), free(x);
    free(xf), free(gf), free(dxf), free(dW_ref), free(dx_ref), free(state), free(WT), free(ws);
    free(dx), free(buf), free(dWk), free(out_count), free(dW);
}

static void test_conv_sweep(void)
{
    /* LeNet's second convolution, and its channels unpadded (whose last map floats are
     * inputs, not padding: what a scratch misaligned by the sweep would overwrite); padded
     * and unpadded, odd sizes and channel counts; a run of k·Cin over 256 floats (in parts);
     * one input channel */
    static const int convs[][6] = {{20, 14, 14, 50, 5, 2}, {20, 12, 12, 50, 5, 0},
                                   {4, 8, 8, 6, 3, 1},     {3, 9, 10, 7, 3, 1},
                                   {2, 6, 7, 5, 5, 2},     {60, 6, 6, 3, 5, 1},
                                   {1, 7, 5, 17, 3, 0}};
    int cases = 0;
    sbp_layer L;
    for (size_t c = 0; c < sizeof convs / sizeof convs[0]; c++) {
        const int *f = convs[c];
        if (!conv_layer(&L, f[0], f[1], f[2], f[3], f[4], 1, f[5])) {
            CHECK(0, "sweep: conv shape %zu rejected", c);
            continue;
        }
        CHECK(sbp_conv_sweep_floats(&L, 0) > 0, "sweep: not offered for shape %zu", c);
        /* a spiking gradient changing at 10 % or 0.5 % of the neuron-steps (a few Δ per step:
         * the scan's lists stay short) or at one neuron only (sweep_case), or arbitrary floats
         * (all change) */
        for (int k = 0; k < 6; k++, cases++)
            sweep_case(&L, irand(6, 14), k == 5 ? 3 : irand(1, 5), k != 3, k % 2,
                       k == 2 ? 0.4 : 0.08, k == 4 ? 0.005 : k == 5 ? -1.0 : 0.105);
    }
    CHECK(conv_layer(&L, 3, 9, 9, 4, 3, 2, 1) && !sbp_conv_sweep_floats(&L, 0),
          "sweep: offered for a stride-2 convolution");
    printf("conv sweep: %d windows (summation by parts vs the reference per chunk)\n", cases);
}

/* core/divide.h: the multiply-shift quotient and remainder equal / and % for divisors of every
 * size the kernels use and beyond, at the edges of the 32-bit range and at random. */
static void test_divide(void) {
    static const uint32_t ds[] = {1, 2, 3, 5, 7, 20, 28, 50, 64, 196, 784, 3920, 65535, 65536,
                                  65537, 1000003, 0x7FFFFFFFu, 0x80000001u, 0xFFFFFFFFu};
    int bad = 0, checks = 0;
    uint64_t x = 0x243F6A8885A308D3ull; /* its own generator: the shared one stays untouched */
    for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
        const sbp_divider v = sbp_divider_make(ds[k]);
        for (int r = 0; r < 4000; r++) {
            uint32_t n;
            if (r < 8)
                n = r < 4 ? (uint32_t)r : 0xFFFFFFFFu - (uint32_t)(r - 4);
            else if (r < 40)
                n = ds[k] * (uint32_t)(r - 8) + (uint32_t)(r % 3) - 1u; /* around multiples */
            else {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                n = (uint32_t)(x >> 32) ^ (uint32_t)x;
            }
            const uint32_t q = sbp_div(n, v);
            bad += q != n / ds[k] || sbp_mod_q(n, q, v) != n % ds[k];
            checks++;
        }
    }
    CHECK(bad == 0, "sbp_div: %d of %d quotients or remainders differ from / and %%", bad, checks);
    printf("divide: %d quotients and remainders equal to / and %%\n", checks);
}

/* Sixteen Philox counters at once (vector path where the CPU has one) against one at a time,
 * including counters that wrap around 2^32. */
static void test_rng16(void) {
    int bad = 0, cases = 0;
    for (int trial = 0; trial < 300; trial++) {
        sbp_rng_key key = sbp_rng_key_make(xorshift(), (sbp_rng_stream)irand(1, 5));
        uint32_t c[4] = {(uint32_t)xorshift(), (uint32_t)xorshift(), (uint32_t)xorshift(),
                         trial % 10 == 0 ? 0xFFFFFFF8u : (uint32_t)xorshift()};
        uint32_t w16[4][16];
        sbp_rng_words16(key, c[0], c[1], c[2], c[3], w16);
        for (uint32_t q = 0; q < 16; q++) {
            uint32_t w[4];
            sbp_rng_words(key, c[0], c[1], c[2], c[3] + q, w);
            for (int i = 0; i < 4; i++)
                bad += w16[i][q] != w[i];
        }
        cases++;
    }
    CHECK(bad == 0, "sbp_rng_words16 differs from sbp_rng_words in %d words", bad);
    printf("rng16:  %d blocks of 16 counters (vector path where available vs one at a time)\n",
           cases);
}

/* Sixteen arbitrary counters at once against one at a time. */
static void test_rng16_lanes(void) {
    int bad = 0, cases = 0;
    for (int trial = 0; trial < 200; trial++) {
        sbp_rng_key key = sbp_rng_key_make(xorshift(), (sbp_rng_stream)irand(1, 5));
        uint32_t c0 = (uint32_t)xorshift(), c1 = (uint32_t)xorshift(), c2[16], c3[16];
        for (int q = 0; q < 16; q++) {
            c2[q] = (uint32_t)xorshift();
            c3[q] = trial % 10 == 0 ? 0xFFFFFFFFu - (uint32_t)q : (uint32_t)xorshift();
        }
        uint32_t w16[4][16];
        sbp_rng_words16_lanes(key, c0, c1, c2, c3, w16);
        for (int q = 0; q < 16; q++) {
            uint32_t w[4];
            sbp_rng_words(key, c0, c1, c2[q], c3[q], w);
            for (int i = 0; i < 4; i++)
                bad += w16[i][q] != w[i];
        }
        cases++;
    }
    CHECK(bad == 0, "sbp_rng_words16_lanes differs from sbp_rng_words in %d words", bad);
    printf("rng16 lanes: %d blocks of 16 arbitrary counters\n", cases);
}

/* The rate encoder (§1) against its definition, one Philox call per pixel: images with empty
 * regions (the encoder's sparse form) and without (dense form), sizes that are not multiples of
 * 4 or 64, too large for the sparse form, chunks starting at t0 > 0, values of both signs
 * between empty runs, and the analysis layout where the value map is the last output row. */
static void test_encode(void) {
    const size_t sizes[] = {1, 3, 5, 64, 65, 784, 3072, 20001};
    int bad = 0, cases = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (int kind = 0; kind < 4; kind++) {
            const size_t n = sizes[si];
            const int T = 7, t0 = kind == 2 ? 5 : 0;
            uint8_t *px = malloc(n);
            for (size_t i = 0; i < n; i++) /* kind 0: ~80 % zero pixels in runs; 1, 2: none */
                px[i] = kind == 0 && ((i / 7) % 5) ? 0 : (uint8_t)irand(1, 255);
            float mean = kind == 1 ? 0.3f : 0.0f, sd = kind == 1 ? 0.7f : 1.0f;
            sbp_input in = {.pixels = px, .mean = &mean, .std = &sd, .gain = 0.5f,
                            .key = sbp_rng_key_make(xorshift(), SBP_RNG_ENCODE),
                            .tag = (uint32_t)irand(0, 9), .sample = (uint32_t)xorshift()};
            float *xval = falloc(n), *x = falloc((size_t)T * n), *y = falloc((size_t)T * n);
            sbp_input_values(xval, &in, 1, n);
            if (kind == 3) /* values of both signs between empty runs (no image gives these) */
                for (size_t i = 0; i < n; i++)
                    xval[i] = (i / 7) % 5 ? 0.0f : (float)(2.0 * urand() - 1.0);
            fill_nan(x, (size_t)T * n);
            sbp_input_spikes(x, &in, xval, n, t0, T);
            /* the analysis layout: the value map in the last row */
            memcpy(y + (size_t)(T - 1) * n, xval, n * sizeof(float));
            sbp_input_spikes(y, &in, y + (size_t)(T - 1) * n, n, t0, T);
            size_t spikes = 0;
            for (int t = 0; t < T; t++)
                for (size_t j = 0; j < n; j++) {
                    uint32_t w[4];
                    sbp_rng_words(in.key, in.tag, in.sample, (uint32_t)(t0 + t), (uint32_t)(j / 4),
                                  w);
                    const float v = xval[j], a = fabsf(v);
                    const float want = a > (float)(w[j % 4] >> 8) / 16777216.0f
                                           ? (v < 0.0f ? -1.0f : 1.0f) : 0.0f;
                    const float got = x[(size_t)t * n + j];
                    bad += got != want || y[(size_t)t * n + j] != want;
                    spikes += want != 0.0f;
                }
            if (n >= 64)
                CHECK(spikes > 0 && spikes < (size_t)T * n, "encode n %zu: degenerate (%zu spikes)",
                      n, spikes);
            free(px), free(xval), free(x), free(y);
            cases++;
        }
    CHECK(bad == 0, "sbp_input_spikes differs from its definition in %d spikes", bad);
    printf("encode: %d images (sparse and dense forms vs one draw per pixel)\n", cases);
}

/* The pixels that can spike (sbp_input_support): images of C channels whose nonzero pixels
 * are a few placed at random, in any channel, with mean 0 — the box is theirs; with a mean
 * that no pixel value meets, every pixel; a blank image, none. */
static void test_support(void)
{
    int bad = 0, cases = 0;
    for (int trial = 0; trial < 200; trial++) {
        const int C = irand(1, 3), H = irand(1, 33), W = irand(1, 33), dots = irand(0, 4);
        uint8_t *px = calloc((size_t)C * H * W, 1);
        int want[4] = {H, 0, W, 0};
        for (int d = 0; d < dots; d++) {
            const int c = irand(0, C - 1), y = irand(0, H - 1), x = irand(0, W - 1);
            px[((size_t)c * H + y) * W + x] = (uint8_t)irand(1, 255);
            want[0] = y < want[0] ? y : want[0], want[1] = y + 1 > want[1] ? y + 1 : want[1];
            want[2] = x < want[2] ? x : want[2], want[3] = x + 1 > want[3] ? x + 1 : want[3];
        }
        if (!dots)
            want[0] = want[1] = want[2] = want[3] = 0;
        const float mean[3] = {0, 0, 0}, offset[3] = {0, 0.1f, 0}, sd[3] = {0.3f, 0.5f, 1};
        sbp_input in = {.pixels = px, .mean = trial % 10 == 9 ? offset : mean, .std = sd,
                        .gain = 0.5f};
        if (trial % 10 == 9 && C > 1) /* channel 1's 0.1 is no pixel/255: all of it */
            want[0] = 0, want[1] = H, want[2] = 0, want[3] = W;
        int box[4];
        sbp_input_support(&in, C, H, W, box);
        bad += memcmp(box, want, sizeof box) != 0;
        free(px);
        cases++;
    }
    CHECK(bad == 0, "sbp_input_support: %d of %d boxes wrong", bad, cases);
    printf("input support: %d images (dots in any channel, offsets, blank)\n", cases);
}

int main(void) {
    test_divide();
    test_rng16();
    test_rng16_lanes();
    test_encode();
    test_support();
    test_events();
    test_backward_events();
    test_conv();
    test_conv_patterns();
    test_conv_wgrad();
    test_conv_sweep();
    test_dense();
    test_pool();
    test_neuron();
    test_neuron_pool();
    test_conv_neuron_pool();
    return check_finish("test_kernels");
}
