/*
 * numpy.c — labelled data sets from NumPy arrays (src/formats/npy.h reads them): uint8 images
 * (N, C, H, W) or (N, H, W), or spike trains (N, T, C, H, W) of uint8/int8/bool, with integer
 * labels (N,); from a pair of .npy files or the arrays of one .npz archive.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/dataset.h"
#include "formats/npy.h"


/* Builds a data set from a data array x and a label array y (both consumed: their buffers are
 * adopted or freed). xwhat/ywhat name them in messages. */
static sbp_status dataset_from_arrays(sbp_dataset **out, sbp_npy_array *x, sbp_npy_array *y,
                                      const char *xwhat, const char *ywhat, sbp_error *err)
{
    sbp_status st = SBP_OK;
    sbp_dataset *ds = NULL;
    uint8_t *labels = NULL;
    if (y->ndim != 1 || !sbp_npy_dtype_is_int(y->dtype)) {
        st = sbp_fail(err, SBP_ERR_SHAPE,
                      "%s: labels must be a 1-d integer array (N,), got %d dimensions of %s", ywhat,
                      y->ndim, sbp_npy_dtype_name(y->dtype));
        goto fail;
    }
    const size_t n = y->shape[0];
    if (n == 0) {
        st = sbp_fail(err, SBP_ERR_SHAPE, "%s: no labels (shape (0,))", ywhat);
        goto fail;
    }
    if (x->ndim < 1 || x->shape[0] != n) {
        st = sbp_fail(err, SBP_ERR_SHAPE,
                      "%s holds %zu samples but %s holds %zu labels; they must match", xwhat,
                      x->ndim ? x->shape[0] : (size_t)0, ywhat, n);
        goto fail;
    }
    int64_t maxl = 0;
    labels = malloc(n);
    if (!labels) {
        st = sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory for %zu labels", ywhat, n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t v = sbp_npy_get_int(y, i);
        if (v < 0 || v > 255) {
            st = sbp_fail(err, SBP_ERR_FORMAT, "%s: label %lld at index %zu is outside 0 … 255",
                          ywhat, (long long)v, i);
            goto fail;
        }
        labels[i] = (uint8_t)v;
        if (v > maxl)
            maxl = v;
    }
    const int classes = maxl + 1 < 2 ? 2 : (int)maxl + 1;

    int spikes = 0, c, h, w, T = 0;
    if (x->ndim == 3 || x->ndim == 4) {
        if (x->dtype != SBP_NPY_U1) {
            st = sbp_fail(err, SBP_ERR_UNSUPPORTED,
                          "%s: images (N, C, H, W) or (N, H, W) must be uint8, got %s (spike "
                          "trains have 5 dimensions (N, T, C, H, W))",
                          xwhat, sbp_npy_dtype_name(x->dtype));
            goto fail;
        }
        c = x->ndim == 3 ? 1 : (int)x->shape[1];
        h = (int)x->shape[x->ndim - 2];
        w = (int)x->shape[x->ndim - 1];
        if (x->ndim == 4 && x->shape[1] > SBP_DATASET_MAX_CH) {
            st = sbp_fail(err, SBP_ERR_UNSUPPORTED,
                          "%s: %zu channels in shape (N, C, H, W); at most %d are supported — is "
                          "the array (N, H, W, C)? use a.transpose(0, 3, 1, 2)",
                          xwhat, x->shape[1], SBP_DATASET_MAX_CH);
            goto fail;
        }
    } else if (x->ndim == 5) {
        if (x->dtype != SBP_NPY_U1 && x->dtype != SBP_NPY_I1 && x->dtype != SBP_NPY_BOOL) {
            st = sbp_fail(err, SBP_ERR_UNSUPPORTED,
                          "%s: spike trains (N, T, C, H, W) must be uint8, int8 or bool, got %s",
                          xwhat, sbp_npy_dtype_name(x->dtype));
            goto fail;
        }
        spikes = 1;
        if (x->shape[1] > 100000) {
            st = sbp_fail(err, SBP_ERR_UNSUPPORTED, "%s: %zu time steps is absurd", xwhat,
                          x->shape[1]);
            goto fail;
        }
        T = (int)x->shape[1];
        c = (int)x->shape[2];
        h = (int)x->shape[3];
        w = (int)x->shape[4];
        if (x->shape[2] > SBP_DATASET_MAX_CH) {
            st = sbp_fail(err, SBP_ERR_UNSUPPORTED,
                          "%s: %zu channels in shape (N, T, C, H, W); at most %d are supported",
                          xwhat, x->shape[2], SBP_DATASET_MAX_CH);
            goto fail;
        }
    } else {
        st = sbp_fail(err, SBP_ERR_SHAPE,
                      "%s: %d dimensions; expected images (N, H, W) or (N, C, H, W) of uint8, or "
                      "spike trains (N, T, C, H, W)",
                      xwhat, x->ndim);
        goto fail;
    }
    if (c < 1 || h < 1 || w < 1 || T < 0 || (spikes && T < 1) || x->shape[x->ndim - 1] > INT_MAX ||
        x->shape[x->ndim - 2] > INT_MAX) {
        st = sbp_fail(err, SBP_ERR_SHAPE,
                      "%s: a sample dimension is 0 or too large (each must be 1 … %d)", xwhat,
                      INT_MAX);
        goto fail;
    }
    if (spikes) { /* values −1 … 1; uint8 and bool hold 0/1 */
        uint8_t *b = x->data;
        for (size_t i = 0; i < x->count; i++) {
            int v = x->dtype == SBP_NPY_I1 ? (int8_t)b[i] : b[i];
            if (v < -1 || v > 1) {
                st = sbp_fail(err, SBP_ERR_FORMAT,
                              "%s: spike value %d at flat index %zu; spikes must be -1, 0 or 1",
                              xwhat, v, i);
                goto fail;
            }
        }
    }
    ds = calloc(1, sizeof *ds);
    if (!ds) {
        st = sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory for the dataset record", xwhat);
        goto fail;
    }
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->classes = classes;
    ds->labels = labels;
    labels = NULL;
    if (spikes) {
        ds->timesteps = T;
        ds->spikes = x->data; /* one byte per value: adopted as int8 as is */
    } else {
        ds->pixels = x->data;
    }
    x->data = NULL;
    for (int i = 0; i < SBP_DATASET_MAX_CH; i++) {
        ds->mean[i] = 0.0f;
        ds->std[i] = 1.0f;
    }
    /* images: x = pixel/255 with gain 1/2 (the MNIST encoding of §1) unless the caller sets
     * another with sbp_dataset_set_encoding; spike trains ignore the encoding */
    ds->gain = spikes ? 1.0f : 0.5f;
    sbp_npy_array_free(x);
    sbp_npy_array_free(y);
    *out = ds;
    return SBP_OK;
fail:
    free(labels);
    sbp_npy_array_free(x);
    sbp_npy_array_free(y);
    return st;
}

