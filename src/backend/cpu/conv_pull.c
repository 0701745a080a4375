/*
 * conv_pull.c — the event-driven convolution forward, output-stationary (AVX-512).
 *
 * The scatter form (conv.c) adds every input event's weight rows into the outputs it reaches:
 * each multiply-add also loads and stores the output, and the output map of a wide layer does
 * not fit in L1, so the scatter is bound by cache traffic. Here every output pixel instead
 * gathers the events in its receptive field: its Cout channels are held in up to 16 vector
 * registers while the weight rows of the active inputs stream through, and the pixel is stored
 * once. The active inputs of one kernel row are a contiguous range of bits in a per-step
 * nonzero bitmap of the (channel-last) input, found with count-trailing-zeros. Same arithmetic
 * as the scatter (a sum over the same products, in a different order), checked against the
 * reference by tests/test_kernels.c.
 *
 * Written with intrinsics because the accumulators must stay in registers: the vector count is
 * made a compile-time constant per case (1 … 16 vectors of 16 channels; wider layers are done
 * in blocks of 256 channels).
 */
#include "backend/cpu/conv.h"

#include "core/cpu.h"
#include "core/runs.h"

#include <stdint.h>
#include <string.h>

#ifdef SBP_RUNS_AVX512

#define BLOCK_VECS 16 /* 256 output channels per pass */

/* Per-step nonzero bitmap of x (n entries) into bits ((n + 63)/64 words). */
static SBP_TARGET_AVX512 void nonzero_bits(uint64_t *bits, const float *x, size_t n)
{
    const __m512 zero = _mm512_setzero_ps();
    for (size_t w = 0; w * 64 < n; w++) {
        uint64_t word = 0;
        for (size_t q = 0; q < 4 && w * 64 + q * 16 < n; q++) {
            const size_t i = w * 64 + q * 16;
            const __mmask16 live = sbp_lanes_mask(n - i);
            const __m512 v = _mm512_maskz_loadu_ps(live, x + i);
            word |= (uint64_t)_mm512_mask_cmp_ps_mask(live, v, zero, _CMP_NEQ_UQ) << (q * 16);
        }
        bits[w] = word;
    }
}

/* One output pixel: out[0 .. 16·NV) (the last vector masked by `last`) = Σ over the set bits b
 * of [b0, b0 + len) in each of the nrows kernel rows of x[b]·W[row_base[r] + woff[b − b0]]. */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void pull_pixel(
    const int NV, float *out, const float *xt, const uint64_t *bits, const size_t *b0,
    const float *const *wrow, int nrows, const uint32_t *woff, uint32_t len, __mmask16 last)
{
    __m512 acc[BLOCK_VECS];
    for (int j = 0; j < NV; j++)
        acc[j] = _mm512_setzero_ps();
    for (int r = 0; r < nrows; r++) {
        const size_t lo = b0[r], hi = lo + len;
        const float *wr = wrow[r];
        for (size_t w = lo >> 6; w <= (hi - 1) >> 6; w++) {
            uint64_t word = bits[w];
            if (w == lo >> 6)
                word &= ~(uint64_t)0 << (lo & 63);
            if (w == (hi - 1) >> 6 && (hi & 63))
                word &= ~(~(uint64_t)0 << (hi & 63));
            while (word) {
                const size_t b = w * 64 + (size_t)__builtin_ctzll(word);
                word &= word - 1;
                const __m512 v = _mm512_set1_ps(xt[b]);
                const float *row = wr + woff[b - lo];
                for (int j = 0; j < NV - 1; j++)
                    acc[j] = _mm512_fmadd_ps(v, _mm512_loadu_ps(row + 16 * j), acc[j]);
                acc[NV - 1] =
                    _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(last, row + 16 * (NV - 1)), acc[NV - 1]);
            }
        }
    }
    for (int j = 0; j < NV - 1; j++)
        _mm512_storeu_ps(out + 16 * j, acc[j]);
    _mm512_mask_storeu_ps(out + 16 * (NV - 1), last, acc[NV - 1]);
}

