/*
 * cifar.c — the CIFAR-10 binary version (https://www.cs.toronto.edu/~kriz/cifar.html): files of
 * 3,073-byte records, one label byte 0–9 followed by 3,072 pixel bytes — the 32×32 red plane,
 * then green, then blue, each row-major. That is already the (C, H, W) layout of sbp_dataset,
 * so a record's pixels are copied as they are.
 *
 * Sets the CIFAR-10 encoding of §1: x = (pixel/255 − mean[c]) / std[c] with mean (0.4914,
 * 0.4822, 0.4465), std (0.557, 0.549, 0.5534), gain 1, so spikes are signed. Augmentation
 * (crop 32 with padding 4, horizontal flip) belongs to the training split only and is switched
 * on by the caller (sbp_dataset_set_augment), never here.
 *
 * A file is hostile input: its size must be a nonzero multiple of 3,073 (checked before any
 * allocation), every label must be 0–9, and a file that changes size while read is an error.
 * Not read here: the Python pickle version and CIFAR-100 (3,074-byte records, recognised only
 * to say so).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/file.h"
#include "data/dataset.h"

#define CIFAR_SIDE 32
#define CIFAR_CH 3
#define CIFAR_PIXELS (CIFAR_CH * CIFAR_SIDE * CIFAR_SIDE) /* 3,072 */
#define CIFAR_RECORD (1 + CIFAR_PIXELS)                   /* 3,073 */
#define CIFAR_CLASSES 10
#define CIFAR_CHUNK 256 /* records per read */

/* What a file of the wrong size probably is. */
static const char *size_hint(const char *path, long long size)
{
    FILE *f = fopen(path, "rb");
    unsigned char b[4] = {0};
    size_t got = f ? fread(b, 1, sizeof b, f) : 0;
    if (f)
        fclose(f);
    if (got >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return " — it is gzip-compressed: extract cifar-10-binary.tar.gz first";
    if (got >= 2 && b[0] == 0x80 && b[1] <= 5)
        return " — it looks like a Python pickle (the python version); the binary version "
               "(cifar-10-binary.tar.gz) is needed";
    if (size > 0 && size % (CIFAR_RECORD + 1) == 0)
        return " — 3,074-byte records are CIFAR-100 (coarse and fine label), not CIFAR-10";
    return "";
}

sbp_status sbp_dataset_load_cifar10_files(sbp_dataset **out, const char *const *paths,
                                          size_t n_paths, sbp_error *err)
{
    if (!out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load cifar10: out pointer is NULL");
    *out = NULL;
    if (!paths || n_paths == 0)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load cifar10: no files given");

    /* sizes first: every file must be whole records, and nothing is allocated before */
    size_t total = 0;
    for (size_t i = 0; i < n_paths; i++) {
        struct stat sb;
        if (!paths[i])
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "load cifar10: path %zu is NULL", i);
        if (stat(paths[i], &sb) != 0)
            return sbp_fail(err, SBP_ERR_IO, "%s: cannot open: %s", paths[i], strerror(errno));
        if (!S_ISREG(sb.st_mode))
            return sbp_fail(err, SBP_ERR_IO, "%s: not a regular file", paths[i]);
        long long size = (long long)sb.st_size;
        if (size == 0 || size % CIFAR_RECORD != 0)
            return sbp_fail(err, SBP_ERR_FORMAT,
                            "%s: %lld bytes is not a whole number of CIFAR-10 records (3,073 "
                            "bytes each: a label byte and 3,072 pixel bytes)%s",
                            paths[i], size, size_hint(paths[i], size));
        total += (size_t)(size / CIFAR_RECORD);
    }

    sbp_dataset *ds = NULL;
    sbp_status st =
        sbp_dataset_alloc(&ds, total, CIFAR_CH, CIFAR_SIDE, CIFAR_SIDE, CIFAR_CLASSES, err);
    if (st != SBP_OK)
        return st;
    uint8_t *buf = malloc((size_t)CIFAR_CHUNK * CIFAR_RECORD);
    if (!buf) {
        sbp_dataset_free(ds);
        return sbp_fail(err, SBP_ERR_NOMEM, "load cifar10: out of memory for the read buffer");
    }
    size_t at = 0; /* images stored so far */
    for (size_t i = 0; i < n_paths && st == SBP_OK; i++) {
        FILE *f;
        long long fsize;
        st = sbp_open_regular(paths[i], &f, &fsize, err); /* not a FIFO: it would block */
        if (st != SBP_OK)
            break;
        size_t rec = 0; /* record index within this file */
        for (;;) {
            size_t got = fread(buf, 1, (size_t)CIFAR_CHUNK * CIFAR_RECORD, f);
            if (ferror(f)) {
                st = sbp_fail(err, SBP_ERR_IO, "%s: read failed: %s", paths[i], strerror(errno));
                break;
            }
            if (got % CIFAR_RECORD != 0 || at + got / CIFAR_RECORD > total) {
                st = sbp_fail(err, SBP_ERR_IO, "%s: the file changed size while being read",
                              paths[i]);
                break;
            }
            for (size_t k = 0; k < got / CIFAR_RECORD; k++, rec++, at++) {
                const uint8_t *r = buf + k * CIFAR_RECORD;
                if (r[0] >= CIFAR_CLASSES) {
                    st = sbp_fail(err, SBP_ERR_FORMAT,
                                  "%s: record %zu has label %u; CIFAR-10 labels are 0 … 9",
                                  paths[i], rec, r[0]);
                    break;
                }
                ds->labels[at] = r[0];
                memcpy(ds->pixels + at * CIFAR_PIXELS, r + 1, CIFAR_PIXELS);
            }
            if (st != SBP_OK || got < (size_t)CIFAR_CHUNK * CIFAR_RECORD)
                break;
        }
        fclose(f);
    }
    free(buf);
    if (st == SBP_OK && at != total)
        st = sbp_fail(err, SBP_ERR_IO,
                      "%s: the files changed size while being read (%zu of %zu "
                      "records)",
                      paths[n_paths - 1], at, total);
    if (st == SBP_OK) {
        static const float mean[CIFAR_CH] = {0.4914f, 0.4822f, 0.4465f};
        static const float std[CIFAR_CH] = {0.557f, 0.549f, 0.5534f};
        st = sbp_dataset_set_encoding(ds, mean, std, 1.0f, err); /* §1 */
    }
    if (st != SBP_OK) {
        sbp_dataset_free(ds);
        return st;
    }
    *out = ds;
    return SBP_OK;
}

sbp_status sbp_dataset_load_cifar10(sbp_dataset **out, const char *path, sbp_error *err)
{
    return sbp_dataset_load_cifar10_files(out, &path, 1, err);
}
