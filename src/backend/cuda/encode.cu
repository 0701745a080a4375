/*
 * encode.cu — the cuda backend's input and dropout draws (cuda.h): the rate code of §1 and the
 * dropout masks with the SAME Philox4x32-10 draws as the host (Random123's philox4x32 runs in
 * device code as well), so both backends see the same input spikes and masks:
 *   input spike of pixel j at step t:  word j % 4 of counter (tag, sample, t, j / 4)
 *                                      under the ENCODE key (data/encode.c)
 *   dropout of neuron i of layer l:    word i % 4 of counter (epoch, sample, l, i / 4)
 *                                      under the DROPOUT key (backend/host/host.c)
 * with sbp_rng_unit's 24-bit uniform. The value map |x|·gain is computed on the host by
 * data/encode.c (lent to the plugin at load time: plugin.h) and copied (C·H·W floats per
 * sample): only the image crosses the bus.
 */
#include "backend/cuda/common.cuh"

#include <stdlib.h>
#include <string.h>

#include <Random123/philox.h>

/* sbp_rng_unit of core/rng.h (a 24-bit float in [0, 1)), in device code. */
static __device__ __forceinline__ float unit(uint32_t w)
{
    return (float)(w >> 8) * (1.0f / 16777216.0f);
}

static __device__ __forceinline__ philox4x32_ctr_t draw(sbp_rng_key key, uint32_t c0, uint32_t c1,
                                                        uint32_t c2, uint32_t c3)
{
    philox4x32_ctr_t c = {{c0, c1, c2, c3}};
    philox4x32_key_t k = {{key.k[0], key.k[1]}};
    return philox4x32(c, k);
}

extern "C" void sbp_cuda_encode_values(float *xval, const sbp_input *in, const sbp_layer *L0)
{
    const size_t n = L0->n_in;
    float *host = (float *)malloc(n * sizeof(float));
    if (!host) { /* this operation cannot report: no input this sample (docs/cuda.md) */
        cudaMemsetAsync(xval, 0, n * sizeof(float), SBP_STREAM);
        return;
    }
    sbp_cuda_input_values(host, in, L0->in_c, (size_t)L0->in_h * L0->in_w);
    cudaMemcpyAsync(xval, host, n * sizeof(float), cudaMemcpyHostToDevice, SBP_STREAM);
    cudaStreamSynchronize(SBP_STREAM); /* before host is freed */
    free(host);
}

/* One thread per (step, group of 4 pixels): one Philox call gives the group's 4 words. */
static __global__ void encode_kernel(float *x, const float *xval, size_t n, sbp_rng_key key,
                                     uint32_t tag, uint32_t sample, int t0, int steps)
{
    const size_t groups = (n + 3) / 4;
    const size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= (size_t)steps * groups)
        return;
    const size_t t = e / groups, j = (e % groups) * 4;
    const philox4x32_ctr_t r = draw(key, tag, sample, (uint32_t)(t0 + t), (uint32_t)(j / 4));
    for (size_t q = 0; q < 4 && j + q < n; q++) {
        const float v = xval[j + q];
        const float a = v < 0.0f ? -v : v;
        x[t * n + j + q] = a > unit(r.v[q]) ? (v < 0.0f ? -1.0f : 1.0f) : 0.0f;
    }
}

static __global__ void load8_kernel(float *x, const int8_t *src, size_t count)
{
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < count)
        x[i] = (float)src[i];
}

static __global__ void keep8_kernel(int8_t *dst, const float *x, size_t count)
{
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < count)
        dst[i] = (int8_t)x[i];
}

extern "C" void sbp_cuda_encode(float *x, float *stage, const sbp_input *in, const float *xval,
                                const sbp_layer *L0, int t0, int steps)
{
    const size_t n = L0->n_in, count = (size_t)steps * n;
    if (in->spikes) { /* given spikes (host, channel-first, our order) */
        cudaMemcpyAsync(x, in->spikes + (size_t)t0 * n, count * sizeof(float),
                        cudaMemcpyHostToDevice, SBP_STREAM);
        return;
    }
    if (in->spikes8) {
        /* int8 spikes of a pre-encoded data set, widened on the host and copied as floats
         * (widening in place on the device would need a second chunk-sized buffer) */
        float *host = (float *)malloc(count * sizeof(float));
        if (!host) {
            cudaMemsetAsync(x, 0, count * sizeof(float), SBP_STREAM);
            return;
        }
        const int8_t *src = in->spikes8 + (size_t)t0 * n;
        for (size_t i = 0; i < count; i++)
            host[i] = (float)src[i];
        cudaMemcpyAsync(x, host, count * sizeof(float), cudaMemcpyHostToDevice, SBP_STREAM);
        cudaStreamSynchronize(SBP_STREAM);
        free(host);
        return;
    }
    const size_t total = (size_t)steps * ((n + 3) / 4);
    encode_kernel<<<sbp_blocks(total), SBP_BLOCK, 0, SBP_STREAM>>>(x, xval, n, in->key, in->tag,
                                                                   in->sample, t0, steps);
}

extern "C" void sbp_cuda_spikes_keep8(int8_t *dst, const float *x, size_t count)
{
    if (count)
        keep8_kernel<<<sbp_blocks(count), SBP_BLOCK, 0, SBP_STREAM>>>(dst, x, count);
}

extern "C" void sbp_cuda_spikes_load8(float *x, const int8_t *src, size_t count)
{
    if (count)
        load8_kernel<<<sbp_blocks(count), SBP_BLOCK, 0, SBP_STREAM>>>(x, src, count);
}

static __global__ void dropout_kernel(float *m, size_t n, sbp_rng_key key, uint32_t epoch,
                                      uint32_t sample, uint32_t layer, float p, float keep)
{
    const size_t i = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) * 4;
    if (i >= n)
        return;
    const philox4x32_ctr_t r = draw(key, epoch, sample, layer, (uint32_t)(i / 4));
    for (size_t q = 0; q < 4 && i + q < n; q++)
        m[i + q] = unit(r.v[q]) < p ? 0.0f : keep;
}

extern "C" void sbp_cuda_dropout_mask(float *mask, const sbp_layer *L, int l, sbp_rng_key key,
                                      uint32_t epoch, uint32_t sample)
{
    const float p = L->spec.dropout, keep = 1.0f / (1.0f - p); /* on the host, as host.c */
    const size_t n = L->n_out;
    dropout_kernel<<<sbp_blocks((n + 3) / 4), SBP_BLOCK, 0, SBP_STREAM>>>(mask, n, key, epoch,
                                                                          sample, (uint32_t)l, p,
                                                                          keep);
}
