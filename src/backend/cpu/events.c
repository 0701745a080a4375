/* events.c — building per-step event lists from dense spike chunks.
 *
 * Scanning a chunk for its nonzeros is a large share of an event-driven layer's time at low
 * spike rates, so on CPUs with AVX-512 (checked at run time) 16 entries are tested per
 * instruction and the hits packed with a register compress; the plain loop is the portable
 * fallback and the oracle (tests/test_kernels.c compares the two). Hand-written because no
 * library offers a "nonzero indices of a float array" primitive. */
#include "backend/cpu/events.h"

#include "core/cpu.h"
#include "backend/host/neuron.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(SBP_NO_MULTIVERSION)
#include <immintrin.h>
#define SBP_EVENTS_AVX512 1
#endif

/* Entries the vector path may write past the last event (a full vector store). */
#define SLACK 16

size_t sbp_events_scratch(size_t n, int tc)
{
    /* idx and val (one float-sized slot each per entry, plus the slack), the header and tc + 1
     * offsets. */
    size_t words = 2 * (n * (size_t)tc + SLACK) + ((size_t)tc + 1) * sizeof(size_t) / sizeof(float);
    return words + 2 * sizeof(sbp_events) / sizeof(float) + 8;
}

static sbp_events *events_at(float *ws, size_t n, int tc)
{
    sbp_events *ev = (sbp_events *)(void *)ws;
    float *after = (float *)(void *)(ev->off + tc + 1);
    ev->idx = (uint32_t *)(void *)after;
    ev->val = after + n * (size_t)tc + SLACK;
    return ev;
}

/* Step t's list: the nonzeros of its row xt (n entries) from entry k on; returns the end. */
static size_t list_row(sbp_events *ev, int t, size_t k, const float *xt, size_t n)
{
    ev->off[t] = k;
    for (size_t i = 0; i < n; i++)
        if (xt[i] != 0.0f) {
            ev->idx[k] = (uint32_t)i;
            ev->val[k] = xt[i];
            k++;
        }
    return k;
}

sbp_events *sbp_events_build_plain(float *ws, const float *x, size_t n, int tc, size_t *count)
{
    sbp_events *ev = events_at(ws, n, tc);
    size_t k = 0;
    for (int t = 0; t < tc; t++)
        k = list_row(ev, t, k, x + (size_t)t * n, n);
    ev->off[tc] = k;
    *count = k;
    return ev;
}

size_t sbp_events_count_plain(const float *x, size_t n, int tc)
{
    size_t k = 0, total = n * (size_t)tc;
    for (size_t i = 0; i < total; i++)
        k += x[i] != 0.0f;
    return k;
}

#ifdef SBP_EVENTS_AVX512
__attribute__((target("avx512f"))) static sbp_events *build_avx512(float *ws, const float *x,
                                                                    size_t n, int tc,
                                                                    size_t *count)
{
    sbp_events *ev = events_at(ws, n, tc);
    const __m512 zero = _mm512_setzero_ps();
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    size_t k = 0;
    for (int t = 0; t < tc; t++) {
        ev->off[t] = k;
        const float *xt = x + (size_t)t * n;
        for (size_t i = 0; i < n; i += 16) {
            const __mmask16 live = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
            const __m512 v = _mm512_maskz_loadu_ps(live, xt + i);
            const __mmask16 m = _mm512_mask_cmp_ps_mask(live, v, zero, _CMP_NEQ_UQ);
            /* register compress + full store (a compress straight to memory is microcoded on
             * some AMD cores); the slack absorbs the overhang. No test for an empty vector:
             * at spike densities the branch is unpredictable and costs more (neuron.c). */
            const __m512i id = _mm512_add_epi32(lane, _mm512_set1_epi32((int)i));
            _mm512_storeu_si512((void *)(ev->idx + k), _mm512_maskz_compress_epi32(m, id));
            _mm512_storeu_ps(ev->val + k, _mm512_maskz_compress_ps(m, v));
            k += (size_t)__builtin_popcount((unsigned)m);
        }
    }
    ev->off[tc] = k;
    *count = k;
    return ev;
}

__attribute__((target("avx512f"))) static size_t count_avx512(const float *x, size_t n, int tc)
{
    const __m512 zero = _mm512_setzero_ps();
    size_t k = 0, total = n * (size_t)tc, i = 0;
    for (; i + 16 <= total; i += 16)
        k += (size_t)__builtin_popcount(
            (unsigned)_mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), zero, _CMP_NEQ_UQ));
    for (; i < total; i++)
        k += x[i] != 0.0f;
    return k;
}
#endif

sbp_events *sbp_events_build(float *ws, const float *x, size_t n, int tc, size_t *count)
{
#ifdef SBP_EVENTS_AVX512
    if (sbp_use_avx512())
        return build_avx512(ws, x, n, tc, count);
#endif
    return sbp_events_build_plain(ws, x, n, tc, count);
}

size_t sbp_events_count(const float *x, size_t n, int tc)
{
#ifdef SBP_EVENTS_AVX512
    if (sbp_use_avx512())
        return count_avx512(x, n, tc);
#endif
    return sbp_events_count_plain(x, n, tc);
}

