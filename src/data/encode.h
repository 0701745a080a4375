/*
 * encode.h — the rate code of §1: a pixel becomes x = (pixel/255 − mean[c]) / std[c], and at
 * every step a spike sign(x)·[|x|·gain > r] with r a Philox draw that is a pure function of
 * (seed, epoch or evaluation tag, sample, step, pixel) — so every backend, thread and rank sees
 * the same spikes for the same image. Pre-encoded data sets (N-MNIST, spike .npy) bypass it.
 */
#ifndef SBP_DATA_ENCODE_H
#define SBP_DATA_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "data/dataset.h"

/* Where a sample's input spikes come from. */
typedef struct sbp_input {
    const float *spikes;    /* (T, C, H, W) given spikes, or NULL to rate-encode `pixels` */
    const int8_t *spikes8;  /* the same as int8 (pre-encoded data sets), or NULL */
    const uint8_t *pixels;  /* (C, H, W) raw image */
    const float *mean, *std; /* per channel, of pixel/255 */
    float gain;             /* spike probability = |x|·gain (§1) */
    sbp_rng_key key;        /* ENCODE stream */
    uint32_t tag;           /* epoch for training, a fixed tag for evaluation */
    uint32_t sample;        /* dataset index: the spikes depend on it, not on the batch */
} sbp_input;

/* Counter tag of the encoding in evaluation (training uses the epoch), shared by every path
 * that must see the same input spikes as sbp_eval (analysis, plots). */
#define SBP_INPUT_EVAL_TAG 0xE7A1u

/* The input of image i of ds: its pre-encoded spike trains, or its pixels to rate-encode with
 * key under counter tag `tag` (the epoch in training, SBP_INPUT_EVAL_TAG in evaluation). */
void sbp_input_for(sbp_input *in, const sbp_dataset *ds, size_t i, sbp_rng_key key, uint32_t tag);

/* The rate code of §1, split so that callers can keep the value map: xval (C·P) gets
 * |x|·gain with x's sign, x = (pixel/255 − mean[c]) / std[c]; then steps t0 … t0+steps−1 of
 * spikes sign(x)·[|x|·gain > r] go to out (steps, C·P). out may overlap xval only if xval is
 * the last row written (each value is read before its slot is written). */
void sbp_input_values(float *xval, const sbp_input *in, int C, size_t P);
void sbp_input_spikes(float *out, const sbp_input *in, const float *xval, size_t n, int t0,
                      int steps);

/* The rows [box[0], box[1]) and columns [box[2], box[3]) that hold every pixel of a (C, H, W)
 * image whose value (as sbp_input_values computes it) is not 0 in some channel: only those can
 * ever spike (|x|·gain > r ≥ 0 fails for x = 0). All 0 when none can. */
void sbp_input_support(const sbp_input *in, int C, int H, int W, int box[4]);

#endif
