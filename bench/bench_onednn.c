/*
 * bench_onednn.c — the cpu backend's convolution kernels against oneDNN's (issue 14: "oneDNN is
 * worth measuring for the dense-enough layers and for VGG9").
 *
 * A chunk of tc steps of one layer is a minibatch of tc images to a dense library: the
 * synapse of every step is the same convolution. So for each layer below, at the input density
 * its network has (rates from `spikebp analyze`), this times, on one thread:
 *   ours     sbp_conv_forward_fast / sbp_conv_backward_fast, the engine's own choice per chunk
 *            (event-driven, or im2col + OpenBLAS SGEMM above the crossover density)
 *   gemm     the im2col + SGEMM path alone
 *   oneDNN   its direct convolution (forward; backward data + backward weights) on the same
 *            channel-last (NHWC) rows the engine keeps, weights in whatever layout oneDNN
 *            prefers (reordered once, outside the timing)
 * and prints milliseconds per chunk (best of `reps`) and oneDNN's time over ours. oneDNN does
 * every multiply-add whatever the spikes, so its time does not depend on the density; ours
 * falls with it. Its GFLOP/s are printed too, against the machine's SGEMM peak
 * (`sbp_bench --sgemm-peak`).
 *
 *   build/bench_onednn [reps]        (built with oneDNN where CMake found libdnnl-dev)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "backend/cpu/conv.h"
#include "net/net.h"
#include "kernel_bench.h"

#ifdef SBP_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

void openblas_set_num_threads(int n);

#ifdef SBP_HAVE_DNNL
static float *falloc(size_t n)
{
    return bench_falloc("bench_onednn", n);
}

#define DNNL_OK(call)                                                                          \
    do {                                                                                       \
        dnnl_status_t s_ = (call);                                                             \
        if (s_ != dnnl_success) {                                                              \
            fprintf(stderr, "bench_onednn: %s failed (status %d)\n", #call, (int)s_);          \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* One oneDNN primitive with its memories (the activations wrap our own buffers). */
typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t mem[3];
    dnnl_exec_arg_t args[3];
    char impl[64]; /* the implementation oneDNN chose, e.g. jit:avx512_core */
} dnnl_op;

static dnnl_memory_t wrap(const dnnl_memory_desc_t *md, dnnl_engine_t eng, void *handle)
{
    dnnl_memory_t m;
    DNNL_OK(dnnl_memory_create(&m, md, eng, handle ? handle : DNNL_MEMORY_ALLOCATE));
    if (!handle) { /* library-owned (weights in its own layout): any values will do */
        void *p;
        DNNL_OK(dnnl_memory_get_data_handle(m, &p));
        memset(p, 0, dnnl_memory_desc_get_size(md));
    }
    return m;
}