/* The lists' layout in the buffer: the sbp_events header with tc + 1 offsets, then idx and val
 * regions of tc rows of n + SLACK entries each, compacted to the front of each region after the
 * neurons have written them (sbp_events walks them as one run). */
static size_t lists_stride(size_t n)
{
    return n + SLACK;
}

size_t sbp_events_bytes(size_t n, int tc)
{
    const size_t head = sizeof(sbp_events) + (size_t)tc * sizeof(size_t);
    return (head + 63) / 64 * 64 + 2 * (size_t)tc * lists_stride(n) * sizeof(float);
}

/* The lists' header in buf, its idx and val regions placed (rows of lists_stride(n)). */
static sbp_events *lists_at(void *buf, size_t n, int tc)
{
    sbp_events *ev = buf;
    const size_t head = sizeof(sbp_events) + (size_t)tc * sizeof(size_t);
    ev->idx = (uint32_t *)(void *)((char *)buf + (head + 63) / 64 * 64);
    ev->val = (float *)(void *)(ev->idx + (size_t)tc * lists_stride(n));
    return ev;
}

void sbp_events_neuron_forward(float *y, void *buf, const float *I, sbp_neuron_state *st,
                               const sbp_layer *L, int t0, int tc)
{
    const size_t n = L->n_out, stride = lists_stride(n);
    sbp_events *ev = lists_at(buf, n, tc);
    /* the counts go to off[1 …], then become offsets as the rows move to the front */
    sbp_spike_lists out = {.idx = ev->idx, .val = ev->val, .count = ev->off + 1, .stride = stride};
    sbp_neuron_forward_lists(y, &out, I, st, L, t0, tc);
    ev->off[0] = 0;
    for (int t = 0; t < tc; t++) {
        const size_t k = ev->off[t + 1], from = (size_t)t * stride, to = ev->off[t];
        if (to != from) {
            memmove(ev->idx + to, ev->idx + from, k * sizeof(uint32_t));
            memmove(ev->val + to, ev->val + from, k * sizeof(float));
        }
        ev->off[t + 1] = to + k;
    }
}

#ifdef SBP_EVENTS_AVX512
/* 16 neurons per step: the bits as the lane mask, the values stored whole (masked stores are
 * slow on Zen 4) and packed with a register compress, as build_avx512 packs a scan's hits. */
__attribute__((target("avx512f"))) static void unpack_avx512(float *y, sbp_events *ev,
                                                            const uint64_t *bits,
                                                            const float *mask, size_t n, int t0,
                                                            int tc)
{
    const size_t words = sbp_spike_row_words(n);
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    size_t k = 0;
    for (int t = 0; t < tc; t++) {
        ev->off[t] = k;
        const uint64_t *row = bits + (size_t)(t0 + t) * words;
        float *yt = y + (size_t)t * n;
        for (size_t i = 0; i < n; i += 16) {
            const __mmask16 live = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
            const __mmask16 s = (__mmask16)(row[i >> 6] >> (i & 63)) & live;
            const __m512 v = mask ? _mm512_maskz_loadu_ps(s, mask + i) : _mm512_maskz_mov_ps(s, one);
            if (live == 0xFFFF)
                _mm512_storeu_ps(yt + i, v);
            else
                _mm512_mask_storeu_ps(yt + i, live, v);
            /* the nonzero values: a mask of 0 silences a spike, as in the scan */
            const __mmask16 m = mask ? _mm512_mask_cmp_ps_mask(s, v, zero, _CMP_NEQ_UQ) : s;
            const __m512i id = _mm512_add_epi32(lane, _mm512_set1_epi32((int)i));
            _mm512_storeu_si512((void *)(ev->idx + k), _mm512_maskz_compress_epi32(m, id));
            _mm512_storeu_ps(ev->val + k, _mm512_maskz_compress_ps(m, v));
            k += (size_t)__builtin_popcount((unsigned)m);
        }
    }
    ev->off[tc] = k;
}
#endif

void sbp_events_unpack_plain(float *y, void *buf, const uint64_t *bits, const float *mask,
                             size_t n, int t0, int tc)
{
    sbp_events *ev = lists_at(buf, n, tc);
    size_t k = 0;
    for (int t = 0; t < tc; t++) {
        float *yt = y + (size_t)t * n;
        sbp_spikes_unpack(yt, bits + (size_t)(t0 + t) * sbp_spike_row_words(n), mask, n);
        k = list_row(ev, t, k, yt, n);
    }
    ev->off[tc] = k;
}

void sbp_events_unpack(float *y, void *buf, const uint64_t *bits, const float *mask, size_t n,
                       int t0, int tc)
{
#ifdef SBP_EVENTS_AVX512
    if (sbp_use_avx512()) {
        unpack_avx512(y, lists_at(buf, n, tc), bits, mask, n, t0, tc);
        return;
    }
#endif
    sbp_events_unpack_plain(y, buf, bits, mask, n, t0, tc);
}