static SBP_TARGET_AVX512 void pull_dispatch(int nv, float *out, const float *xt,
                                            const uint64_t *bits, const size_t *b0,
                                            const float *const *wrow, int nrows,
                                            const uint32_t *woff, uint32_t len, __mmask16 last)
{
    switch (nv) {
#define CASE(N)                                                                                \
    case N:                                                                                    \
        pull_pixel(N, out, xt, bits, b0, wrow, nrows, woff, len, last);                        \
        break;
        SBP_VECTOR_COUNTS(CASE)
#undef CASE
    }
}

/* PX neighbouring output pixels of one row at once (3×3 kernel, stride 1, input channels a
 * multiple of 64, so that an input pixel's channels are whole words of the bitmap): PX·NV
 * accumulators, and each input event, found once, feeds every pixel of the block whose
 * receptive field holds it (up to 3) — the scan of the bitmap, the broadcast and the address
 * arithmetic that pull_pixel pays per pixel are paid once per block. Per pixel the same
 * products are added in the same order as pull_pixel's (kernel rows, then columns, then
 * channels), so the same bits. out: pixel ox0's first channel; ix0 = ox0 − pad; ky0 … ky1 − 1
 * the kernel rows inside the map, iy0 = oy − pad. */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void pull_block3(
    const int PX, const int NV, float *out, size_t C, const float *xt, const uint64_t *bits,
    int iy0, int ky0, int ky1, int ix0, int Wd, int Ci, const float *Wt, size_t B)
{
    enum { K = 3 };
    __m512 acc[4][BLOCK_VECS];
    for (int j = 0; j < PX; j++)
        for (int q = 0; q < NV; q++)
            acc[j][q] = _mm512_setzero_ps();
    const int wpp = Ci / 64; /* words per input pixel */
    for (int ky = ky0; ky < ky1; ky++) {
        const size_t row = (size_t)(iy0 + ky) * Wd;
        for (int c = 0; c < PX + K - 1; c++) { /* input columns ix0 + c */
            const int ix = ix0 + c;
            if (ix < 0 || ix >= Wd)
                continue;
            const size_t px = (row + ix) * (size_t)Ci;
            for (int wi = 0; wi < wpp; wi++) {
                uint64_t word = bits[px / 64 + wi];
                while (word) {
                    const int ci = wi * 64 + __builtin_ctzll(word);
                    word &= word - 1;
                    const __m512 v = _mm512_set1_ps(xt[px + ci]);
                    /* weight row of (ci, ky, kx): (ci·K + ky)·B + (K − 1 − kx)·C (conv.h) */
                    const float *w0 = Wt + ((size_t)ci * K + ky) * B + (K - 1) * C;
                    for (int j = 0; j < PX; j++) {
                        const int kx = c - j;
                        if (kx < 0 || kx >= K)
                            continue;
                        const float *wr = w0 - (size_t)kx * C;
                        for (int q = 0; q < NV; q++)
                            acc[j][q] = _mm512_fmadd_ps(v, _mm512_loadu_ps(wr + 16 * q), acc[j][q]);
                    }
                }
            }
        }
    }
    for (int j = 0; j < PX; j++)
        for (int q = 0; q < NV; q++)
            _mm512_storeu_ps(out + (size_t)j * C + 16 * q, acc[j][q]);
}

/* Whether pull_block3 applies: 3×3, stride 1, whole words per input pixel, 64 or 128 output
 * channels (4 pixels of 4 vectors, or 2 of 8). */
static int block3_usable(const sbp_layer *L)
{
    return L->spec.kernel == 3 && L->spec.stride == 1 && L->in_c % 64 == 0 &&
           (L->out_c == 64 || L->out_c == 128);
}

size_t sbp_conv_pull_scratch(const sbp_layer *L)
{
    const size_t words = (L->n_in + 63) / 64;
    const size_t table = (size_t)L->spec.kernel * L->in_c; /* woff entries */
    return 2 * words + table + 16;
}

