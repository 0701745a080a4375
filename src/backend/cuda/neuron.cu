/*
 * neuron.cu — the cuda backend's neurons (cuda.h; §1, §3; the maths of backend/host/neuron.h):
 * one thread per neuron walks the chunk's tc steps in order (the recursion is sequential in
 * time, parallel over neurons), and for the exact backward walks them in reverse. Spike bits:
 * each warp's 32 neurons give one 32-bit word per step by ballot (cuda.h). The arithmetic is
 * the host loop's, operation for operation, built without FMA contraction: same bits.
 */
#include "backend/cuda/common.cuh"

#include <math.h>

extern "C" void sbp_cuda_neuron_reset(sbp_neuron_state *st, const sbp_layer *L)
{
    const size_t bytes = L->n_out * sizeof(float);
    cudaMemsetAsync(st->v, 0, bytes, SBP_STREAM);
    if (st->count)
        cudaMemsetAsync(st->count, 0, bytes, SBP_STREAM);
    if (st->trace)
        cudaMemsetAsync(st->trace, 0, bytes, SBP_STREAM);
    if (st->carry)
        cudaMemsetAsync(st->carry, 0, bytes, SBP_STREAM);
}

/* LIF / IF over steps t0 … t0+tc−1 (IF: leak 1). Every thread of a warp takes part in the
 * ballot, also those past n (which then store nothing), so the grid is whole warps. */
static __global__ void spiking_kernel(float *y, const float *I, float *v, float *cnt, float *tr,
                                      const float *mask, uint32_t *bits, size_t n, size_t words,
                                      float leak, float th, int t0, int tc)
{
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    const int live = i < n;
    float vi = live ? v[i] : 0.0f, ci = live && cnt ? cnt[i] : 0.0f;
    float ti = live && tr ? tr[i] : 0.0f;
    const float m = live && mask ? mask[i] : 1.0f;
    for (int t = 0; t < tc; t++) {
        const float u = vi + (live ? I[(size_t)t * n + i] : 0.0f);
        const float s = u > th ? 1.0f : 0.0f; /* strictly greater (§1) */
        vi = (1.0f - s) * leak * u;           /* reset to exactly 0, else leak */
        ci += s;
        ti = leak * ti + s;                   /* LF ← λ·LF + s (§3) */
        if (bits) {
            const unsigned word = __ballot_sync(0xffffffffu, live && s != 0.0f);
            /* the warp's first neuron is a multiple of 32: one whole 32-bit word of the row */
            if ((threadIdx.x & 31) == 0 && live)
                bits[(size_t)(t0 + t) * words * 2 + i / 32] = word;
        }
        if (live)
            y[(size_t)t * n + i] = mask ? s * m : s; /* the bits record s, not s·mask */
    }
    if (live) {
        v[i] = vi;
        if (cnt)
            cnt[i] = ci;
        if (tr)
            tr[i] = ti;
    }
}

/* The output integrator M = λ(M + I) over steps 0 … tc−1 of I. */
static __global__ void integrator_kernel(float *v, const float *I, size_t n, float leak, int tc)
{
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float vi = v[i];
    for (int t = 0; t < tc; t++)
        vi = leak * (vi + I[(size_t)t * n + i]);
    v[i] = vi;
}

extern "C" void sbp_cuda_neuron_forward(float *y, const float *I, sbp_neuron_state *st,
                                        const sbp_layer *L, int t0, int tc)
{
    const size_t n = L->n_out;
    if (L->neuron == SBP_NEURON_INTEGRATOR) {
        if (!st->history) {
            integrator_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(st->v, I, n, L->leak,
                                                                           tc);
            return;
        }
        /* analysis: the membrane after every step goes to host memory, step by step */
        for (int t = 0; t < tc; t++) {
            integrator_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(
                st->v, I + (size_t)t * n, n, L->leak, 1);
            cudaMemcpyAsync(st->history + (size_t)(t0 + t) * n, st->v, n * sizeof(float),
                            cudaMemcpyDeviceToHost, SBP_STREAM);
        }
        cudaStreamSynchronize(SBP_STREAM);
        return;
    }
    /* the trace implies the count (training), as in the host loop */
    spiking_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(
        y, I, st->v, st->count, st->trace, st->mask, (uint32_t *)st->bits, n,
        sbp_spike_row_words(n), L->leak, L->threshold, t0, tc);
}

