/*
 * bound.c — how fast LeNet's event-driven synapses can run on this machine, whatever the rest
 * of the engine costs (issue 14: "the measured bound that stops it").
 *
 * 1. The inner operations at their best (one thread, everything in L1): the scatter's
 *    o[j..j+16) += v·w[j..j+16) (two loads, one store), the exact backward's
 *    dw += v·g with Σ w·g (three loads, one store), and a load + multiply-add into registers
 *    (the output-stationary form) — nanoseconds per 16-float vector; and an event's weight
 *    row drawn at random from tables of 16 KiB to 8 MiB and multiply-added into registers:
 *    what bringing each event's weights through the core costs where a layer's weights live
 *    (L1, L2, L3), the floor of any event-driven forward that reads them.
 * 2. The cpu backend's synapse kernels on LeNet's layers in isolation, fed random spikes at
 *    the spike rates `spikebp analyze` reports, for T steps in chunks of tc: milliseconds
 *    per image, the synaptic accumulates (ACs, SPEC §8) they do, and what those imply: the
 *    images/s the synapses alone allow on `cores` cores, before any neuron, pooling, encoding
 *    or bookkeeping is paid, and the same from the vector count at the primitives' best; last,
 *    the floor of any event-driven forward: each accumulate's weights brought in as whole
 *    vectors at the weight-row rate measured for a table of its layer's size.
 *
 *   build/bound [--T 100] [--tc 4] [--cores 2] [--rates in,pool1,pool2,dense]
 *
 * Rates default to those of a trained LeNet (`spikebp analyze`, 2026-12-04): input 5.95 %,
 * first pooling 2.71 %, second pooling 2.10 %, dense 2.23 %.
 *
 * The spikes are placed uniformly at random, so the kernels that profit from where events
 * fall — the convolution forward by input column (conv_cols.c) shares one load and store of an
 * output run among the events of a column, which digits' strokes line up — do worse here than
 * on real data: read part 2 as what these kernels cost on structureless spikes, and the last
 * line as the bound of the scatter form only (the column form stores less).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/conv.h"
#include "backend/cpu/dense.h"
#include "core/runs.h"
#include "net/net.h"
#include "kernel_bench.h"

static float *falloc(size_t n)
{
    return bench_falloc("bound", n);
}

/* ------------------------------------------------------------------ 1. primitives */

#ifdef SBP_RUNS_AVX512
/* ns per vector of a run of n floats at offsets that walk an L1-resident map, as an event's
 * runs do (each run overlaps the previous one, like neighbouring pixels' outputs). */
static SBP_TARGET_AVX512 __attribute__((noinline)) double time_axpy(size_t n)
{
    float *o = falloc(2048), *w = falloc(4096);
    const size_t calls = 4000000;
    double t = bench_now();
    for (size_t c = 0; c < calls; c++)
        sbp_axpy_avx512(o + (c * 50) % 1536, w + (c * 250) % 3584, 0.5f, n);
    t = bench_now() - t;
    volatile float sink = o[7];
    (void)sink;
    free(o), free(w);
    return 1e9 * t / (calls * ((n + 15) / 16));
}

static SBP_TARGET_AVX512 __attribute__((noinline)) double time_update_dot(size_t n)
{
    float *dw = falloc(4096), *w = falloc(4096), *g = falloc(2048);
    const size_t calls = 4000000;
    float s = 0.0f;
    double t = bench_now();
    for (size_t c = 0; c < calls; c++)
        s += sbp_update_dot_avx512(dw + (c * 250) % 3584, w + (c * 250) % 3584,
                                   g + (c * 50) % 1536, 0.5f, n);
    t = bench_now() - t;
    volatile float sink = s;
    (void)sink;
    free(dw), free(w), free(g);
    return 1e9 * t / (calls * ((n + 15) / 16));
}

/* Loads and multiply-adds into 4 register accumulators (no store): the output-stationary
 * kernel's inner step. */
