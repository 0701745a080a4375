/*
 * runs.h — the two inner loops of the event-driven kernels, on one contiguous run of floats:
 *
 *   axpy        o[j] += v·w[j]                              (an event's contribution)
 *   update_dot  dw[j] += v·g[j], returning Σ_j w[j]·g[j]    (its weight gradient and dx)
 *   update      dw[j] += v·g[j]                             (the same where no dx is wanted)
 *   dot         Σ_j w[j]·g[j] alone, the bits update_dot returns (AVX-512 only)
 *
 * Runs are short (k·Cout floats: 100, 250, 768, …) and rarely a multiple of the vector width,
 * and a scalar remainder loop costs as much as the vector body there. So besides the plain
 * loops (portable, the oracle) there are AVX-512 versions that finish a run with one masked
 * vector. Both multiply and then add — no fused multiply-add — so the forward gives the same
 * bits on every CPU. Which version runs is decided at run time (core/cpu.h) by the
 * kernels, which are compiled once per version (conv.c, dense.c).
 */
#ifndef SBP_CORE_RUNS_H
#define SBP_CORE_RUNS_H

#include <stddef.h>

#define SBP_ALWAYS_INLINE inline __attribute__((always_inline))

static SBP_ALWAYS_INLINE void sbp_axpy_plain(float *restrict o, const float *restrict w, float v,
                                             size_t n)
{
    for (size_t j = 0; j < n; j++)
        o[j] += v * w[j];
}

static SBP_ALWAYS_INLINE float sbp_update_dot_plain(float *restrict dw, const float *restrict w,
                                                    const float *restrict g, float v, size_t n)
{
    float d = 0.0f;
    for (size_t j = 0; j < n; j++) {
        dw[j] += v * g[j];
        d += w[j] * g[j];
    }
    return d;
}

/* update  dw[j] += v·g[j]: update_dot without the dot product, for a first layer (no dx). */
static SBP_ALWAYS_INLINE void sbp_update_plain(float *restrict dw, const float *restrict g, float v,
                                               size_t n)
{
    for (size_t j = 0; j < n; j++)
        dw[j] += v * g[j];
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(SBP_NO_MULTIVERSION)
#define SBP_RUNS_AVX512 1
#include <immintrin.h>

#define SBP_TARGET_AVX512 __attribute__((target("avx512f")))

/* X(1) … X(16): the cases of a switch that makes a kernel's vector count a compile-time
 * constant, so that its accumulators stay in registers (conv_pull.c, conv_cols.c,
 * conv_wgrad.c). */
#define SBP_VECTOR_COUNTS(X)                                                                   \
    X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16)

static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 __mmask16 sbp_tail_mask(size_t left)
{
    return (__mmask16)((1u << left) - 1u);
}

/* The lanes of the first min(left, 16) floats: a whole vector, or the tail. */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 __mmask16 sbp_lanes_mask(size_t left)
{
    return left >= 16 ? (__mmask16)0xFFFF : sbp_tail_mask(left);
}

static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void sbp_axpy_avx512(float *restrict o,
                                                                const float *restrict w,
                                                                float v, size_t n)
{
    const __m512 vv = _mm512_set1_ps(v);
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m512 a = _mm512_add_ps(_mm512_loadu_ps(o + j), _mm512_mul_ps(vv, _mm512_loadu_ps(w + j)));
        __m512 b = _mm512_add_ps(_mm512_loadu_ps(o + j + 16),
                                 _mm512_mul_ps(vv, _mm512_loadu_ps(w + j + 16)));
        _mm512_storeu_ps(o + j, a);
        _mm512_storeu_ps(o + j + 16, b);
    }
    for (; j < n; j += 16) {
        const __mmask16 m = sbp_lanes_mask(n - j);
        __m512 a = _mm512_add_ps(_mm512_maskz_loadu_ps(m, o + j),
                                 _mm512_mul_ps(vv, _mm512_maskz_loadu_ps(m, w + j)));
        _mm512_mask_storeu_ps(o + j, m, a);
    }
}

static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 float sbp_update_dot_avx512(float *restrict dw,
                                                                       const float *restrict w,
                                                                       const float *restrict g,
                                                                       float v, size_t n)
{
    const __m512 vv = _mm512_set1_ps(v);
    __m512 d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps();
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        const __m512 g0 = _mm512_loadu_ps(g + j), g1 = _mm512_loadu_ps(g + j + 16);
        _mm512_storeu_ps(dw + j, _mm512_add_ps(_mm512_loadu_ps(dw + j), _mm512_mul_ps(vv, g0)));
        _mm512_storeu_ps(dw + j + 16,
                         _mm512_add_ps(_mm512_loadu_ps(dw + j + 16), _mm512_mul_ps(vv, g1)));
        d0 = _mm512_add_ps(d0, _mm512_mul_ps(_mm512_loadu_ps(w + j), g0));
        d1 = _mm512_add_ps(d1, _mm512_mul_ps(_mm512_loadu_ps(w + j + 16), g1));
    }
    for (; j < n; j += 16) {
        const __mmask16 m = sbp_lanes_mask(n - j);
        const __m512 g0 = _mm512_maskz_loadu_ps(m, g + j);
        _mm512_mask_storeu_ps(dw + j, m,
                              _mm512_add_ps(_mm512_maskz_loadu_ps(m, dw + j), _mm512_mul_ps(vv, g0)));
        d0 = _mm512_add_ps(d0, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, w + j), g0));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
}

/* The dot product of sbp_update_dot_avx512 without its update: the same two accumulators in
 * the same order, so the same bits (tests/test_kernels.c checks it). */
static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 float sbp_dot_avx512(const float *restrict w,
                                                                const float *restrict g, size_t n)
{
    __m512 d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps();
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        d0 = _mm512_add_ps(d0, _mm512_mul_ps(_mm512_loadu_ps(w + j), _mm512_loadu_ps(g + j)));
        d1 = _mm512_add_ps(d1, _mm512_mul_ps(_mm512_loadu_ps(w + j + 16),
                                             _mm512_loadu_ps(g + j + 16)));
    }
    for (; j < n; j += 16) {
        const __mmask16 m = sbp_lanes_mask(n - j);
        d0 = _mm512_add_ps(d0, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, w + j),
                                             _mm512_maskz_loadu_ps(m, g + j)));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
}

static SBP_ALWAYS_INLINE SBP_TARGET_AVX512 void sbp_update_avx512(float *restrict dw,
                                                                  const float *restrict g,
                                                                  float v, size_t n)
{
    const __m512 vv = _mm512_set1_ps(v);
    size_t j = 0;
    for (; j + 16 <= n; j += 16)
        _mm512_storeu_ps(dw + j, _mm512_add_ps(_mm512_loadu_ps(dw + j),
                                               _mm512_mul_ps(vv, _mm512_loadu_ps(g + j))));
    if (j < n) {
        const __mmask16 m = sbp_tail_mask(n - j);
        _mm512_mask_storeu_ps(dw + j, m,
                              _mm512_add_ps(_mm512_maskz_loadu_ps(m, dw + j),
                                            _mm512_mul_ps(vv, _mm512_maskz_loadu_ps(m, g + j))));
    }
}
#endif

#endif
