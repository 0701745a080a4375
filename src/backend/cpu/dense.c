/*
 * dense.c — fully connected synapses for a chunk of tc steps (§1; §3 dW = Σ_t gI ⊗ x[t],
 * g_x[t] = Wᵀ gI[t]). The gemm versions are one SGEMM each over all tc steps; the sparse
 * versions add one weight row Wt[i, :] per input event.
 */
#include "backend/cpu/dense.h"

#include "core/blas.h"
#include <string.h>

#include "core/cpu.h"
#include "core/runs.h"
#include "backend/cpu/events.h"

size_t sbp_dense_scratch(const sbp_layer *L, int tc)
{
    return sbp_events_scratch(L->n_in, tc) + 16;
}

/* Row of Wt of PyTorch input feature i = (c·H + y)·W + x: its channel-last position p·C + c.
 * Both conversions walk i = c·P + p in order with its row p·C + c formed incrementally (no
 * division per weight: they run once per batch over every weight, LeNet's 490,000), and a
 * block of 16 outputs at a time, so that each row of Wt is written in whole lines. */
#define LAYOUT_BLOCK 16

void sbp_dense_to_kernel_layout(float *Wt, const float *W, const sbp_layer *L)
{
    const size_t nin = L->n_in, nout = L->n_out;
    const size_t P = (size_t)L->in_h * L->in_w, C = (size_t)L->in_c;
    for (size_t o0 = 0; o0 < nout; o0 += LAYOUT_BLOCK) {
        const size_t o1 = o0 + LAYOUT_BLOCK < nout ? o0 + LAYOUT_BLOCK : nout;
        for (size_t c = 0, i = 0; c < C; c++)
            for (size_t p = 0; p < P; p++, i++) {
                float *row = Wt + (p * C + c) * nout;
                for (size_t o = o0; o < o1; o++)
                    row[o] = W[o * nin + i];
            }
    }
}

void sbp_dense_add_from_kernel_layout(float *dW, const float *dWt, const sbp_layer *L)
{
    const size_t nin = L->n_in, nout = L->n_out;
    const size_t P = (size_t)L->in_h * L->in_w, C = (size_t)L->in_c;
    for (size_t o0 = 0; o0 < nout; o0 += LAYOUT_BLOCK) {
        const size_t o1 = o0 + LAYOUT_BLOCK < nout ? o0 + LAYOUT_BLOCK : nout;
        for (size_t c = 0, i = 0; c < C; c++)
            for (size_t p = 0; p < P; p++, i++) {
                const float *row = dWt + (p * C + c) * nout;
                for (size_t o = o0; o < o1; o++)
                    dW[o * nin + i] += row[o];
            }
    }
}

