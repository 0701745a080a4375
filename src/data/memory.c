/*
 * memory.c — a labelled data set from arrays the caller already holds (the Python binding's
 * numpy arrays, generated data): images (n, c, h, w) uint8 or spike trains (n, T, c, h, w)
 * int8, copied or borrowed. Borrowing costs no copy of a large array; the data set then only
 * points at the caller's memory and sbp_dataset_free leaves it alone (dataset.c).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/dataset.h"

sbp_status sbp_dataset_from_memory(sbp_dataset **out, const void *data, const uint8_t *labels,
                                   size_t n, int timesteps, int c, int h, int w, int classes,
                                   sbp_memory mode, sbp_error *err)
{
    if (!out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "data from memory: out pointer is NULL");
    *out = NULL;
    if (!data || !labels)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "data from memory: the %s array is NULL", !data ? "data" : "labels");
    if (mode != SBP_MEMORY_COPY && mode != SBP_MEMORY_BORROW)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "data from memory: ownership mode %d is neither copy nor borrow",
                        (int)mode);
    if (n == 0)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "data from memory: no samples (a data set needs at least one)");
    if (c < 1 || c > SBP_DATASET_MAX_CH)
        return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                        "data from memory: %d channels; between 1 and %d are supported", c,
                        SBP_DATASET_MAX_CH);
    if (h < 1 || w < 1 || timesteps < 0 || timesteps > 100000)
        return sbp_fail(err, SBP_ERR_SHAPE,
                        "data from memory: sample shape T %d, %dx%d is not valid (T ≥ 0, size "
                        "≥ 1)",
                        timesteps, h, w);
    if (classes < 0 || classes > 256)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "data from memory: %d classes; between 1 and 256 are supported (0: from "
                        "the labels)",
                        classes);
    /* per-sample bytes, checked against overflow factor by factor */
    size_t per = (size_t)c;
    const size_t factors[3] = {(size_t)h, (size_t)w, timesteps > 0 ? (size_t)timesteps : 1};
    for (int k = 0; k < 3; k++) {
        if (per > SIZE_MAX / factors[k])
            return sbp_fail(err, SBP_ERR_SHAPE, "data from memory: sample size overflows");
        per *= factors[k];
    }
    if (n > SIZE_MAX / per)
        return sbp_fail(err, SBP_ERR_SHAPE, "data from memory: %zu samples of %zu bytes overflow",
                        n, per);
    const size_t bytes = n * per;

    int maxl = 0;
    for (size_t i = 0; i < n; i++) {
        if (classes > 0 && labels[i] >= classes)
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "data from memory: label %d at index %zu is outside 0 … %d", labels[i],
                            i, classes - 1);
        if (labels[i] > maxl)
            maxl = labels[i];
    }
    if (classes == 0)
        classes = maxl + 1 < 2 ? 2 : maxl + 1;
    if (timesteps > 0) {
        const int8_t *s = data;
        for (size_t i = 0; i < bytes; i++)
            if (s[i] < -1 || s[i] > 1)
                return sbp_fail(err, SBP_ERR_INVALID_ARG,
                                "data from memory: spike value %d at flat index %zu (sample %zu); "
                                "spikes must be -1, 0 or 1",
                                s[i], i, i / per);
    }

    sbp_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return sbp_fail(err, SBP_ERR_NOMEM, "data from memory: out of memory for the record");
    uint8_t *bytes_at = (uint8_t *)(uintptr_t)data, *labels_at = (uint8_t *)(uintptr_t)labels;
    if (mode == SBP_MEMORY_COPY) {
        bytes_at = malloc(bytes);
        labels_at = malloc(n);
        if (!bytes_at || !labels_at) {
            free(bytes_at);
            free(labels_at);
            free(ds);
            return sbp_fail(err, SBP_ERR_NOMEM,
                            "data from memory: out of memory for a copy of %zu samples (%zu bytes)",
                            n, bytes);
        }
        memcpy(bytes_at, data, bytes);
        memcpy(labels_at, labels, n);
    }
    /* The library never writes into a data set's arrays (augmentation and encoding read them
     * into per-thread scratch), so the const casts above only serve the shared struct. */
    ds->borrowed = mode == SBP_MEMORY_BORROW;
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->classes = classes;
    ds->labels = labels_at;
    if (timesteps > 0) {
        ds->timesteps = timesteps;
        ds->spikes = (int8_t *)bytes_at;
    } else {
        ds->pixels = bytes_at;
    }
    for (int i = 0; i < SBP_DATASET_MAX_CH; i++) {
        ds->mean[i] = 0.0f;
        ds->std[i] = 1.0f;
    }
    ds->gain = timesteps > 0 ? 1.0f : 0.5f; /* the .npy images' encoding (numpy.c) */
    *out = ds;
    return SBP_OK;
}
