/*
 * backend.cu — the cuda backend's buffers, chunking, vector helpers, gradient reduction and
 * SGD step (cuda.h, backend.h). Elementwise arithmetic is written as in backend/host/host.c
 * and built without contracting a·b + c into one FMA (-fmad=false), so these operations give
 * the same bits as the host backends.
 */
#include "backend/cuda/common.cuh"

#include <math.h>
#include <stdio.h>
#include <string.h>

extern "C" int sbp_cuda_usable(char *why, size_t cap)
{
    if (!sbp_cuda_blas_load(why, cap))
        return 0;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(why, cap, "%s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
        return 0;
    }
    if (n < 1) {
        snprintf(why, cap, "no CUDA device found");
        return 0;
    }
    if (!sbp_cuda_blas()) {
        snprintf(why, cap, "cuBLAS could not start on device 0");
        return 0;
    }
    return 1;
}

extern "C" void *sbp_cuda_alloc(size_t bytes)
{
    void *p = NULL;
    const size_t size = bytes ? bytes : 256;
    if (cudaMalloc(&p, size) != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky out-of-memory error: the caller reports it */
        return NULL;
    }
    if (cudaMemsetAsync(p, 0, size, SBP_STREAM) != cudaSuccess ||
        cudaStreamSynchronize(SBP_STREAM) != cudaSuccess) {
        cudaFree(p);
        return NULL;
    }
    return p;
}

extern "C" void sbp_cuda_release(void *p)
{
    if (p) {
        cudaStreamSynchronize(SBP_STREAM); /* nothing queued may still use it */
        cudaFree(p);
    }
}

extern "C" void sbp_cuda_zero(void *p, size_t bytes)
{
    cudaMemsetAsync(p, 0, bytes, SBP_STREAM);
}

extern "C" void sbp_cuda_copy(void *dst, const void *src, size_t bytes)
{
    cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, SBP_STREAM);
}

/* Chunk budget: floats of per-chunk working memory per engine (rows of the widest layer and
 * the im2col scratch of the widest convolution), 2^24 floats = 64 MiB. Not tuned on a GPU yet
 * (docs/cuda.md): longer chunks mean fewer, larger GEMMs; shorter ones less memory. */
#define SBP_CUDA_CHUNK_BUDGET_FLOATS ((size_t)1 << 24)

extern "C" int sbp_cuda_chunk_steps(const sbp_net *net, int T, int tc_override)
{
    if (tc_override > 0)
        return tc_override < T ? tc_override : T;
    size_t maxn = 0, scratch = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        maxn = L->n_in > maxn ? L->n_in : maxn;
        maxn = L->n_out > maxn ? L->n_out : maxn;
        size_t s = L->spec.kind == SBP_LAYER_CONV ? sbp_cuda_conv_scratch(L, 1) : 0;
        if (L->sc) {
            size_t ss = sbp_cuda_conv_scratch(L->sc, 1);
            s = ss > s ? ss : s;
        }
        scratch = s > scratch ? s : scratch;
    }
    const size_t per_step = 8 * maxn + scratch; /* the engine's rows (engine.c) + scratch */
    size_t lim = SBP_CUDA_CHUNK_BUDGET_FLOATS / (per_step ? per_step : 1);
    if (lim < 1)
        lim = 1;
    int tc = lim > (size_t)T ? T : (int)lim;
    const int chunks = (T + tc - 1) / tc; /* balance the chunks */
    return (T + chunks - 1) / chunks;
}

static __global__ void add_kernel(float *y, const float *x, size_t n)
{
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        y[i] += x[i];
}

extern "C" void sbp_cuda_add(float *y, const float *x, size_t n)
{
    if (n)
        add_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(y, x, n);
}

/* sum[i] += x[0][i], then x[1][i], … in step order: the host loop's order of additions. */
static __global__ void add_rows_kernel(float *sum, const float *x, size_t n, int steps)
{
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float s = sum[i];
    for (int t = 0; t < steps; t++)
        s += x[(size_t)t * n + i];
    sum[i] = s;
}

extern "C" void sbp_cuda_add_rows(float *sum, const float *x, size_t n, int steps)
{
    if (n)
        add_rows_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(sum, x, n, steps);
}

