/*
 * synapse.cu — the cuda backend's synapses (cuda.h): channel-first rows, weights in PyTorch
 * layout.
 *
 * Convolution (any k, stride, padding; also the 1×1 shortcut): im2col writes the chunk's
 * patches as one matrix col (K, tc·P), K = Cin·k·k, P = Ho·Wo, column t·P + p = step t,
 * output position p. Then
 *   forward   I[t] (Cout, P) = W (Cout, K) · col[:, t·P …]         one strided-batched SGEMM
 *   backward  dW (Cout, K) += gT (Cout, tc·P) · colᵀ                one SGEMM over all steps
 *             dcol (K, tc·P) = Wᵀ · gT, then col2im (a gather: no atomics, deterministic)
 * where gT is gI (tc, Cout, P) transposed to (Cout, tc·P). Dense: I = x Wᵀ, dW += gIᵀ x,
 * dx = gI W, one SGEMM each over the tc rows. cuBLAS is column-major: a row-major (r, c)
 * matrix is its column-major (c, r) transpose, which is how every call below is written.
 */
#include "backend/cuda/common.cuh"

#include <string.h>

static inline size_t conv_k(const sbp_layer *L)
{
    return (size_t)L->in_c * L->spec.kernel * L->spec.kernel;
}

extern "C" size_t sbp_cuda_conv_scratch(const sbp_layer *L, int tc)
{
    /* col (K, tc·P), reused for dcol, + gT (Cout, tc·P) */
    return (conv_k(L) + (size_t)L->out_c) * (size_t)tc * sbp_layer_positions(L);
}

extern "C" size_t sbp_cuda_no_scratch(const sbp_layer *L, int tc)
{
    return 0;
}

/* The geometry a kernel needs, by value (the sbp_layer lives in host memory). */
struct conv_geom {
    int Ci, H, W, Co, Ho, Wo, k, s, pad, tc;
};

static conv_geom geom(const sbp_layer *L, int tc)
{
    conv_geom g = {L->in_c, L->in_h, L->in_w, L->out_c, L->out_h, L->out_w,
                   L->spec.kernel, L->spec.stride, L->spec.pad, tc};
    return g;
}

/* col[kk · N + t·P + p] = x[t, ci, oy·s − pad + ky, ox·s − pad + kx] (0 outside), kk = (ci·k +
 * ky)·k + kx, N = tc·P. One thread per element of col. */
static __global__ void im2col_kernel(float *col, const float *x, conv_geom g)
{
    const size_t P = (size_t)g.Ho * g.Wo, N = (size_t)g.tc * P;
    const size_t total = (size_t)g.Ci * g.k * g.k * N;
    const size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= total)
        return;
    const size_t kk = e / N, r = e % N;
    const int t = (int)(r / P), p = (int)(r % P);
    const int oy = p / g.Wo, ox = p % g.Wo;
    const int kx = (int)(kk % g.k), ky = (int)(kk / g.k % g.k), ci = (int)(kk / g.k / g.k);
    const int iy = oy * g.s - g.pad + ky, ix = ox * g.s - g.pad + kx;
    float v = 0.0f;
    if (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W)
        v = x[(((size_t)t * g.Ci + ci) * g.H + iy) * g.W + ix];
    col[e] = v;
}

/* dx[t, ci, iy, ix] = Σ over the taps (ky, kx) whose output position (oy, ox) reads it of
 * dcol[kk · N + t·P + oy·Wo + ox]. One thread per element of dx; every element is written. */
static __global__ void col2im_kernel(float *dx, const float *dcol, conv_geom g)
{
    const size_t P = (size_t)g.Ho * g.Wo, N = (size_t)g.tc * P;
    const size_t total = (size_t)g.tc * g.Ci * g.H * g.W;
    const size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= total)
        return;
    const int ix = (int)(e % g.W), iy = (int)(e / g.W % g.H);
    const int ci = (int)(e / ((size_t)g.W * g.H) % g.Ci), t = (int)(e / ((size_t)g.W * g.H * g.Ci));
    float acc = 0.0f;
    for (int ky = 0; ky < g.k; ky++) {
        const int ny = iy + g.pad - ky;
        if (ny < 0 || ny % g.s)
            continue;
        const int oy = ny / g.s;
        if (oy >= g.Ho)
            continue;
        for (int kx = 0; kx < g.k; kx++) {
            const int nx = ix + g.pad - kx;
            if (nx < 0 || nx % g.s)
                continue;
            const int ox = nx / g.s;
            if (ox >= g.Wo)
                continue;
            const size_t kk = ((size_t)ci * g.k + ky) * g.k + kx;
            acc += dcol[kk * N + (size_t)t * P + (size_t)oy * g.Wo + ox];
        }
    }
    dx[e] = acc;
}

