/* host.c — the host backends' shared operations (host.h, backend.h). */
#include "backend/host/host.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/host/neuron.h"
#include "core/transpose.h"

void *sbp_host_alloc(size_t bytes)
{
    /* calloc, not aligned_alloc + memset: large blocks come as fresh zero pages that become
     * resident only when touched, so a worker that shares another's converted weights never
     * pays for its own copy (engine.h), in time or memory. The engine aligns what needs it. */
    return calloc(bytes ? bytes : 1, 1);
}

void sbp_host_release(void *p)
{
    free(p);
}

void sbp_host_zero(void *p, size_t bytes)
{
    memset(p, 0, bytes);
}

void sbp_host_copy(void *dst, const void *src, size_t bytes)
{
    memcpy(dst, src, bytes);
}

void sbp_host_add(float *restrict y, const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

void sbp_host_add_rows(float *restrict sum, const float *restrict x, size_t n, int steps)
{
    for (int t = 0; t < steps; t++) {
        const float *restrict xt = x + (size_t)t * n;
        for (size_t i = 0; i < n; i++)
            sum[i] += xt[i];
    }
}

void sbp_host_fill_rows(float *rows, const float *g, float div, size_t n, int steps)
{
    for (int t = 0; t < steps; t++)
        for (size_t k = 0; k < n; k++)
            rows[(size_t)t * n + k] = g[k] / div;
}

void sbp_host_read_output(float *out, const float *v, size_t n, float div)
{
    for (size_t k = 0; k < n; k++)
        out[k] = v[k] / div;
}

void sbp_host_mul(float *gI, const float *gy, const float *factor, size_t n)
{
    for (size_t i = 0; i < n; i++)
        gI[i] = factor[i] * gy[i];
}

void sbp_host_spikes_unpack(float *y, const uint64_t *bits, const float *mask, size_t n, int t0,
                            int steps)
{
    for (int t = 0; t < steps; t++)
        sbp_spikes_unpack(y + (size_t)t * n, bits + (size_t)(t0 + t) * sbp_spike_row_words(n),
                          mask, n);
}

void sbp_host_encode_values(float *xval, const sbp_input *in, const sbp_layer *L0)
{
    sbp_input_values(xval, in, L0->in_c, (size_t)L0->in_h * L0->in_w);
}

void sbp_host_encode(float *x, float *stage, const sbp_input *in, const float *xval,
                     const sbp_layer *L0, int t0, int steps)
{
    const size_t nin = L0->n_in, P = (size_t)L0->in_h * L0->in_w;
    float *chw = stage ? stage : x;
    if (in->spikes) {
        memcpy(chw, in->spikes + (size_t)t0 * nin, sizeof(float) * (size_t)steps * nin);
    } else if (in->spikes8) {
        sbp_host_spikes_load8(chw, in->spikes8 + (size_t)t0 * nin, (size_t)steps * nin);
    } else {
        sbp_input_spikes(chw, in, xval, nin, t0, steps);
    }
    if (stage)
        for (int t = 0; t < steps; t++)
            sbp_transpose(x + (size_t)t * nin, stage + (size_t)t * nin, (size_t)L0->in_c, P);
}

void sbp_host_spikes_keep8(int8_t *dst, const float *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] = (int8_t)x[i];
}

void sbp_host_spikes_load8(float *x, const int8_t *src, size_t count)
{
    for (size_t i = 0; i < count; i++)
        x[i] = (float)src[i];
}

void sbp_host_dropout_mask(float *m, const sbp_layer *L, int l, sbp_rng_key key, uint32_t epoch,
                           uint32_t sample, size_t (*index)(const sbp_layer *L, size_t i))
{
    const float p = L->spec.dropout, keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < L->n_out; i += 4) {
        uint32_t w[4];
        sbp_rng_words(key, epoch, sample, (uint32_t)l, (uint32_t)(i / 4), w);
        for (size_t q = 0; q < 4 && i + q < L->n_out; q++)
            m[index(L, i + q)] = sbp_rng_unit(w[q]) < p ? 0.0f : keep;
    }
}

void sbp_host_reduce(float *const *g, int workers, size_t n, int threads)
{
    if (workers < 2)
        return;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t j = 0; j < n; j++) {
        float sum = g[0][j];
        for (int t = 1; t < workers; t++) {
            sum += g[t][j];
            g[t][j] = 0.0f;
        }
        g[0][j] = sum;
    }
}

long sbp_host_sgd(float *w, float *g, size_t n, float lr, float wd, int threads)
{
    /* Checked first, so that a non-finite gradient is caught before any weight changes. */
    int bad = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(| : bad)
    for (size_t j = 0; j < n; j++)
        bad |= !isfinite(g[j]) | !isfinite(w[j] - lr * (g[j] + wd * w[j]));
    if (bad) {
        long first = -1;
        for (size_t j = 0; j < n && first < 0; j++) /* a non-finite gradient first … */
            if (!isfinite(g[j]))
                first = (long)j;
        for (size_t j = 0; j < n && first < 0; j++) /* … else the update that overflows */
            if (!isfinite(w[j] - lr * (g[j] + wd * w[j])))
                first = (long)j;
        memset(g, 0, n * sizeof(float));
        return first;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t j = 0; j < n; j++) {
        w[j] -= lr * (g[j] + wd * w[j]);
        g[j] = 0.0f;
    }
    return -1;
}