static SBP_TARGET_AVX512 __attribute__((noinline)) double time_load_fma(void)
{
    float *w = falloc(4096);
    const size_t iters = 16000000;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const __m512 v = _mm512_set1_ps(0.5f);
    double t = bench_now();
    for (size_t i = 0; i < iters; i++) {
        const float *r = w + (i * 64) % 4032;
        a0 = _mm512_add_ps(a0, _mm512_mul_ps(v, _mm512_loadu_ps(r)));
        a1 = _mm512_add_ps(a1, _mm512_mul_ps(v, _mm512_loadu_ps(r + 16)));
        a2 = _mm512_add_ps(a2, _mm512_mul_ps(v, _mm512_loadu_ps(r + 32)));
        a3 = _mm512_add_ps(a3, _mm512_mul_ps(v, _mm512_loadu_ps(r + 48)));
    }
    t = bench_now() - t;
    volatile float sink = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), a2)) +
                          _mm512_reduce_add_ps(a3);
    (void)sink;
    free(w);
    return 1e9 * t / (iters * 4.0);
}

/* An event's weight row (16 vectors) drawn at random from a table of `kb` KiB and multiply-
 * added into 16 register accumulators, as the output-stationary forward does with each event
 * it finds: ns per vector. Below ~32 KiB the rows come from L1; LeNet's 20 → 50 layer (98 KiB)
 * and VGG9's 64- and 128-channel layers (144–576 KiB) from L2; VGG9's 256-channel layers
 * (1.1–2.3 MiB) and its dense layer from L3. */