/* gT[co · N + t·P + p] = gI[(t·Cout + co)·P + p]. */
static __global__ void transpose_grad_kernel(float *gT, const float *gI, int Co, size_t P, int tc)
{
    const size_t N = (size_t)tc * P, total = (size_t)Co * N;
    const size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= total)
        return;
    const size_t co = e / N, r = e % N, t = r / P, p = r % P;
    gT[e] = gI[(t * Co + co) * P + p];
}

extern "C" void sbp_cuda_conv_forward(float *I, const float *x, const float *W, const sbp_layer *L,
                                      int tc, float *ws)
{
    const conv_geom g = geom(L, tc);
    const size_t K = conv_k(L), P = sbp_layer_positions(L), N = (size_t)tc * P;
    float *col = ws;
    im2col_kernel<<<sbp_blocks(K * N), SBP_BLOCK, 0, SBP_STREAM>>>(col, x, g);
    /* per step t, column-major: I[t]ᵀ (P, Cout) = col[:, t]ᵀ (P, K) · Wᵀ (K, Cout) */
    sbp_sgemm_strided(CUBLAS_OP_N, CUBLAS_OP_N, (int)P, L->out_c, (int)K, 1.0f, col, (int)N,
                      (long long)P, W, (int)K, 0, 0.0f, I, (int)P,
                      (long long)L->out_c * (long long)P, tc);
}

extern "C" void sbp_cuda_conv_backward(float *dx, float *dW, const float *gI, const float *x,
                                       const float *W, const sbp_layer *L, int tc, float *ws)
{
    const conv_geom g = geom(L, tc);
    const size_t K = conv_k(L), P = sbp_layer_positions(L), N = (size_t)tc * P;
    float *col = ws, *gT = ws + K * N;
    transpose_grad_kernel<<<sbp_blocks((size_t)L->out_c * N), SBP_BLOCK, 0, SBP_STREAM>>>(
        gT, gI, L->out_c, P, tc);
    if (dW) {
        im2col_kernel<<<sbp_blocks(K * N), SBP_BLOCK, 0, SBP_STREAM>>>(col, x, g);
        /* column-major: dWᵀ (K, Cout) += colᵀᵀ… = col (as (N, K))ᵀ · gT (as (N, Cout)) */
        sbp_sgemm(CUBLAS_OP_T, CUBLAS_OP_N, (int)K, L->out_c, (int)N, 1.0f, col, (int)N, gT,
                  (int)N, 1.0f, dW, (int)K);
    }
    if (dx) {
        /* column-major: dcolᵀ (N, K) = gT (as (N, Cout)) · W (as (K, Cout))ᵀ; col is free now */
        sbp_sgemm(CUBLAS_OP_N, CUBLAS_OP_T, (int)N, (int)K, L->out_c, 1.0f, gT, (int)N, W,
                  (int)K, 0.0f, col, (int)N);
        col2im_kernel<<<sbp_blocks((size_t)tc * L->n_in), SBP_BLOCK, 0, SBP_STREAM>>>(dx, col, g);
    }
}

extern "C" void sbp_cuda_dense_forward(float *I, const float *x, const float *W,
                                       const sbp_layer *L, int tc, float *ws)
{
    /* column-major: Iᵀ (nout, tc) = W (as (nin, nout))ᵀ · xᵀ (nin, tc) */
    sbp_sgemm(CUBLAS_OP_T, CUBLAS_OP_N, (int)L->n_out, tc, (int)L->n_in, 1.0f, W, (int)L->n_in, x,
              (int)L->n_in, 0.0f, I, (int)L->n_out);
}

extern "C" void sbp_cuda_dense_backward(float *dx, float *dW, const float *gI, const float *x,
                                        const float *W, const sbp_layer *L, int tc, float *ws)
{
    const int nin = (int)L->n_in, nout = (int)L->n_out;
    /* column-major: dWᵀ (nin, nout) += xᵀ (nin, tc) · gI (as (nout, tc))ᵀ */
    sbp_sgemm(CUBLAS_OP_N, CUBLAS_OP_T, nin, nout, tc, 1.0f, x, nin, gI, nout, 1.0f, dW, nin);
    /* column-major: dxᵀ (nin, tc) = W (as (nin, nout)) · gIᵀ (nout, tc) */
    if (dx)
        sbp_sgemm(CUBLAS_OP_N, CUBLAS_OP_N, nin, tc, nout, 1.0f, W, nin, gI, nout, 0.0f, dx, nin);
}

/* Element e of a stack of h×w maps: which map (t·C + c), and where in it. */
struct map_pos {
    size_t map;
    int y, x;
};

static __device__ __forceinline__ map_pos map_at(size_t e, int h, int w)
{
    map_pos p = {e / ((size_t)w * h), (int)(e / w % h), (int)(e % w)};
    return p;
}