/* kind 0: forward (x, W → I); 1: backward data (gI, W → dx); 2: backward weights (x, gI → dW). */
static dnnl_op make_op(int kind, const sbp_layer *L, int tc, dnnl_engine_t eng, float *x,
                       float *I, float *gI, float *dx, const_dnnl_primitive_desc_t hint,
                       dnnl_primitive_desc_t *pd_out)
{
    const int k = L->spec.kernel, p = L->spec.pad, s = L->spec.stride;
    dnnl_dims_t src = {tc, L->in_c, L->in_h, L->in_w}, wei = {L->out_c, L->in_c, k, k};
    dnnl_dims_t dst = {tc, L->out_c, L->out_h, L->out_w}, strides = {s, s}, pad = {p, p};
    dnnl_memory_desc_t src_md, wei_md, dst_md;
    DNNL_OK(dnnl_memory_desc_init_by_tag(&src_md, 4, src, dnnl_f32, dnnl_nhwc));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&wei_md, 4, wei, dnnl_f32, dnnl_format_tag_any));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst, dnnl_f32, dnnl_nhwc));
    dnnl_convolution_desc_t cd;
    if (kind == 0)
        DNNL_OK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training,
                                                   dnnl_convolution_direct, &src_md, &wei_md,
                                                   NULL, &dst_md, strides, pad, pad));
    else if (kind == 1)
        DNNL_OK(dnnl_convolution_backward_data_desc_init(
            &cd, dnnl_convolution_direct, &src_md, &wei_md, &dst_md, strides, pad, pad));
    else
        DNNL_OK(dnnl_convolution_backward_weights_desc_init(
            &cd, dnnl_convolution_direct, &src_md, &wei_md, NULL, &dst_md, strides, pad, pad));
    dnnl_primitive_desc_t pd;
    DNNL_OK(dnnl_primitive_desc_create(&pd, &cd, NULL, eng, hint));
    dnnl_op op = {0};
    const char *impl = NULL;
    DNNL_OK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    snprintf(op.impl, sizeof op.impl, "%s", impl ? impl : "?");
    const dnnl_memory_desc_t *w =
        dnnl_primitive_desc_query_md(pd, kind == 2 ? dnnl_query_diff_weights_md : dnnl_query_weights_md, 0);
    if (kind == 0) {
        op.mem[0] = wrap(&src_md, eng, x), op.mem[1] = wrap(w, eng, NULL), op.mem[2] = wrap(&dst_md, eng, I);
        op.args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, op.mem[0]};
        op.args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, op.mem[1]};
        op.args[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, op.mem[2]};
    } else if (kind == 1) {
        op.mem[0] = wrap(&dst_md, eng, gI), op.mem[1] = wrap(w, eng, NULL), op.mem[2] = wrap(&src_md, eng, dx);
        op.args[0] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, op.mem[0]};
        op.args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, op.mem[1]};
        op.args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, op.mem[2]};
    } else {
        op.mem[0] = wrap(&src_md, eng, x), op.mem[1] = wrap(&dst_md, eng, gI), op.mem[2] = wrap(w, eng, NULL);
        op.args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, op.mem[0]};
        op.args[1] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, op.mem[1]};
        op.args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_WEIGHTS, op.mem[2]};
    }
    DNNL_OK(dnnl_primitive_create(&op.prim, pd));
    if (pd_out)
        *pd_out = pd;
    else
        dnnl_primitive_desc_destroy(pd);
    return op;
}

static void free_op(dnnl_op *op)
{
    dnnl_primitive_destroy(op->prim);
    for (int i = 0; i < 3; i++)
        dnnl_memory_destroy(op->mem[i]);
}

static double time_op(const dnnl_op *op, dnnl_stream_t st, int reps)
{
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) { /* the first run creates its kernels: not timed */
        double a = bench_now();
        DNNL_OK(dnnl_primitive_execute(op->prim, st, 3, op->args));
        DNNL_OK(dnnl_stream_wait(st));
        double b = bench_now();
        if (r && b - a < best)
            best = b - a;
    }
    return best;
}
#endif

typedef struct {
    const char *name;
    const char *notation; /* one layer, then any layer to make it resolve */
    double density;       /* input spikes per entry per step */
} layer_case;

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 5, tc = 4;
#ifndef SBP_HAVE_DNNL
    (void)reps, (void)tc;
    printf("bench_onednn: SKIPPED (this build has no oneDNN: apt-get install libdnnl-dev and "
           "reconfigure)\n");
    return 0;
