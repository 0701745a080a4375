/*
 * dataset.h — the in-memory labelled image set behind the opaque sbp_dataset.
 * Pixels stay uint8 (a quarter of the memory of floats); the encoder (§1) turns a pixel into
 * x = (pixel/255 − mean[c]) / std[c] at every step it needs it.
 */
#ifndef SBP_DATA_DATASET_H
#define SBP_DATA_DATASET_H

#include "spikebp.h"

#define SBP_DATASET_MAX_CH 4

struct sbp_dataset {
    size_t n;              /* number of images */
    int c, h, w;           /* image shape */
    int classes;           /* labels are 0 … classes−1 */
    uint8_t *pixels;       /* (n, c, h, w) raw; owned unless `parent` is set */
    uint8_t *labels;       /* (n) */
    float mean[SBP_DATASET_MAX_CH]; /* per-channel mean of pixel/255 */
    float std[SBP_DATASET_MAX_CH];  /* per-channel std of pixel/255 */
    float gain;            /* spike probability = |x|·gain (§1) */
    const sbp_dataset *parent; /* non-NULL for a slice: memory belongs to the parent */
    int borrowed;          /* pixels/spikes and labels belong to the caller (from_memory) */
    sbp_dataset *owned;    /* the parent, when this slice owns it (freed with the slice) */
    /* Pre-encoded spike data (event cameras, .npy spike trains): when timesteps > 0 every
     * sample is a spike train (timesteps, c, h, w) of int8 values −1/0/+1 (or small counts)
     * that is fed as is, and `pixels` is NULL. The window T must then equal `timesteps`. */
    int timesteps;
    int8_t *spikes;        /* (n, timesteps, c, h, w); owned unless `parent` is set */
    /* Training augmentation of §1 for CIFAR-10: random crop with `crop_pad` zero pixels of
     * padding on each side (0 = none) and random horizontal flip; applied to the raw image. */
    int crop_pad;
    int flip;
};

/* Allocates an owning dataset of n images of shape (c, h, w) with zeroed pixels and labels and
 * the identity encoding (mean 0, std 1, gain 1). Caller frees with sbp_dataset_free. */
sbp_status sbp_dataset_alloc(sbp_dataset **out, size_t n, int c, int h, int w, int classes,
                             sbp_error *err);

/* A view of the first `count` images of `full` that owns it: freeing the view frees `full`
 * (what sbp_dataset_open returns for a limit). On success the view has taken `full`; on
 * failure the caller still owns it. */
sbp_status sbp_dataset_slice_owning(sbp_dataset **out, sbp_dataset *full, size_t count,
                                    sbp_error *err);

#endif