sbp_status sbp_dataset_load_npy(sbp_dataset **out, const char *data_path, const char *labels_path,
                                sbp_error *err)
{
    if (!out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load npy: out pointer is NULL");
    *out = NULL;
    if (!data_path || !labels_path)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load npy: data and labels paths must be set");
    sbp_npy_array x, y;
    memset(&y, 0, sizeof y);
    sbp_status st = sbp_npy_read(&x, data_path, err);
    if (st != SBP_OK)
        return st;
    st = sbp_npy_read(&y, labels_path, err);
    if (st != SBP_OK) {
        sbp_npy_array_free(&x);
        return st;
    }
    return dataset_from_arrays(out, &x, &y, data_path, labels_path, err);
}

sbp_status sbp_dataset_load_npz(sbp_dataset **out, const char *path, const char *x_name,
                                const char *y_name, sbp_error *err)
{
    if (!out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load npz: out pointer is NULL");
    *out = NULL;
    if (!path)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load npz: path must be set");
    if (!x_name)
        x_name = "x";
    if (!y_name)
        y_name = "y";
    sbp_npy_array x, y;
    memset(&y, 0, sizeof y);
    sbp_status st = sbp_npz_read(&x, path, x_name, err);
    if (st != SBP_OK)
        return st;
    st = sbp_npz_read(&y, path, y_name, err);
    if (st != SBP_OK) {
        sbp_npy_array_free(&x);
        return st;
    }
    size_t pl = strlen(path) + 8;
    char *xw = malloc(pl + strlen(x_name)), *yw = malloc(pl + strlen(y_name));
    if (!xw || !yw) {
        free(xw);
        free(yw);
        sbp_npy_array_free(&x);
        sbp_npy_array_free(&y);
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory", path);
    }
    sprintf(xw, "%s[%s]", path, x_name);
    sprintf(yw, "%s[%s]", path, y_name);
    st = dataset_from_arrays(out, &x, &y, xw, yw, err);
    free(xw);
    free(yw);
    return st;
}
