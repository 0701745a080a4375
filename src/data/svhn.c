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
 * and loads, but nothing here merges files; the "full numbers" (format 1) version is not read;
 * MATLAB v7.3 (HDF5) files are refused (check_v5_header).
 */
#include <errno.h>
#include <math.h>
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

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

#define MAT5_MAX_DIM_BYTES 256u /* 64 dimensions */
#define MAT5_MAX_NAME_BYTES 4096u

static uint32_t mat5_u32(const unsigned char *b, int swap)
{
    return swap ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
                : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

/* Checks the start of one variable's matrix element (the n bytes at b: array flags, dimensions
 * and name sub-elements) for what libmatio trusts without checking: it allocates and inflates
 * as many bytes as the dimensions' and the name's byte counts say (a 166-byte file made it
 * allocate 5.5 GB; fuzz/regressions/svhn), and parses cells and structs recursively with the
 * same code. Only numeric and char variables with at most 64 dimensions and names under 4 kB
 * pass; anything matio itself rejects (wrong sub-element types, short data) is left to it, and
 * each check is made as soon as the bytes it needs are there. */
static sbp_status check_var_head(const unsigned char *b, size_t n, int swap, const char *path,
                                 long long at, sbp_error *err)
{
    if (n < 12)
        return SBP_OK;
    const unsigned cls = mat5_u32(b + 8, swap) & 0xffu;
    if (cls == MAT_C_CELL || cls == MAT_C_STRUCT || cls == MAT_C_OBJECT || cls > MAT_C_UINT64)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: the variable at byte %lld is a %s; SVHN files hold only numeric "
                        "arrays",
                        path, at, class_name((enum matio_classes)cls));
    if (n < 24)
        return SBP_OK;
    const uint32_t dtag = mat5_u32(b + 16, swap), dbytes = mat5_u32(b + 20, swap);
    if ((dtag & 0xffffu) != MAT_T_INT32)
        return SBP_OK;
    if ((dtag >> 16) != 0 || dbytes > MAT5_MAX_DIM_BYTES || dbytes % 4 != 0)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: the variable at byte %lld has a corrupt dimensions header (%u "
                        "bytes of dimensions)",
                        path, at, (unsigned)dbytes);
    const size_t name_at = 24 + (dbytes + 7u) / 8u * 8u;
    if (n < name_at + 8)
        return SBP_OK;
    const uint32_t ntag = mat5_u32(b + name_at, swap), nbytes = mat5_u32(b + name_at + 4, swap);
    if ((ntag >> 16) == 0 && nbytes > MAT5_MAX_NAME_BYTES)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: the variable at byte %lld has a corrupt name header (%u bytes)",
                        path, at, (unsigned)nbytes);
    return SBP_OK;
}

/* Bytes per element of a MAT v5 numeric data type; 0 for the others. */
static unsigned mat5_type_size(uint32_t t)
{
    switch (t) {
    case MAT_T_INT8: case MAT_T_UINT8: return 1;
    case MAT_T_INT16: case MAT_T_UINT16: return 2;
    case MAT_T_INT32: case MAT_T_UINT32: case MAT_T_SINGLE: return 4;
    case MAT_T_DOUBLE: case MAT_T_INT64: case MAT_T_UINT64: return 8;
    default: return 0;
    }
}

/* Declared against actual size of one numeric variable: b holds the first n bytes of its
 * matrix element (after the element's tag), `body` the bytes the element really has. libmatio
 * allocates the product of the dimensions and fills only what the data sub-element holds, so a
 * short one would leave uninitialised pixels (valgrind). The data sub-element must hold exactly
 * the declared elements, and fit in the variable. Checked as far as b reaches. */