static __global__ void surrogate_if_kernel(float *factor, const float *count, size_t n, int exact)
{
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        factor[i] = (exact || count[i] > 0.0f) ? 1.0f : 0.0f;
}

static __global__ void surrogate_lif_kernel(float *factor, const float *count, const float *trace,
                                            const float *mask, size_t n, float lnl, float inv_th)
{
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    const float g = count[i];
    const float ng = g > 0.0f ? 1.0f + lnl * trace[i] / g : 0.0f;
    factor[i] = ng * inv_th * (mask ? mask[i] : 1.0f);
}

extern "C" void sbp_cuda_neuron_surrogate(float *factor, const sbp_neuron_state *st,
                                          const sbp_layer *L, sbp_backward mode)
{
    const size_t n = L->n_out;
    if (L->neuron == SBP_NEURON_IF) {
        surrogate_if_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(
            factor, st->count, n, mode == SBP_BACKWARD_EXACT);
        return;
    }
    /* ln λ and 1/Vth on the host: the device's logf may differ from the C library's in the
     * last bit */
    const float lnl = logf(L->leak), inv_th = 1.0f / L->threshold;
    surrogate_lif_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(factor, st->count, st->trace,
                                                                     st->mask, n, lnl, inv_th);
}

/* §3 exact backward, fused over the chunk in reverse time: g_U[t] = s[t]·factor·gy[t] +
 * (1 − s[t])·g_U[t+1], carried between chunks. */
static __global__ void backward_kernel(float *gI, const float *gy, const float *factor,
                                       float *carry, const uint64_t *bits, size_t n, size_t words,
                                       int t0, int tc)
{
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    const float f = factor[i];
    float c = carry[i];
    for (int t = tc - 1; t >= 0; t--) {
        const uint64_t b = bits[(size_t)(t0 + t) * words + (i >> 6)];
        if ((b >> (i & 63)) & 1u)
            c = f * gy[(size_t)t * n + i];
        gI[(size_t)t * n + i] = c;
    }
    carry[i] = c;
}

extern "C" void sbp_cuda_neuron_backward(float *gI, const float *gy, const float *factor,
                                         sbp_neuron_state *st, const sbp_layer *L, int t0, int tc)
{
    const size_t n = L->n_out;
    backward_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(
        gI, gy, factor, st->carry, st->bits, n, sbp_spike_row_words(n), t0, tc);
}

static __global__ void mul_kernel(float *gI, const float *gy, const float *factor, size_t n)
{
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        gI[i] = factor[i] * gy[i];
}

extern "C" void sbp_cuda_mul(float *gI, const float *gy, const float *factor, size_t n)
{
    if (n)
        mul_kernel<<<sbp_blocks(n), SBP_BLOCK, 0, SBP_STREAM>>>(gI, gy, factor, n);
}

static __global__ void unpack_kernel(float *y, const uint64_t *bits, const float *mask, size_t n,
                                     size_t words, int t0, int steps)
{
    const size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= (size_t)steps * n)
        return;
    const size_t t = e / n, i = e % n;
    const float sp = (float)((bits[(t0 + t) * words + (i >> 6)] >> (i & 63)) & 1u);
    y[e] = mask ? sp * mask[i] : sp;
}

extern "C" void sbp_cuda_spikes_unpack(float *y, const uint64_t *bits, const float *mask, size_t n,
                                       int t0, int steps)
{
    const size_t total = (size_t)steps * n;
    if (total)
        unpack_kernel<<<sbp_blocks(total), SBP_BLOCK, 0, SBP_STREAM>>>(
            y, bits, mask, n, sbp_spike_row_words(n), t0, steps);
}