/* rows[0] holds g (copied from the host); every row becomes g / div. Each thread owns one
 * column, reads its g first and writes the rows from the last, so no row is read after
 * another thread wrote it. */
static __global__ void fill_rows_kernel(float *rows, float div, size_t n, int steps)
{
    const size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (k >= n)
        return;
    const float q = rows[k] / div;
    for (int t = steps - 1; t >= 0; t--)
        rows[(size_t)t * n + k] = q;
}

extern "C" void sbp_cuda_fill_rows(float *rows, const float *g, float div, size_t n, int steps)
{
    if (!n || steps < 1)
        return;
    /* pageable host memory: the call returns once g has been staged, so g may change after */
    cudaMemcpyAsync(rows, g, n * sizeof(float), cudaMemcpyHostToDevice, SBP_STREAM);
    fill_rows_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(rows, div, n, steps);
}

extern "C" void sbp_cuda_read_output(float *out, const float *v, size_t n, float div)
{
    cudaMemcpyAsync(out, v, n * sizeof(float), cudaMemcpyDeviceToHost, SBP_STREAM);
    const cudaError_t e = cudaStreamSynchronize(SBP_STREAM);
    for (size_t k = 0; k < n; k++) /* the division of host.c, on the host */
        out[k] = e == cudaSuccess ? out[k] / div : NAN;
    /* A failed launch or fault anywhere on this stream (the operations cannot return one) turns
     * the sample's output into NaN: the trainer and sbp_eval then stop with a non-finite loss
     * instead of going on with garbage (docs/cuda.md, known gaps). */
}

static __global__ void reduce_kernel(float *g0, float *gt, size_t n)
{
    const size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (j < n) {
        g0[j] += gt[j];
        gt[j] = 0.0f;
    }
}

extern "C" void sbp_cuda_reduce(float *const *g, int workers, size_t n, int threads)
{
    if (workers < 2 || !n)
        return;
    /* Every worker queued its backward on its own stream: wait for all of them. */
    cudaDeviceSynchronize();
    for (int t = 1; t < workers; t++) /* worker order, as host.c sums */
        reduce_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(g[0], g[t], n);
}

/* first[0]: the first index whose gradient is not finite; first[1]: the first whose update
 * is not finite (as host.c checks them: gradients first). */
static __global__ void sgd_check_kernel(const float *w, const float *g, size_t n, float lr,
                                        float wd, unsigned long long *first)
{
    const size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (j >= n)
        return;
    if (!isfinite(g[j]))
        atomicMin(&first[0], (unsigned long long)j);
    if (!isfinite(w[j] - lr * (g[j] + wd * w[j])))
        atomicMin(&first[1], (unsigned long long)j);
}

static __global__ void sgd_kernel(float *w, float *g, size_t n, float lr, float wd)
{
    const size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (j < n) {
        w[j] -= lr * (g[j] + wd * w[j]);
        g[j] = 0.0f;
    }
}

extern "C" long sbp_cuda_sgd(float *w, float *g, size_t n, float lr, float wd, int threads)
{
    if (!n)
        return -1;
    cudaDeviceSynchronize(); /* every worker's stream done (a single worker did not reduce) */
    unsigned long long *first = NULL, host[2] = {~0ull, ~0ull};
    if (cudaMallocAsync((void **)&first, sizeof host, SBP_STREAM) != cudaSuccess)
        return 0; /* cannot check: report the first element rather than update unchecked */
    cudaMemcpyAsync(first, host, sizeof host, cudaMemcpyHostToDevice, SBP_STREAM);
    sgd_check_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(w, g, n, lr, wd, first);
    cudaMemcpyAsync(host, first, sizeof host, cudaMemcpyDeviceToHost, SBP_STREAM);
    cudaFreeAsync(first, SBP_STREAM);
    if (cudaStreamSynchronize(SBP_STREAM) != cudaSuccess)
        return 0; /* a failed launch: no update (docs/cuda.md, errors) */
    if (host[0] != ~0ull || host[1] != ~0ull) {
        cudaMemsetAsync(g, 0, n * sizeof(float), SBP_STREAM);
        cudaStreamSynchronize(SBP_STREAM);
        return (long)(host[0] != ~0ull ? host[0] : host[1]);
    }
    sgd_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(w, g, n, lr, wd);
    cudaStreamSynchronize(SBP_STREAM);
    return -1;
}