static sbp_status check_var_data(const unsigned char *b, size_t n, unsigned long long body,
                                 long long file_size, int swap, const char *path, long long at,
                                 sbp_error *err)
{
    if (n < 24 || (mat5_u32(b + 16, swap) & 0xffffu) != MAT_T_INT32)
        return SBP_OK;
    const uint32_t dbytes = mat5_u32(b + 20, swap); /* ≤ 256, checked by check_var_head */
    const size_t name_at = 24 + (dbytes + 7u) / 8u * 8u;
    if (n < name_at + 8)
        return SBP_OK;
    unsigned long long elems = 1;
    char dims[128] = "";
    for (uint32_t k = 0; k < dbytes / 4; k++) {
        uint32_t d = mat5_u32(b + 24 + 4 * k, swap);
        elems = elems > 0 && d > (1ull << 62) / elems ? (1ull << 62) : elems * d;
        size_t l = strlen(dims);
        snprintf(dims + l, sizeof dims - l, "%s%u", k ? "×" : "", (unsigned)d);
    }
    const uint32_t ntag = mat5_u32(b + name_at, swap);
    const size_t data_at = (ntag >> 16) ? name_at + 8 /* small element: name in the tag */
                                        : name_at + 8 + (mat5_u32(b + name_at + 4, swap) + 7u) / 8u * 8u;
    if (n < data_at + 8)
        return SBP_OK;
    const uint32_t dtag = mat5_u32(b + data_at, swap);
    const int small = (dtag >> 16) != 0;
    const uint32_t type = small ? dtag & 0xffffu : dtag;
    const unsigned long long have = small ? dtag >> 16 : mat5_u32(b + data_at + 4, swap);
    const unsigned size = mat5_type_size(type);
    if (!size)
        return SBP_OK; /* char and other kinds: matio reads them, SVHN's checks refuse them */
    const unsigned long long want = elems * size;
    if ((double)want > 1032.0 * (double)file_size)
        return SBP_OK; /* more than any file of this size holds: the loader says so, by name */
    if (have != want)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: the variable at byte %lld declares size %s (%llu bytes of data) "
                        "but its data holds %llu bytes",
                        path, at, dims, want, have);
    if (!small && data_at + 8 + have > body)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: the variable at byte %lld declares %llu bytes of data but the file "
                        "holds only %llu (truncated?)",
                        path, at, have, body > data_at + 8 ? body - data_at - 8 : 0);
    return SBP_OK;
}

/* Walks the top-level data elements after the 128-byte header as matio does (8-byte tag: type
 * in the low byte, byte count; miMATRIX padded to 8 bytes, miCOMPRESSED not) and checks the
 * head of each variable, inflating the first bytes of a compressed one. */
static sbp_status check_v5_variables(FILE *f, long long size, int swap, const char *path,
                                     sbp_error *err)
{
    /* inner tag + flags + dims + name + data tag */
    enum { HEAD = 8 + 24 + MAT5_MAX_DIM_BYTES + 8 + MAT5_MAX_NAME_BYTES + 8 };
    unsigned char tag[8], buf[HEAD], zin[4096], zout[16384];
    sbp_status st = SBP_OK;
    for (long long at = 128; st == SBP_OK && at + 8 <= size;) {
        if (fseeko(f, (off_t)at, SEEK_SET) != 0 || fread(tag, 1, 8, f) != 8)
            break;
        const uint32_t type = mat5_u32(tag, swap) & 0xffu, len = mat5_u32(tag + 4, swap);
        long long next = at + 8 + (long long)len;
        if (type == MAT_T_MATRIX) {
            size_t n = fread(buf + 8, 1, len < HEAD - 8 ? len : HEAD - 8, f);
            st = check_var_head(buf + 8, n, swap, path, at, err);
            const long long body = size - (at + 8) < (long long)len ? size - (at + 8) : len;
            if (st == SBP_OK)
                st = check_var_data(buf + 8, n, (unsigned long long)body, size, swap, path, at,
                                    err);
            if (len % 8)
                next += 8 - len % 8;
        } else if (type == MAT_T_COMPRESSED) {
            z_stream z;
            memset(&z, 0, sizeof z);
            if (inflateInit(&z) != Z_OK)
                return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory for zlib", path);
            z.next_out = buf;
            z.avail_out = HEAD;
            /* up to the end of the file, not of the element: matio may read on, too */
            long long left = size - (at + 8);
            int zr = Z_OK;
            while (z.avail_out > 0 && left > 0 && zr == Z_OK) {
                size_t k = fread(zin, 1, left < (long long)sizeof zin ? (size_t)left : sizeof zin, f);
                if (k == 0)
                    break;
                left -= (long long)k;
                z.next_in = zin;
                z.avail_in = (uInt)k;
                zr = inflate(&z, Z_NO_FLUSH);
                if (zr == Z_BUF_ERROR)
                    zr = Z_OK;
            }
            const size_t n = HEAD - z.avail_out;
            /* the rest of the stream, counted (not kept): the variable's actual size */
            unsigned long long total = n;
            while (left > 0 || z.avail_in > 0) {
                if (zr != Z_OK)
                    break;
                if (z.avail_in == 0) {
                    size_t k = fread(zin, 1, left < (long long)sizeof zin ? (size_t)left
                                                                          : sizeof zin, f);
                    if (k == 0)
                        break;
                    left -= (long long)k;
                    z.next_in = zin;
                    z.avail_in = (uInt)k;
                }
                z.next_out = zout;
                z.avail_out = sizeof zout;
                zr = inflate(&z, Z_NO_FLUSH);
                if (zr == Z_BUF_ERROR)
                    zr = Z_OK;
                total += sizeof zout - z.avail_out;
            }
            inflateEnd(&z);
            if (n >= 8 && mat5_u32(buf, swap) == MAT_T_MATRIX) {
                st = check_var_head(buf + 8, n - 8, swap, path, at, err);
                if (st == SBP_OK)
                    st = check_var_data(buf + 8, n - 8, total - 8, size, swap, path, at, err);
            }
        }
        at = next;
    }
    return st;
}

