/* encode.c — the §1 rate encoder (encode.h): value map and Philox-drawn spikes. */
#include "data/encode.h"

#include <string.h>

#if defined(__SSE2__) /* every x86-64 */
#include <emmintrin.h>
#define SBP_ENCODE_SSE2 1
#endif

void sbp_input_for(sbp_input *in, const sbp_dataset *ds, size_t i, sbp_rng_key key, uint32_t tag)
{
    memset(in, 0, sizeof *in);
    if (ds->spikes) {
        in->spikes8 = ds->spikes + i * (size_t)ds->timesteps * ds->c * ds->h * ds->w;
        return;
    }
    in->pixels = sbp_dataset_image(ds, i);
    in->mean = ds->mean;
    in->std = ds->std;
    in->gain = ds->gain;
    in->key = key;
    in->tag = tag;
    in->sample = (uint32_t)i;
}

/* Pixel j's value x·gain in channel c (§1). */
static inline float input_value(const sbp_input *in, int c, size_t j)
{
    return ((float)in->pixels[j] / 255.0f - in->mean[c]) / in->std[c] * in->gain;
}

/* The input chunk x (n, C, H, W) for steps t0 … t0+n−1 (§1 rate encoding). */
void sbp_input_values(float *xval, const sbp_input *in, int C, size_t P)
{
    for (int c = 0; c < C; c++)
        for (size_t p = 0; p < P; p++) {
            size_t j = (size_t)c * P + p;
            xval[j] = input_value(in, c, j);
        }
}

void sbp_input_support(const sbp_input *in, int C, int H, int W, int box[4])
{
    int y0 = H, y1 = 0, x0 = W, x1 = 0;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                if (input_value(in, c, ((size_t)c * H + y) * W + x) != 0.0f) { /* NaN too */
                    y0 = y < y0 ? y : y0, y1 = y + 1 > y1 ? y + 1 : y1;
                    x0 = x < x0 ? x : x0, x1 = x + 1 > x1 ? x + 1 : x1;
                }
    if (y0 >= y1)
        y0 = y1 = x0 = x1 = 0;
    box[0] = y0, box[1] = y1, box[2] = x0, box[3] = x1;
}

/* Spike of value v against word r: sign(v)·[|v| > r] (§1). */
static inline float spike(float v, uint32_t r)
{
    float a = v < 0.0f ? -v : v;
    return a > sbp_rng_unit(r) ? (v < 0.0f ? -1.0f : 1.0f) : 0.0f;
}

#ifdef SBP_ENCODE_SSE2
/* spike() for the 4 pixels of one counter at once, without a branch: |v| > (r >> 8)·2⁻²⁴
 * (the 24-bit integer converts exactly, so the same draw as sbp_rng_unit) selects ±1 by v's
 * sign. The scalar form's compares and selects mispredict at spike densities; this is the
 * encoder's inner loop (LeNet inference: 5 % of the time before). Reads x before it writes o,
 * which may be the same 4 floats (the analysis layout). */
static inline void spikes4(float *o, const float *x, uint32_t r0, uint32_t r1, uint32_t r2,
                           uint32_t r3)
{
    const __m128 sign = _mm_set1_ps(-0.0f), one = _mm_set1_ps(1.0f);
    const __m128i r = _mm_srli_epi32(_mm_set_epi32((int)r3, (int)r2, (int)r1, (int)r0), 8);
    const __m128 u = _mm_mul_ps(_mm_cvtepi32_ps(r), _mm_set1_ps(1.0f / 16777216.0f));
    const __m128 v = _mm_loadu_ps(x), a = _mm_andnot_ps(sign, v);
    const __m128 hit = _mm_cmpgt_ps(a, u); /* false for NaN, as in spike() */
    _mm_storeu_ps(o, _mm_and_ps(hit, _mm_or_ps(one, _mm_and_ps(sign, v))));
}
#endif

/* The spikes of one counter's group of pixels: o[i] = spike(x[i], r[i]) for the first
 * min(left, 4) of them (o may be x: each value is read before its slot is written). */
static inline void spikes_group(float *o, const float *x, size_t left, uint32_t r0, uint32_t r1,
                                uint32_t r2, uint32_t r3)
{
#ifdef SBP_ENCODE_SSE2
    if (left >= 4) {
        spikes4(o, x, r0, r1, r2, r3);
        return;
    }
#endif
    const uint32_t r[4] = {r0, r1, r2, r3};
    for (size_t i = 0; i < 4 && i < left; i++)
        o[i] = spike(x[i], r[i]);
}

