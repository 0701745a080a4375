/*
 * svhn.c — SVHN cropped digits (Netzer et al. 2011, http://ufldl.stanford.edu/housenumbers/):
 * train_32x32.mat (73,257 images) and test_32x32.mat (26,032), MATLAB v5 files read with
 * libmatio. Variables: X, uint8 of size 32×32×3×N indexed X(row, col, channel, n), and y, N×1,
 * labels 1 … 10 where 10 stands for the digit 0.
 *
 * MATLAB stores arrays column-major: the first index varies fastest, so element
 * X(row, col, ch, n) (0-based here) sits at row + 32·col + 1024·ch + 3072·n. The loader
 * transposes into sbp_dataset's row-major (n, c, h, w) = (n, ch, row, col), and maps label 10
 * to 0 so labels are the digits themselves.
 *
 * Encoding: SPEC gives no SVHN constants. The paper normalises per channel, so this loader
 * uses the per-channel mean and (population) standard deviation of pixel/255 over the loaded
 * file itself, with gain 1 (signed spikes, as CIFAR-10 in §1). A constant channel gets std 1.
 * The caller may override it with sbp_dataset_set_encoding (e.g. to reuse the training set's
 * statistics for the test set).
 *
 * libmatio reports problems through a process-wide log function that prints to stderr by
 * default; since the library never prints, this file installs a silent one that keeps the last
 * message (per thread) to quote in our own errors. Not done: extra_32x32.mat is the same format
 * and loads, but nothing here merges files; the "full numbers" (format 1) version is not read.
 */
#include <errno.h>
#include <math.h>
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "data/dataset.h"

#define SVHN_SIDE 32
#define SVHN_CH 3
#define SVHN_PIXELS (SVHN_CH * SVHN_SIDE * SVHN_SIDE)
#define SVHN_CLASSES 10
#define SVHN_MAX_IMAGES ((size_t)1 << 24) /* 16.7 M images (51 GB): refuse absurd headers */

static _Thread_local char matio_last[256]; /* matio's last message on this thread */

static void matio_log(int level, char *message)
{
    (void)level;
    const char *m = message ? message : "";
    if (m[0] == '"') { /* matio quotes the path first; our messages name it already */
        const char *q = strstr(m + 1, "\" ");
        if (q)
            m = q + 2;
    }
    snprintf(matio_last, sizeof matio_last, "%s", m);
}

static const char *class_name(enum matio_classes c)
{
    static const char *const names[] = {
        "empty", "cell",  "struct", "object", "char",   "sparse", "double", "single",   "int8",
        "uint8", "int16", "uint16", "int32",  "uint32", "int64",  "uint64", "function", "opaque"};
    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "unknown";
}

static void dims_text(const matvar_t *v, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int i = 0; i < v->rank && i < 8; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, size - l, "%s%zu", i ? "×" : "", v->dims[i]);
    }
}

/* The names of the file's variables, for a "missing variable" message. */
static void list_vars(mat_t *mat, char *buf, size_t size)
{
    buf[0] = '\0';
    Mat_Rewind(mat);
    matvar_t *v;
    int k = 0;
    while ((v = Mat_VarReadNextInfo(mat)) != NULL && k < 16) {
        size_t l = strlen(buf);
        snprintf(buf + l, size - l, "%s%s", k++ ? ", " : "", v->name ? v->name : "?");
        Mat_VarFree(v);
    }
    if (v)
        Mat_VarFree(v);
    if (!buf[0])
        snprintf(buf, size, "none");
}