/* SVHN's files are MATLAB v5, and anything else is refused before libmatio sees it: a v7.3
 * file is HDF5, and libhdf5 reads out of bounds and crashes on corrupt ones (found by
 * fuzz/fuzz_svhn.c; fuzz/regressions/svhn), while a file without a v5 header would be parsed
 * as headerless v4. A v5 header is 116 bytes of text, an 8-byte subsystem offset, the version
 * 0x0100 and the endian indicator "IM" (written little-endian) or "MI". The variables are
 * then checked by check_v5_variables. */
static sbp_status check_v5_header(const char *path, long long size, sbp_error *err)
{
    unsigned char h[128];
    FILE *f = fopen(path, "rb");
    if (!f)
        return sbp_fail(err, SBP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(h, 1, sizeof h, f);
    const int le = got == sizeof h && h[126] == 'I' && h[127] == 'M';
    const int be = got == sizeof h && h[126] == 'M' && h[127] == 'I';
    const unsigned version = le ? (unsigned)h[124] | (unsigned)h[125] << 8
                                : (unsigned)h[124] << 8 | (unsigned)h[125];
    sbp_status st;
    if ((le || be) && version == 0x0100)
        st = check_v5_variables(f, size, be, path, err);
    else if ((le || be) && version == 0x0200)
        st = sbp_fail(err, SBP_ERR_UNSUPPORTED,
                      "%s: a MATLAB v7.3 (HDF5) file; SVHN's files are v5 and only v5 is read "
                      "(resave it with MATLAB's save(..., '-v7') or scipy.io.savemat)",
                      path);
    else
        st = sbp_fail(err, SBP_ERR_FORMAT,
                      "%s: not a MATLAB v5 MAT file (no v5 header; SVHN's files are v5)", path);
    fclose(f);
    return st;
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

    sbp_status hst = check_v5_header(path, (long long)sb.st_size, err);
    if (hst != SBP_OK)
        return hst;

    Mat_LogInitFunc("spikebp", matio_log);
    matio_last[0] = '\0';
    mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!mat)
        return sbp_fail(err, SBP_ERR_FORMAT, "%s: not a MATLAB MAT file%s%s%s", path,
                        matio_last[0] ? " (matio: " : "", matio_last, matio_last[0] ? ")" : "");
    sbp_status st = SBP_OK;
    matvar_t *xi = NULL, *yi = NULL, *x = NULL, *y = NULL;
    sbp_dataset *ds = NULL;
    if (Mat_GetVersion(mat) != MAT_FT_MAT5) { /* checked above; the file may have changed */
        st = sbp_fail(err, SBP_ERR_FORMAT,
                      "%s: not a MATLAB v5 MAT file (no v5 header; SVHN's files are v5)", path);
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