#else
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
    /* Input densities: VGG9 at its initial weights and LeNet trained (spikebp analyze, T = 100,
     * 2026-12-05); the 64→64 layer also at higher densities, to find where oneDNN wins. */
    const layer_case cases[] = {
        {"LeNet 20->50 k5 14x14", "14x14x20-50C5-10", 0.063},
        {"VGG9 3->64 k3 32x32", "32x32x3-64C3-10", 0.378},
        {"VGG9 64->64 k3 32x32", "32x32x64-64C3-10", 0.155},
        {"VGG9 64->128 k3 16x16", "16x16x64-128C3-10", 0.092},
        {"VGG9 128->128 k3 16x16", "16x16x128-128C3-10", 0.070},
        {"VGG9 128->256 k3 8x8", "8x8x128-256C3-10", 0.043},
        {"VGG9 256->256 k3 8x8", "8x8x256-256C3-10", 0.027},
        {"VGG9 64->64 k3 32x32", "32x32x64-64C3-10", 0.30},
        {"VGG9 64->64 k3 32x32", "32x32x64-64C3-10", 0.50},
    };
    dnnl_engine_t eng;
    dnnl_stream_t st;
    DNNL_OK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    DNNL_OK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
    printf("one thread, chunks of %d steps, ms per chunk (best of %d); ratio = oneDNN / ours\n",
           tc, reps);
    printf("%-24s %7s | %8s %8s %8s %6s %7s | %8s %8s %6s\n", "layer", "density", "fwd ours",
           "gemm", "oneDNN", "ratio", "GFLOP/s", "bwd ours", "oneDNN", "ratio");
    char impl[3][64] = {"?", "?", "?"};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        sbp_net_spec spec;
        sbp_error err = {0};
        sbp_layer layers[SBP_MAX_LAYERS];
        size_t np;
        if (sbp_net_spec_parse(&spec, cases[ci].notation, &err) ||
            sbp_net_resolve(layers, NULL, &np, &spec, &err)) {
            fprintf(stderr, "bench_onednn: %s: %s\n", cases[ci].notation, err.msg);
            return 1;
        }
        const sbp_layer *L = &layers[0];
        const size_t nx = (size_t)tc * L->n_in, nI = (size_t)tc * L->n_out;
        float *x = falloc(nx), *I = falloc(nI), *gI = falloc(nI), *dx = falloc(nx);
        /* ours in the kernel layout (padding included: at least w_count, oneDNN's) */
        const size_t nk = sbp_conv_weights_floats(L);
        float *W = falloc(nk), *dW = falloc(nk);
        float *ws = falloc(sbp_conv_scratch(L, tc));
        for (size_t i = 0; i < nx; i++)
            x[i] = (double)rand() / RAND_MAX < cases[ci].density ? 1.0f : 0.0f;

        double ours_f = 1e30, gemm_f = 1e30, ours_b = 1e30;
        for (int r = 0; r < reps + 1; r++) {
            double a = bench_now();
            sbp_conv_forward_fast(I, x, W, L, tc, ws);
            double b = bench_now();
            sbp_conv_forward_gemm(I, x, W, L, tc, ws);
            double c = bench_now();
            sbp_conv_backward_fast(dx, dW, gI, x, W, L, tc, ws);
            double d = bench_now();
            if (r) {
                ours_f = b - a < ours_f ? b - a : ours_f;
                gemm_f = c - b < gemm_f ? c - b : gemm_f;
                ours_b = d - c < ours_b ? d - c : ours_b;
            }
        }
        dnnl_primitive_desc_t fpd;
        dnnl_op fwd = make_op(0, L, tc, eng, x, I, gI, dx, NULL, &fpd);
        dnnl_op bwd_d = make_op(1, L, tc, eng, x, I, gI, dx, fpd, NULL);
        dnnl_op bwd_w = make_op(2, L, tc, eng, x, I, gI, dx, fpd, NULL);
        const double dn_f = time_op(&fwd, st, reps);
        const double dn_b = time_op(&bwd_d, st, reps) + time_op(&bwd_w, st, reps);
        memcpy(impl[0], fwd.impl, 64), memcpy(impl[1], bwd_d.impl, 64), memcpy(impl[2], bwd_w.impl, 64);
        const double flops = 2.0 * (double)tc * L->n_out * L->in_c * L->spec.kernel * L->spec.kernel;
        printf("%-24s %6.1f%% | %8.3f %8.3f %8.3f %6.2f %7.1f | %8.3f %8.3f %6.2f\n",
               cases[ci].name, 100.0 * cases[ci].density, 1e3 * ours_f, 1e3 * gemm_f,
               1e3 * dn_f, dn_f / ours_f, flops / dn_f * 1e-9, 1e3 * ours_b, 1e3 * dn_b,
               dn_b / ours_b);
        free_op(&fwd), free_op(&bwd_d), free_op(&bwd_w);
        dnnl_primitive_desc_destroy(fpd);
        free(x), free(I), free(gI), free(dx), free(W), free(dW), free(ws);
    }
    printf("oneDNN %d.%d.%d implementations: forward %s, backward data %s, backward weights %s\n",
           dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch,
           impl[0], impl[1], impl[2]);
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return 0;
#endif
}