/* 2×2 average pooling (stride 2), channel-first, as the reference computes it. */
static __global__ void pool_forward_kernel(float *I, const float *x, int C, int H, int W, int Ho,
                                           int Wo, int tc)
{
    const size_t total = (size_t)tc * C * Ho * Wo;
    const size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= total)
        return;
    const map_pos o = map_at(e, Ho, Wo);
    const float *a = x + o.map * H * W + (size_t)(2 * o.y) * W + 2 * o.x;
    I[e] = 0.25f * (a[0] + a[1] + a[W] + a[W + 1]);
}

/* Each input position gets a quarter of its window's gradient; positions outside every window
 * (odd edges) get 0, as the reference's memset leaves them. */
static __global__ void pool_backward_kernel(float *dx, const float *gI, int C, int H, int W,
                                            int Ho, int Wo, int tc)
{
    const size_t total = (size_t)tc * C * H * W;
    const size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= total)
        return;
    const map_pos i = map_at(e, H, W);
    const int oy = i.y / 2, ox = i.x / 2;
    dx[e] = oy < Ho && ox < Wo ? 0.25f * gI[i.map * Ho * Wo + (size_t)oy * Wo + ox] : 0.0f;
}

extern "C" void sbp_cuda_pool_forward(float *I, const float *x, const float *W, const sbp_layer *L,
                                      int tc, float *ws)
{
    const size_t total = (size_t)tc * L->n_out;
    pool_forward_kernel<<<sbp_blocks(total), SBP_BLOCK, 0, SBP_STREAM>>>(
        I, x, L->out_c, L->in_h, L->in_w, L->out_h, L->out_w, tc);
}

extern "C" void sbp_cuda_pool_backward(float *dx, float *dW, const float *gI, const float *x,
                                       const float *W, const sbp_layer *L, int tc, float *ws)
{
    if (!dx)
        return;
    const size_t total = (size_t)tc * L->n_in;
    pool_backward_kernel<<<sbp_blocks(total), SBP_BLOCK, 0, SBP_STREAM>>>(
        dx, gI, L->out_c, L->in_h, L->in_w, L->out_h, L->out_w, tc);
}

/* Weights stay in PyTorch layout: a copy. The host waits, so that the engines of the other
 * workers (other streams, sharing these weights) never read them half-copied. */
extern "C" void sbp_cuda_weights_in(float *Wk, const float *W, const sbp_layer *L)
{
    cudaMemcpyAsync(Wk, W, L->w_count * sizeof(float), cudaMemcpyHostToDevice, SBP_STREAM);
    cudaStreamSynchronize(SBP_STREAM);
}

extern "C" void sbp_cuda_grad_out(float *dW, const float *dWk, const sbp_layer *L)
{
    float buf[4096]; /* through a bounded host buffer: this operation cannot report a failure */
    for (size_t i = 0; i < L->w_count; i += 4096) {
        const size_t m = L->w_count - i < 4096 ? L->w_count - i : 4096;
        cudaMemcpyAsync(buf, dWk + i, m * sizeof(float), cudaMemcpyDeviceToHost, SBP_STREAM);
        cudaStreamSynchronize(SBP_STREAM);
        /* sbp_host_add's loop, written out: the plugin links none of the library's code */
        for (size_t j = 0; j < m; j++)
            dW[i + j] += buf[j];
    }
}

/* The stride-s subsample / identity shortcut, I[t, c, oy, ox] += x[t, c, s·oy, s·ox], or its
 * adjoint (backward), dx[t, c, s·oy, s·ox] += gI[t, c, oy, ox]: one thread per output element,
 * and each input element is sampled at most once, so the adjoint has no write conflicts. */
static __global__ void shortcut_kernel(float *out, const float *in, int C, int H, int W, int Ho,
                                       int Wo, int s, int tc, int backward)
{
    const size_t total = (size_t)tc * C * Ho * Wo;
    const size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= total)
        return;
    const map_pos o = map_at(e, Ho, Wo);
    const size_t src = o.map * H * W + (size_t)(s * o.y) * W + s * o.x;
    if (backward)
        out[src] += in[e];
    else
        out[e] += in[src];
}

extern "C" void sbp_cuda_shortcut_add(float *I, const float *x, const sbp_layer *sc, int tc)
{
    const size_t total = (size_t)tc * sc->n_out;
    shortcut_kernel<<<sbp_blocks(total), SBP_BLOCK, 0, SBP_STREAM>>>(
        I, x, sc->out_c, sc->in_h, sc->in_w, sc->out_h, sc->out_w, sc->spec.stride, tc, 0);
}

extern "C" void sbp_cuda_shortcut_add_backward(float *dx, const float *gI, const sbp_layer *sc,
                                               int tc)
{
    const size_t total = (size_t)tc * sc->n_out;
    shortcut_kernel<<<sbp_blocks(total), SBP_BLOCK, 0, SBP_STREAM>>>(
        dx, gI, sc->out_c, sc->in_h, sc->in_w, sc->out_h, sc->out_w, sc->spec.stride, tc, 1);
}
