/*
 * dataset.c — the labelled image set behind sbp_dataset: allocation, accessors, the encoding
 * parameters of §1 (x = (pixel/255 − mean[c]) / std[c], spike probability |x|·gain) and slices.
 *
 * A slice is a view: its pixels and labels point into the parent's arrays and are never freed
 * by it, so --train-limit and validation splits cost no copy. A view may own its parent (the
 * limited sets sbp_dataset_open returns): freeing it then frees the parent too. This file deliberately does not
 * read files (idx.c does) and does not encode spikes (the encoder does, per step).
 */
#include "data/dataset.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"

sbp_status sbp_dataset_alloc(sbp_dataset **out, size_t n, int c, int h, int w, int classes,
                             sbp_error *err)
{
    if (!out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "dataset: out pointer is NULL");
    *out = NULL;
    if (n == 0)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "dataset: a dataset needs at least one image");
    if (c < 1 || c > SBP_DATASET_MAX_CH)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "dataset: %d channels; between 1 and %d are supported", c,
                        SBP_DATASET_MAX_CH);
    if (h < 1 || w < 1)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "dataset: image size %dx%d is not positive", h,
                        w);
    /* labels are stored as uint8 */
    if (classes < 1 || classes > 256)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "dataset: %d classes; between 1 and 256 are supported", classes);
    size_t per_image = (size_t)c * (size_t)h;
    if (per_image > SIZE_MAX / (size_t)w)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "dataset: image size %dx%dx%d overflows", c, h,
                        w);
    per_image *= (size_t)w;
    if (n > SIZE_MAX / per_image)
        return sbp_fail(err, SBP_ERR_NOMEM, "dataset: %zu images of %zu bytes overflow size_t",
                        n, per_image);

    sbp_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return sbp_fail(err, SBP_ERR_NOMEM, "dataset: out of memory for the dataset record");
    ds->pixels = calloc(n, per_image);
    ds->labels = calloc(n, 1);
    if (!ds->pixels || !ds->labels) {
        free(ds->pixels);
        free(ds->labels);
        free(ds);
        return sbp_fail(err, SBP_ERR_NOMEM, "dataset: out of memory for %zu images of %dx%dx%d",
                        n, c, h, w);
    }
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->classes = classes;
    for (int i = 0; i < SBP_DATASET_MAX_CH; i++) {
        ds->mean[i] = 0.0f;
        ds->std[i] = 1.0f;
    }
    ds->gain = 1.0f;
    ds->parent = NULL;
    *out = ds;
    return SBP_OK;
}

void sbp_dataset_free(sbp_dataset *ds)
{
    if (!ds)
        return;
    if (!ds->parent && !ds->borrowed) {
        free(ds->pixels);
        free(ds->spikes);
        free(ds->labels);
    }
    sbp_dataset *owned = ds->owned;
    free(ds);
    sbp_dataset_free(owned);
}

size_t sbp_dataset_count(const sbp_dataset *ds)
{
    return ds ? ds->n : 0;
}

void sbp_dataset_shape(const sbp_dataset *ds, int *c, int *h, int *w)
{
    if (c)
        *c = ds ? ds->c : 0;
    if (h)
        *h = ds ? ds->h : 0;
    if (w)
        *w = ds ? ds->w : 0;
}

int sbp_dataset_classes(const sbp_dataset *ds)
{
    return ds ? ds->classes : 0;
}

/* Returns −1 for a NULL dataset or an index out of range (never reads outside the array). */
int sbp_dataset_label(const sbp_dataset *ds, size_t i)
{
    if (!ds || i >= ds->n)
        return -1;
    return ds->labels[i];
}

/* Returns NULL for a NULL dataset or an index out of range. */
const uint8_t *sbp_dataset_image(const sbp_dataset *ds, size_t i)
{
    if (!ds || i >= ds->n || !ds->pixels)
        return NULL;
    return ds->pixels + i * ((size_t)ds->c * (size_t)ds->h * (size_t)ds->w);
}

const uint8_t *sbp_dataset_labels(const sbp_dataset *ds)
{
    return ds ? ds->labels : NULL;
}