static SBP_TARGET_AVX512 __attribute__((noinline)) double time_rows(size_t kb)
{
    const size_t floats = kb * 256, rows = floats / 256;
    float *w = falloc(floats);
    uint32_t *pick = malloc(65536 * sizeof *pick);
    if (!pick) {
        fprintf(stderr, "bound: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < 65536; i++)
        pick[i] = (uint32_t)((size_t)rand() % rows);
    const size_t iters = 1000000;
    __m512 a[16];
    for (int j = 0; j < 16; j++)
        a[j] = _mm512_setzero_ps();
    const __m512 v = _mm512_set1_ps(0.5f);
    double t = bench_now();
    for (size_t i = 0; i < iters; i++) {
        const float *r = w + (size_t)pick[i & 65535] * 256;
        for (int j = 0; j < 16; j++)
            a[j] = _mm512_fmadd_ps(v, _mm512_loadu_ps(r + 16 * j), a[j]);
    }
    t = bench_now() - t;
    for (int j = 1; j < 16; j++)
        a[0] = _mm512_add_ps(a[0], a[j]);
    volatile float sink = _mm512_reduce_add_ps(a[0]);
    (void)sink;
    free(w), free(pick);
    return 1e9 * t / (iters * 16.0);
}
#endif

/* ------------------------------------------------------------------ 2. LeNet's kernels */

typedef struct layer_time {
    double fwd, bwd;   /* seconds for T steps */
    double acs;        /* synaptic accumulates of the forward (events × reached outputs) */
    double vectors;    /* 16-float vector operations of the forward scatter */
} layer_time;

/* Outputs an input event reaches along one axis (stride 1). */
static int reach(int i, int pad, int k, int out)
{
    int lo = i + pad - out + 1, hi = i + pad;
    lo = lo > 0 ? lo : 0;
    hi = hi < k - 1 ? hi : k - 1;
    return hi >= lo ? hi - lo + 1 : 0;
}

static layer_time time_layer(const sbp_layer *L, double rate, int T, int tc, int first)
{
    const int conv = L->spec.kind == SBP_LAYER_CONV;
    const size_t nx = (size_t)tc * L->n_in, nI = (size_t)tc * L->n_out;
    float *x = falloc(nx), *I = falloc(nI), *gI = falloc(nI), *dx = falloc(nx);
    const size_t nk = conv ? sbp_conv_weights_floats(L) : L->w_count; /* kernel layout */
    float *W = falloc(nk), *dW = falloc(nk);
    const size_t scratch = conv ? sbp_conv_scratch(L, tc) : sbp_dense_scratch(L, tc);
    float *ws = falloc(scratch);
    layer_time r = {0};
    for (int t0 = 0; t0 < T; t0 += tc) {
        for (size_t i = 0; i < nx; i++)
            x[i] = (double)rand() / RAND_MAX < rate ? 1.0f : 0.0f;
        for (size_t i = 0; i < nx; i++) {
            if (x[i] == 0.0f)
                continue;
            size_t reached = L->n_out, runs = 1, per_run = L->n_out;
            if (conv) { /* channel-last input (y, x, c): runs of (reached x)·Cout per kernel row */
                const size_t j = i % L->n_in, pix = j / (size_t)L->in_c;
                const int iy = (int)(pix / (size_t)L->in_w), ix = (int)(pix % (size_t)L->in_w);
                const int ry = reach(iy, L->spec.pad, L->spec.kernel, L->out_h);
                const int rx = reach(ix, L->spec.pad, L->spec.kernel, L->out_w);
                reached = (size_t)ry * rx * L->out_c;
                runs = (size_t)ry;
                per_run = (size_t)rx * L->out_c;
            }
            r.acs += (double)reached;
            r.vectors += (double)runs * (double)((per_run + 15) / 16);
        }
        double a = bench_now();
        if (conv)
            sbp_conv_forward_fast(I, x, W, L, tc, ws);
        else
            sbp_dense_forward_fast(I, x, W, L, tc, ws);
        double b = bench_now();
        if (conv)
            sbp_conv_backward_fast(first ? NULL : dx, dW, gI, x, W, L, tc, ws);
        else
            sbp_dense_backward_fast(first ? NULL : dx, dW, gI, x, W, L, tc, ws);
        double c = bench_now();
        r.fwd += b - a;
        r.bwd += c - b;
    }
    free(x), free(I), free(gI), free(dx), free(W), free(dW), free(ws);
    return r;
}

/* Table sizes time_rows is measured at, and the cost per vector of a layer whose weights take
 * `kib` KiB: interpolated in log2(size) between the measured sizes, clamped at both ends. */
#define ROW_SIZES 5
static const size_t row_kib[ROW_SIZES] = {16, 128, 512, 2304, 8192};

static double row_cost(const double *ns, double kib)
{
    if (kib <= (double)row_kib[0])
        return ns[0];
    for (size_t i = 1; i < ROW_SIZES; i++)
        if (kib <= (double)row_kib[i]) {
            const double a = log2((double)row_kib[i - 1]), b = log2((double)row_kib[i]);
            const double f = (log2(kib) - a) / (b - a);
            return ns[i - 1] + f * (ns[i] - ns[i - 1]);
        }
    return ns[ROW_SIZES - 1];
}

int main(int argc, char **argv)
{
    int T = 100, tc = 4, cores = 2;
    double rates[4] = {0.0595, 0.0271, 0.0210, 0.0223};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--T") && i + 1 < argc)
            T = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tc") && i + 1 < argc)
            tc = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cores") && i + 1 < argc)
            cores = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rates") && i + 1 < argc &&
                 sscanf(argv[++i], "%lf,%lf,%lf,%lf", &rates[0], &rates[1], &rates[2],
                        &rates[3]) == 4)
            ;
        else {
            fprintf(stderr, "usage: bound [--T 100] [--tc 4] [--cores 2] [--rates in,pool1,pool2,dense]\n");
            return 2;
        }
    }
    if (T < 1 || tc < 1 || cores < 1) {
        fprintf(stderr, "bound: T, tc and cores must be positive\n");
        return 2;
    }
    srand(1);

    double rmw100 = 0, rmw250 = 0, upd250 = 0, fma = 0, row_ns[ROW_SIZES] = {0};
#ifdef SBP_RUNS_AVX512
    rmw100 = time_axpy(100), rmw250 = time_axpy(250);
    upd250 = time_update_dot(250), fma = time_load_fma();
    printf("primitives (1 thread, L1-resident), ns per 16-float vector:\n");
    printf("  scatter o += v*w   runs of 100: %.3f   runs of 250: %.3f\n", rmw100, rmw250);
    printf("  backward dw += v*g, sum w*g  runs of 250: %.3f\n", upd250);
    printf("  load + multiply-add into registers: %.3f\n", fma);
    printf("  a random 16-vector weight row multiply-added into registers, by table size:\n   ");
    for (size_t i = 0; i < ROW_SIZES; i++)
        printf(" %zu KiB: %.3f", row_kib[i], row_ns[i] = time_rows(row_kib[i]));
    printf("\n\n");
#else
    printf("primitives: no AVX-512 build, skipped\n\n");
#endif

    sbp_net_spec spec;
    sbp_error err = {0};
    sbp_layer layers[SBP_MAX_LAYERS];
    size_t np;
    if (sbp_net_spec_parse(&spec, "28x28x1-20C5-P2-50C5-P2-200FC-10", &err) ||
        sbp_net_resolve(layers, NULL, &np, &spec, &err)) {
        fprintf(stderr, "bound: %s\n", err.msg);
        return 1;
    }
    const struct {
        int l;
        const char *name;
        double rate;
    } rows[] = {{0, "conv1 1->20 k5", rates[0]},
                {2, "conv2 20->50 k5", rates[1]},
                {4, "dense 2450->200", rates[2]},
                {5, "output 200->10", rates[3]}};
    printf("LeNet's synapses alone, T = %d, chunks of %d steps, 1 thread, per image:\n", T, tc);
    printf("  %-18s %6s %11s %11s %11s %11s\n", "layer", "rate %", "ACs", "fwd ms", "bwd ms",
           "ns/AC fwd");
    double fwd = 0, bwd = 0, acs = 0, vec = 0, vec_small = 0, floor_ms = 0;
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        const sbp_layer *L = &layers[rows[k].l];
        const layer_time r = time_layer(L, rows[k].rate, T, tc, rows[k].l == 0);
        /* the floor: every accumulate's weights brought in as whole 16-float vectors at the
         * measured rate for a table of this layer's size */
        floor_ms += 1e-6 * r.acs / 16 * row_cost(row_ns, (double)L->w_count * sizeof(float) / 1024);
        printf("  %-18s %6.2f %11.0f %11.3f %11.3f %11.4f\n", rows[k].name, 100 * rows[k].rate,
               r.acs, 1e3 * r.fwd, 1e3 * r.bwd, 1e9 * r.fwd / (r.acs > 0 ? r.acs : 1));
        fwd += r.fwd, bwd += r.bwd, acs += r.acs, vec += r.vectors;
        if (rows[k].l == 0)
            vec_small = r.vectors;
    }
    printf("  %-18s %6s %11.0f %11.3f %11.3f\n\n", "total", "", acs, 1e3 * fwd, 1e3 * bwd);
    printf("what the synapses alone allow on %d cores (no neuron, pooling, encoding, bookkeeping):\n",
           cores);
    printf("  inference        <= %8.0f images/s\n", cores / fwd);
    printf("  exact training   <= %8.0f images/s (forward + backward synapses)\n",
           cores / (fwd + bwd));
#ifdef SBP_RUNS_AVX512
    const double hw = 1e-9 * (vec_small * rmw100 + (vec - vec_small) * rmw250);
    printf("  the scatter form's %.0f forward vectors at the primitive's best (%.3f ms): <= %.0f images/s\n",
           vec, 1e3 * hw, cores / hw);
    printf("  any event-driven forward, each accumulate's weights brought in at the weight-row\n"
           "  rate for its layer's table size (%.3f ms): <= %.0f images/s\n",
           floor_ms, cores / (1e-3 * floor_ms));
#endif
    return 0;
}