void sbp_dense_forward_gemm(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc)
{
    const int nin = (int)L->n_in, nout = (int)L->n_out;
    /* I (tc, out) = x (tc, in) × Wt (in, out) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, tc, nout, nin, 1.0f, x, nin, Wt, nout,
                0.0f, I, nout);
}

void sbp_dense_backward_gemm(float *dx, float *dWt, const float *gI, const float *x,
                             const float *Wt, const sbp_layer *L, int tc)
{
    const int nin = (int)L->n_in, nout = (int)L->n_out;
    /* dWt (in, out) += xᵀ (in, tc) × gI (tc, out) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nin, nout, tc, 1.0f, x, nin, gI, nout,
                1.0f, dWt, nout);
    if (dx) /* dx (tc, in) = gI (tc, out) × Wtᵀ (out, in) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tc, nin, nout, 1.0f, gI, nout, Wt,
                    nout, 0.0f, dx, nin);
}

typedef void (*axpy_fn)(float *restrict o, const float *restrict w, float v, size_t n);
typedef float (*update_dot_fn)(float *restrict dw, const float *restrict w,
                               const float *restrict g, float v, size_t n);

/* Event-driven forward (over the event lists ev) and backward, compiled once per run
 * primitive (core/runs.h). */
static SBP_ALWAYS_INLINE void forward_events(float *I, const sbp_events *ev, const float *Wt,
                                             const sbp_layer *L, int tc, axpy_fn axpy)
{
    const size_t nout = L->n_out;
    memset(I, 0, sizeof(float) * nout * (size_t)tc);
    for (int t = 0; t < tc; t++) {
        float *a = I + (size_t)t * nout;
        for (size_t e = ev->off[t]; e < ev->off[t + 1]; e++)
            axpy(a, Wt + (size_t)ev->idx[e] * nout, ev->val[e], nout);
    }
}

static SBP_ALWAYS_INLINE void backward_sparse(float *dx, float *dWt, const float *gI,
                                              const float *x, const sbp_events *ev,
                                              const float *Wt, const sbp_layer *L, int tc,
                                              float *ws, update_dot_fn update_dot)
{
    const size_t nout = L->n_out, nin = L->n_in;
    size_t nev;
    if (!ev) /* x's lists, unless given */
        ev = sbp_events_build(ws, x, nin, tc, &nev);
    if (dx)
        memset(dx, 0, sizeof(float) * (size_t)tc * nin);
    for (int t = 0; t < tc; t++) {
        const float *gt = gI + (size_t)t * nout;
        for (size_t e = ev->off[t]; e < ev->off[t + 1]; e++) {
            const size_t i = ev->idx[e];
            const float d = update_dot(dWt + i * nout, Wt + i * nout, gt, ev->val[e], nout);
            if (dx)
                dx[(size_t)t * nin + i] = d;
        }
    }
}

static void forward_events_plain(float *I, const sbp_events *ev, const float *Wt,
                                 const sbp_layer *L, int tc)
{
    forward_events(I, ev, Wt, L, tc, sbp_axpy_plain);
}

static void backward_sparse_plain(float *dx, float *dWt, const float *gI, const float *x,
                                  const sbp_events *ev, const float *Wt, const sbp_layer *L,
                                  int tc, float *ws)
{
    backward_sparse(dx, dWt, gI, x, ev, Wt, L, tc, ws, sbp_update_dot_plain);
}

#ifdef SBP_RUNS_AVX512
/* How many events ahead rows_in_registers prefetches a weight row. */
#define ROW_PREFETCH 4

/* Output rows of up to 16 vectors (LeNet's 2450 → 200 and 200 → 10): a step's row in
 * registers, stored once, and each event's weight row prefetched ROW_PREFETCH events ahead.
 * The table's rows are scattered through L2/L3 (LeNet's is 1.9 MiB), so without the prefetch
 * each event waits on its row's misses; with the row in registers, nothing else is in the
 * way. The same additions in the same order as the axpy loop, so the same bits. LeNet's dense
 * layer alone at 2.2 % input density (events' part, 1 thread): 0.090 → 0.054 ms per image;
 * LeNet inference 899 → 936 img/s (bench/results-2026-12-05d-cpu.md). */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void rows_in_registers(const int NV, float *I,
                                                                 const sbp_events *ev,
                                                                 const float *Wt, size_t nout,
                                                                 int tc)
{
    const __mmask16 last = nout % 16 ? sbp_tail_mask(nout % 16) : (__mmask16)0xFFFF;
    for (int t = 0; t < tc; t++) {
        __m512 acc[16];
        for (int j = 0; j < NV; j++)
            acc[j] = _mm512_setzero_ps();
        const size_t e1 = ev->off[t + 1];
        for (size_t e = ev->off[t]; e < e1; e++) {
            if (e + ROW_PREFETCH < e1) {
                const char *r = (const char *)(Wt + (size_t)ev->idx[e + ROW_PREFETCH] * nout);
                for (size_t b = 0; b < nout * sizeof(float); b += 64)
                    _mm_prefetch(r + b, _MM_HINT_T0);
            }
            const float *w = Wt + (size_t)ev->idx[e] * nout;
            const __m512 vv = _mm512_set1_ps(ev->val[e]);
            for (int j = 0; j < NV - 1; j++)
                acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(vv, _mm512_loadu_ps(w + 16 * j)));
            acc[NV - 1] = _mm512_add_ps(
                acc[NV - 1], _mm512_mul_ps(vv, _mm512_maskz_loadu_ps(last, w + 16 * (NV - 1))));
        }
        float *a = I + (size_t)t * nout;
        for (int j = 0; j < NV - 1; j++)
            _mm512_storeu_ps(a + 16 * j, acc[j]);
        _mm512_mask_storeu_ps(a + 16 * (NV - 1), last, acc[NV - 1]);
    }
}

static SBP_TARGET_AVX512 void forward_events_avx512(float *I, const sbp_events *ev,
                                                    const float *Wt, const sbp_layer *L, int tc)
{
    const size_t nout = L->n_out;
    if (nout <= 256) {
        switch ((nout + 15) / 16) {
#define CASE(N)                                                                                \
    case N:                                                                                    \
        rows_in_registers(N, I, ev, Wt, nout, tc);                                             \
        return;
            SBP_VECTOR_COUNTS(CASE)
#undef CASE
        }
    }
    forward_events(I, ev, Wt, L, tc, sbp_axpy_avx512);
}