/* Returns NULL for an image set, a NULL dataset or an index out of range. */
const int8_t *sbp_dataset_spikes(const sbp_dataset *ds, size_t i)
{
    if (!ds || i >= ds->n || !ds->spikes)
        return NULL;
    return ds->spikes + i * ((size_t)ds->timesteps * ds->c * ds->h * ds->w);
}

sbp_status sbp_dataset_set_encoding(sbp_dataset *ds, const float *mean, const float *std,
                                    float gain, sbp_error *err)
{
    if (!ds)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "dataset encoding: dataset is NULL");
    if (!mean || !std)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "dataset encoding: mean and std need one value per channel (%d), got NULL",
                        ds->c);
    if (ds->c < 1 || ds->c > SBP_DATASET_MAX_CH)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "dataset encoding: %d channels; at most %d are supported", ds->c,
                        SBP_DATASET_MAX_CH);
    if (!isfinite(gain) || !(gain > 0.0f))
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "dataset encoding: gain %g must be positive and finite", (double)gain);
    for (int i = 0; i < ds->c; i++) {
        if (!isfinite(mean[i]))
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "dataset encoding: mean[%d] = %g is not finite", i, (double)mean[i]);
        if (!isfinite(std[i]) || !(std[i] > 0.0f))
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "dataset encoding: std[%d] = %g must be positive and finite", i,
                            (double)std[i]);
    }
    /* validated everything first: a failed call leaves the encoding untouched */
    for (int i = 0; i < ds->c; i++) {
        ds->mean[i] = mean[i];
        ds->std[i] = std[i];
    }
    ds->gain = gain;
    return SBP_OK;
}

sbp_status sbp_dataset_slice(sbp_dataset **out, const sbp_dataset *ds, size_t first,
                             size_t count, sbp_error *err)
{
    if (!out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "dataset slice: out pointer is NULL");
    *out = NULL;
    if (!ds)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "dataset slice: dataset is NULL");
    if (count == 0)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "dataset slice: empty slice at %zu (a dataset needs at least one image)",
                        first);
    /* written so that first + count cannot overflow */
    if (first >= ds->n || count > ds->n - first)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "dataset slice: images [%zu, %zu + %zu) lie outside the %zu images of "
                        "the dataset",
                        first, first, count, ds->n);

    sbp_dataset *s = malloc(sizeof *s);
    if (!s)
        return sbp_fail(err, SBP_ERR_NOMEM, "dataset slice: out of memory");
    *s = *ds; /* shape, classes, encoding */
    s->n = count;
    const size_t per = (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
    s->pixels = ds->pixels ? ds->pixels + first * per : NULL;
    s->spikes = ds->spikes ? ds->spikes + first * per * (size_t)ds->timesteps : NULL;
    s->labels = ds->labels + first;
    s->parent = ds;
    s->owned = NULL; /* a slice of an owning view owns nothing: the view keeps its parent */
    *out = s;
    return SBP_OK;
}

sbp_status sbp_dataset_slice_owning(sbp_dataset **out, sbp_dataset *full, size_t count,
                                    sbp_error *err)
{
    sbp_status st = sbp_dataset_slice(out, full, 0, count, err);
    if (st == SBP_OK)
        (*out)->owned = full;
    return st;
}

int sbp_dataset_timesteps(const sbp_dataset *ds)
{
    return ds ? ds->timesteps : 0;
}

sbp_status sbp_dataset_set_augment(sbp_dataset *ds, int crop_pad, int flip, sbp_error *err)
{
    if (!ds)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "dataset augmentation: dataset is NULL");
    if (crop_pad < 0 || crop_pad > ds->h || crop_pad > ds->w)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "dataset augmentation: crop padding %d must be between 0 and the image "
                        "size %dx%d",
                        crop_pad, ds->h, ds->w);
    if ((crop_pad > 0 || flip) && !ds->pixels)
        return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                        "dataset augmentation: crop and flip apply to images, and this data set "
                        "holds pre-encoded spike trains");
    ds->crop_pad = crop_pad;
    ds->flip = flip ? 1 : 0;
    return SBP_OK;
}