/* Every pixel: 64 pixels (16 counters) at a time, then 4 at a time. */
static void spikes_dense(float *out, const sbp_input *in, const float *xval, size_t n, int t0,
                         int steps)
{
    for (int t = 0; t < steps; t++) {
        float *xt = out + (size_t)t * n;
        size_t j = 0;
        /* 64 pixels (16 counters) at a time: the same words as below, drawn in one go */
        for (; j + 64 <= n; j += 64) {
            uint32_t w[4][16];
            sbp_rng_words16(in->key, in->tag, in->sample, (uint32_t)(t0 + t), (uint32_t)(j / 4),
                            w);
            for (size_t c = 0; c < 16; c++)
                spikes_group(xt + j + 4 * c, xval + j + 4 * c, 4, w[0][c], w[1][c], w[2][c],
                             w[3][c]);
        }
        for (; j < n; j += 4) {
            uint32_t w[4];
            sbp_rng_words(in->key, in->tag, in->sample, (uint32_t)(t0 + t), (uint32_t)(j / 4), w);
            spikes_group(xt + j, xval + j, n - j, w[0], w[1], w[2], w[3]);
        }
    }
}

/* Groups of 4 pixels share a counter; the sparse form handles images of up to this many. */
#define SBP_ENCODE_GROUPS 4096

/* The 16 pending (step, group) draws of spikes_sparse. */
typedef struct lanes {
    uint32_t t[16], g[16];
    int k;
} lanes;

static void lanes_flush(lanes *ln, float *out, const sbp_input *in, const float *xval, size_t n,
                        int t0)
{
    uint32_t c2[16], w[4][16];
    for (int q = 0; q < 16; q++) /* unused lanes repeat lane 0 */
        c2[q] = (uint32_t)t0 + ln->t[q < ln->k ? q : 0];
    for (int q = ln->k; q < 16; q++)
        ln->g[q] = ln->g[0];
    sbp_rng_words16_lanes(in->key, in->tag, in->sample, c2, ln->g, w);
    for (int q = 0; q < ln->k; q++) {
        const size_t j = (size_t)ln->g[q] * 4;
        float *xt = out + (size_t)ln->t[q] * n;
        spikes_group(xt + j, xval + j, n - j, w[0][q], w[1][q], w[2][q], w[3][q]);
    }
    ln->k = 0;
}

/* Queues the draw of (step t, group g), flushing every 16. */
static inline void lanes_push(lanes *ln, uint32_t t, uint32_t g, float *out, const sbp_input *in,
                              const float *xval, size_t n, int t0)
{
    ln->t[ln->k] = t;
    ln->g[ln->k] = g;
    if (++ln->k == 16)
        lanes_flush(ln, out, in, xval, n, t0);
}

/* Only the counters of groups holding a nonzero value are drawn, 16 (step, group) pairs per
 * call whatever the step: the rest never spike (|x| = 0 is never above a draw in [0, 1)).
 * MNIST digits leave ~70 % of the groups empty. A row apart from the values is zeroed whole
 * and only the live groups are visited (a test per group cost 4–5 % of LeNet's inference on
 * an Emerald Rapids Xeon: the live pattern is too long for the branch predictor); the row that
 * is the value map itself (the analysis layout) keeps the test, its empty groups already 0.
 * Each slot is written once and after its own value was read, as the header promises. Returns
 * 0 (nothing written) when the image has more groups than the sparse form handles, or too few
 * are empty to gain. */
static int spikes_sparse(float *out, const sbp_input *in, const float *xval, size_t n, int t0,
                         int steps)
{
    const size_t groups = (n + 3) / 4;
    if (groups > SBP_ENCODE_GROUPS)
        return 0;
    uint64_t live[SBP_ENCODE_GROUPS / 64] = {0};
    uint16_t list[SBP_ENCODE_GROUPS]; /* the live groups, in order */
    size_t nlive = 0;
    for (size_t g = 0; g < groups; g++) {
        int any = 0;
        for (size_t i = 4 * g; i < 4 * g + 4 && i < n; i++)
            any |= xval[i] != 0.0f;
        live[g / 64] |= (uint64_t)any << (g % 64);
        list[nlive] = (uint16_t)g;
        nlive += (size_t)any;
    }
    if (nlive * 4 > groups * 3) /* three quarters live: the dense form is as fast */
        return 0;
    lanes ln = {.k = 0};
    for (int t = 0; t < steps; t++) {
        float *xt = out + (size_t)t * n;
        if (xt + n <= xval || xval + n <= xt) {
            /* a row apart from the values: zeroed whole, then the live groups drawn — no
             * test per group (on MNIST ~70 % are empty, in a pattern too long to predict) */
            memset(xt, 0, n * sizeof(float));
            for (size_t q = 0; q < nlive; q++)
                lanes_push(&ln, (uint32_t)t, list[q], out, in, xval, n, t0);
            continue;
        }
        for (size_t g = 0; g < groups; g++) {
            if (!((live[g / 64] >> (g % 64)) & 1u)) {
                for (size_t i = 4 * g; i < 4 * g + 4 && i < n; i++)
                    xt[i] = 0.0f;
                continue;
            }
            lanes_push(&ln, (uint32_t)t, (uint32_t)g, out, in, xval, n, t0);
        }
    }
    if (ln.k)
        lanes_flush(&ln, out, in, xval, n, t0);
    return 1;
}

void sbp_input_spikes(float *out, const sbp_input *in, const float *xval, size_t n, int t0,
                      int steps)
{
    if (!spikes_sparse(out, in, xval, n, t0, steps))
        spikes_dense(out, in, xval, n, t0, steps);
}