static SBP_TARGET_AVX512 void forward_pull(float *I, const float *x, const float *Wt,
                                           const sbp_layer *L, int tc, float *ws)
{
    const int k = L->spec.kernel, s = L->spec.stride, pad = L->spec.pad;
    const int H = L->in_h, Wd = L->in_w, Ho = L->out_h, Wo = L->out_w, Ci = L->in_c;
    const size_t C = (size_t)L->out_c, words = (L->n_in + 63) / 64, B = sbp_conv_block(L);
    uint64_t *bits = (uint64_t *)(void *)ws;
    uint32_t *woff = (uint32_t *)(void *)(bits + words);
    /* A kernel row's inputs, kx = 0 … k−1 and ci = 0 … Ci−1, are bits kx·Ci + ci from the row's
     * first pixel; woff gives each one's weight row relative to the kernel row's block for
     * channel 0 (conv.h layout: (ci·k + ky)·B + (k − 1 − kx)·C). */
    for (int kx = 0; kx < k; kx++)
        for (int ci = 0; ci < Ci; ci++)
            woff[kx * Ci + ci] = (uint32_t)((size_t)ci * k * B + (size_t)(k - 1 - kx) * C);
    for (int t = 0; t < tc; t++) {
        const float *xt = x + (size_t)t * L->n_in;
        float *It = I + (size_t)t * L->n_out;
        nonzero_bits(bits, xt, L->n_in);
        for (int oy = 0; oy < Ho; oy++) {
            const int iy0 = oy * s - pad;
            const int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = iy0 + k > H ? H - iy0 : k;
            int ox = 0;
            /* blocks of pixels where they apply, the rest one at a time below */
            if (block3_usable(L) && C == 64)
                for (; ox + 4 <= Wo; ox += 4)
                    pull_block3(4, 4, It + ((size_t)oy * Wo + ox) * C, C, xt, bits, iy0, ky0,
                                ky1, ox - pad, Wd, Ci, Wt, B);
            else if (block3_usable(L))
                for (; ox + 2 <= Wo; ox += 2)
                    pull_block3(2, 8, It + ((size_t)oy * Wo + ox) * C, C, xt, bits, iy0, ky0,
                                ky1, ox - pad, Wd, Ci, Wt, B);
            for (; ox < Wo; ox++) {
                const int ix0 = ox * s - pad;
                const int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = ix0 + k > Wd ? Wd - ix0 : k;
                size_t b0[16];
                const float *wrow[16];
                int nrows = 0;
                /* the rows of the receptive field inside the input, from kx0 on */
                for (int ky = ky0; ky < ky1 && kx0 < kx1; ky++, nrows++) {
                    b0[nrows] = ((size_t)(iy0 + ky) * Wd + (ix0 + kx0)) * Ci;
                    wrow[nrows] = Wt + (size_t)ky * B;
                }
                const uint32_t len = (uint32_t)((kx1 - kx0) * Ci);
                const uint32_t *wo = woff + (size_t)kx0 * Ci;
                float *out = It + ((size_t)oy * Wo + ox) * C;
                for (size_t c0 = 0; c0 < C; c0 += 16 * BLOCK_VECS) {
                    const size_t cb = C - c0 < 16 * BLOCK_VECS ? C - c0 : 16 * BLOCK_VECS;
                    const int nv = (int)((cb + 15) / 16);
                    const __mmask16 last = cb % 16 ? sbp_tail_mask(cb % 16) : (__mmask16)0xFFFF;
                    const float *wr[16];
                    for (int r = 0; r < nrows; r++)
                        wr[r] = wrow[r] + c0;
                    pull_dispatch(nv, out + c0, xt, bits, b0, wr, nrows, wo, len, last);
                }
            }
        }
    }
}
#endif

int sbp_conv_pull_usable(const sbp_layer *L)
{
#ifdef SBP_RUNS_AVX512
    return sbp_use_avx512() && L->spec.kernel <= 16;
#else
    (void)L;
    return 0;
#endif
}

int sbp_conv_forward_pull(float *I, const float *x, const float *Wt, const sbp_layer *L, int tc,
                          float *ws)
{
#ifdef SBP_RUNS_AVX512
    if (sbp_conv_pull_usable(L)) {
        forward_pull(I, x, Wt, L, tc, ws);
        return 1;
    }
#endif
    (void)I, (void)x, (void)Wt, (void)L, (void)tc, (void)ws;
    return 0;
}