/* Label value i of y (any real numeric class) as a double. */
static double y_value(const matvar_t *y, size_t i)
{
    const void *d = y->data;
    switch (y->class_type) {
    case MAT_C_DOUBLE:
        return ((const double *)d)[i];
    case MAT_C_SINGLE:
        return ((const float *)d)[i];
    case MAT_C_INT8:
        return ((const int8_t *)d)[i];
    case MAT_C_UINT8:
        return ((const uint8_t *)d)[i];
    case MAT_C_INT16:
        return ((const int16_t *)d)[i];
    case MAT_C_UINT16:
        return ((const uint16_t *)d)[i];
    case MAT_C_INT32:
        return ((const int32_t *)d)[i];
    case MAT_C_UINT32:
        return ((const uint32_t *)d)[i];
    case MAT_C_INT64:
        return (double)((const int64_t *)d)[i];
    case MAT_C_UINT64:
        return (double)((const uint64_t *)d)[i];
    default:
        return NAN;
    }
}

static int numeric_class(enum matio_classes c)
{
    return c >= MAT_C_DOUBLE && c <= MAT_C_UINT64;
}

sbp_status sbp_dataset_load_svhn(sbp_dataset **out, const char *path, sbp_error *err)
{
    if (!out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load svhn: out pointer is NULL");
    *out = NULL;
    if (!path)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load svhn: path is NULL");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sbp_fail(err, SBP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return sbp_fail(err, SBP_ERR_IO, "%s: not a regular file", path);

    Mat_LogInitFunc("spikebp", matio_log);
    matio_last[0] = '\0';
    mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!mat)
        return sbp_fail(err, SBP_ERR_FORMAT, "%s: not a MATLAB MAT file%s%s%s", path,
                        matio_last[0] ? " (matio: " : "", matio_last, matio_last[0] ? ")" : "");
    sbp_status st = SBP_OK;
    matvar_t *xi = NULL, *yi = NULL, *x = NULL, *y = NULL;
    sbp_dataset *ds = NULL;
    if (Mat_GetVersion(mat) == MAT_FT_MAT4) {
        /* matio falls back to headerless v4 for anything without a v5 header */
        st =
            sbp_fail(err, SBP_ERR_FORMAT,
                     "%s: not a MATLAB v5 or v7.3 file (no MAT header; SVHN's files are v5)", path);
        goto done;
    }
    char names[256], dims[96];
    xi = Mat_VarReadInfo(mat, "X");
    yi = xi ? Mat_VarReadInfo(mat, "y") : NULL;
    if (!xi || !yi) {
        list_vars(mat, names, sizeof names);
        st = sbp_fail(err, SBP_ERR_FORMAT,
                      "%s: no variable '%s' (SVHN files hold X and y; this one holds: %s)", path,
                      xi ? "y" : "X", names);
        goto done;
    }
    /* X: uint8, 32×32×3×N (a one-image file saved by MATLAB drops the trailing 1: 32×32×3) */
    dims_text(xi, dims, sizeof dims);
    if (xi->class_type != MAT_C_UINT8 || xi->isComplex) {
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: X is %s%s; SVHN's X is uint8", path,
                      xi->isComplex ? "complex " : "", class_name(xi->class_type));
        goto done;
    }
    if (!(xi->rank == 4 || xi->rank == 3) || xi->dims[0] != SVHN_SIDE || xi->dims[1] != SVHN_SIDE ||
        xi->dims[2] != SVHN_CH || (xi->rank == 4 && xi->dims[3] == 0)) {
        st = sbp_fail(err, SBP_ERR_FORMAT,
                      "%s: X has size %s; SVHN's X is 32×32×3×N (row, column, channel, image)",
                      path, dims);
        goto done;
    }
    const size_t n = xi->rank == 4 ? xi->dims[3] : 1;
    /* deflate compresses at most 1032:1, so a file cannot hold more than that many bytes */
    if (n > SVHN_MAX_IMAGES || (double)n * SVHN_PIXELS > 1032.0 * (double)sb.st_size) {
        st = sbp_fail(err, SBP_ERR_FORMAT,
                      "%s: X claims %zu images, more than a %lld-byte file can hold; refusing "
                      "an absurd file",
                      path, n, (long long)sb.st_size);
        goto done;
    }
    /* y: N×1 (or 1×N) of a real numeric class */
    dims_text(yi, dims, sizeof dims);
    if (!numeric_class(yi->class_type) || yi->isComplex) {
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: y is %s%s; expected numeric labels 1 … 10", path,
                      yi->isComplex ? "complex " : "", class_name(yi->class_type));
        goto done;
    }
    if (yi->rank != 2 ||
        !((yi->dims[0] == n && yi->dims[1] == 1) || (yi->dims[0] == 1 && yi->dims[1] == n))) {
        st = sbp_fail(err, SBP_ERR_FORMAT,
                      "%s: y has size %s but X holds %zu images (y must be "
                      "%zu×1)",
                      path, dims, n, n);
        goto done;
    }

    /* shapes are right: now read the data */
    x = Mat_VarRead(mat, "X");
    y = x ? Mat_VarRead(mat, "y") : NULL;
    if (!x || !y || !x->data || !y->data || x->class_type != MAT_C_UINT8 ||
        Mat_VarGetSize(x) < n * SVHN_PIXELS) {
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: cannot read %s%s%s%s", path, !x ? "X" : "y",
                      matio_last[0] ? " (matio: " : " (truncated or corrupt?)",
                      matio_last[0] ? matio_last : "", matio_last[0] ? ")" : "");
        goto done;
    }
    st = sbp_dataset_alloc(&ds, n, SVHN_CH, SVHN_SIDE, SVHN_SIDE, SVHN_CLASSES, err);
    if (st != SBP_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        double v = y_value(y, i);
        if (!(v >= 1.0 && v <= 10.0) || v != floor(v)) {
            st = sbp_fail(err, SBP_ERR_FORMAT,
                          "%s: y(%zu) = %g; SVHN labels are 1 … 10 (10 = "
                          "digit 0)",
                          path, i + 1, v);
            goto done;
        }
        ds->labels[i] = (uint8_t)((int)v % 10); /* 10 → 0: labels are the digits */
    }
    /* column-major X(row, col, ch, n) → row-major (n, ch, row, col) */
    const uint8_t *src = x->data;
    double sum[SVHN_CH] = {0}, sq[SVHN_CH] = {0};
    for (size_t i = 0; i < n; i++) {
        uint8_t *dst = ds->pixels + i * SVHN_PIXELS;
        const uint8_t *img = src + i * SVHN_PIXELS;
        for (int ch = 0; ch < SVHN_CH; ch++) {
            uint64_t s = 0, q = 0;
            for (int col = 0; col < SVHN_SIDE; col++)
                for (int row = 0; row < SVHN_SIDE; row++) {
                    uint8_t p = img[row + SVHN_SIDE * col + SVHN_SIDE * SVHN_SIDE * ch];
                    dst[(ch * SVHN_SIDE + row) * SVHN_SIDE + col] = p;
                    s += p;
                    q += (uint64_t)p * p;
                }
            sum[ch] += (double)s;
            sq[ch] += (double)q;
        }
    }
    float mean[SVHN_CH], std[SVHN_CH];
    const double count = (double)n * SVHN_SIDE * SVHN_SIDE;
    for (int ch = 0; ch < SVHN_CH; ch++) {
        double m = sum[ch] / count / 255.0;
        double var = sq[ch] / count / (255.0 * 255.0) - m * m;
        double sd = var > 0 ? sqrt(var) : 0.0;
        mean[ch] = (float)m;
        std[ch] = sd > 1e-6 ? (float)sd : 1.0f; /* a constant channel: x = pixel/255 − mean */
    }
    st = sbp_dataset_set_encoding(ds, mean, std, 1.0f, err);

done:
    Mat_VarFree(xi);
    Mat_VarFree(yi);
    Mat_VarFree(x);
    Mat_VarFree(y);
    Mat_Close(mat);
    if (st != SBP_OK) {
        sbp_dataset_free(ds);
        return st;
    }
    *out = ds;
    return SBP_OK;
}
