/* encode.c — the §1 rate encoder (encode.h): value map and Philox-drawn spikes. */
#include "data/encode.h"

#include <string.h>

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

/* The input chunk x (n, C, H, W) for steps t0 … t0+n−1 (§1 rate encoding). */
void sbp_input_values(float *xval, const sbp_input *in, int C, size_t P)
{
    for (int c = 0; c < C; c++)
        for (size_t p = 0; p < P; p++) {
            size_t j = (size_t)c * P + p;
            xval[j] = ((float)in->pixels[j] / 255.0f - in->mean[c]) / in->std[c] * in->gain;
        }
}

void sbp_input_spikes(float *out, const sbp_input *in, const float *xval, size_t n, int t0,
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
            for (size_t q = 0; q < 64; q++) {
                float v = xval[j + q];
                float a = v < 0.0f ? -v : v;
                xt[j + q] = a > sbp_rng_unit(w[q % 4][q / 4]) ? (v < 0.0f ? -1.0f : 1.0f) : 0.0f;
            }
        }
        for (; j < n; j += 4) {
            uint32_t w[4];
            sbp_rng_words(in->key, in->tag, in->sample, (uint32_t)(t0 + t), (uint32_t)(j / 4), w);
            for (size_t q = 0; q < 4 && j + q < n; q++) {
                float v = xval[j + q];
                float a = v < 0.0f ? -v : v;
                xt[j + q] = a > sbp_rng_unit(w[q]) ? (v < 0.0f ? -1.0f : 1.0f) : 0.0f;
            }
        }
    }
}