static SBP_TARGET_AVX512 void backward_sparse_avx512(float *dx, float *dWt, const float *gI,
                                                     const float *x, const sbp_events *ev,
                                                     const float *Wt, const sbp_layer *L, int tc,
                                                     float *ws)
{
    backward_sparse(dx, dWt, gI, x, ev, Wt, L, tc, ws, sbp_update_dot_avx512);
}
#endif

static void scatter(float *I, const sbp_events *ev, const float *Wt, const sbp_layer *L, int tc)
{
#ifdef SBP_RUNS_AVX512
    if (sbp_use_avx512()) {
        forward_events_avx512(I, ev, Wt, L, tc);
        return;
    }
#endif
    forward_events_plain(I, ev, Wt, L, tc);
}

void sbp_dense_forward_sparse(float *I, const float *x, const float *Wt, const sbp_layer *L,
                              int tc, float *ws)
{
    size_t nev;
    scatter(I, sbp_events_build(ws, x, L->n_in, tc, &nev), Wt, L, tc);
}

void sbp_dense_forward_events(float *I, const float *x, const void *evp, const float *Wt,
                              const sbp_layer *L, int tc, float *ws)
{
    const sbp_events *ev = evp; /* the choice of sbp_dense_forward_fast, the count given */
    if (!x || (double)ev->off[tc] <= SBP_SPARSE_MAX_DENSITY * (double)L->n_in * tc)
        scatter(I, ev, Wt, L, tc);
    else
        sbp_dense_forward_gemm(I, x, Wt, L, tc);
}

/* The event-driven backward over x's event lists ev (NULL: made from x). */
static void backward_events(float *dx, float *dWt, const float *gI, const float *x,
                            const sbp_events *ev, const float *Wt, const sbp_layer *L, int tc,
                            float *ws)
{
#ifdef SBP_RUNS_AVX512
    if (sbp_use_avx512()) {
        backward_sparse_avx512(dx, dWt, gI, x, ev, Wt, L, tc, ws);
        return;
    }
#endif
    backward_sparse_plain(dx, dWt, gI, x, ev, Wt, L, tc, ws);
}

void sbp_dense_backward_sparse(float *dx, float *dWt, const float *gI, const float *x,
                               const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    backward_events(dx, dWt, gI, x, NULL, Wt, L, tc, ws);
}

void sbp_dense_forward_fast(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc,
                            float *ws)
{
    size_t nnz = sbp_events_count(x, L->n_in, tc);
    if ((double)nnz <= SBP_SPARSE_MAX_DENSITY * (double)L->n_in * tc)
        sbp_dense_forward_sparse(I, x, Wt, L, tc, ws);
    else
        sbp_dense_forward_gemm(I, x, Wt, L, tc);
}

void sbp_dense_backward_fast(float *dx, float *dWt, const float *gI, const float *x,
                             const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    size_t nnz = sbp_events_count(x, L->n_in, tc);
    /* One row (the aggregate backward's spike counts): SGEMM degenerates into a rank-1 update
     * and a matrix-vector product that sweep every row of dW and W; the event form touches
     * only the rows of nonzero counts in the same memory pattern, so it wins at any density
     * below one (LeNet's 2450→200 layer, 44 % nonzero counts: aggregate training 1.1–1.2×
     * and 1 MiB less peak memory, bench/results-2026-12-04-cpu.md). */
    const double max_density = tc == 1 ? 1.0 : SBP_SPARSE_MAX_DENSITY;
    if ((double)nnz < max_density * (double)L->n_in * tc)
        sbp_dense_backward_sparse(dx, dWt, gI, x, Wt, L, tc, ws);
    else
        sbp_dense_backward_gemm(dx, dWt, gI, x, Wt, L, tc);
}

void sbp_dense_backward_events(float *dx, float *dWt, const float *gI, const float *x,
                               void *evp, const float *Wt, const sbp_layer *L, int tc, float *ws)
{
    /* the choices of sbp_dense_backward_fast, with the count and the lists given */
    const sbp_events *ev = evp;
    const double max_density = tc == 1 ? 1.0 : SBP_SPARSE_MAX_DENSITY;
    if ((double)ev->off[tc] < max_density * (double)L->n_in * tc)
        backward_events(dx, dWt, gI, x, ev, Wt, L, tc, ws);
    else
        sbp_dense_backward_gemm(dx, dWt, gI, x, Wt, L, tc);
}
