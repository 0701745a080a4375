/*
 * npy.c — the NumPy .npy format (numpy.lib.format, see npy.h): the dtype table, the header
 * parser, the array reader over any byte source, the header numpy.save writes, and .npy files.
 * npz.c puts the same reader and header over zip members.
 *
 * A file is hostile input: the header is parsed as the small Python literal it must be (no
 * eval), every size is checked for overflow, a source's size (when known, as for a regular
 * file) is compared with the header before anything is allocated, and otherwise the buffer
 * grows only as data actually arrives (a 200-byte archive claiming 60 GiB costs nothing).
 *
 * Writing reproduces numpy.save byte for byte (numpy ≥ 1.17 header: sorted keys, 21 spare
 * spaces minus the digits of the first dimension, padding to 64 bytes), so a file written here
 * is indistinguishable from one NumPy wrote. Not done: memory mapping, appending, and the
 * dtypes npy.h lists as unsupported. This file knows nothing of data sets (src/data/numpy.c
 * builds those from the arrays).
 */
#include "formats/npy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER ((size_t)1 << 20) /* numpy itself refuses headers over 10 kB by default */
#define NPY_GROW_START ((size_t)4 << 20)
#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21          /* numpy's GROWTH_AXIS_MAX_DIGITS */

/* ---------------------------------------------------------------- dtypes */

static const struct {
    char kind;
    size_t size;
    const char *descr;
    const char *name;
} dtype_table[] = {
    [SBP_NPY_BOOL] = {'b', 1, "|b1", "bool"},  [SBP_NPY_I1] = {'i', 1, "|i1", "int8"},
    [SBP_NPY_U1] = {'u', 1, "|u1", "uint8"},   [SBP_NPY_I2] = {'i', 2, "<i2", "int16"},
    [SBP_NPY_U2] = {'u', 2, "<u2", "uint16"},  [SBP_NPY_I4] = {'i', 4, "<i4", "int32"},
    [SBP_NPY_U4] = {'u', 4, "<u4", "uint32"},  [SBP_NPY_I8] = {'i', 8, "<i8", "int64"},
    [SBP_NPY_U8] = {'u', 8, "<u8", "uint64"},  [SBP_NPY_F4] = {'f', 4, "<f4", "float32"},
    [SBP_NPY_F8] = {'f', 8, "<f8", "float64"},
};
_Static_assert(sizeof dtype_table / sizeof dtype_table[0] == SBP_NPY_DTYPE_COUNT,
               "one table row per sbp_npy_dtype");

#define NPY_SUPPORTED "bool, int8 … int64, uint8 … uint64, float32, float64"

const char *sbp_npy_dtype_descr(sbp_npy_dtype t)
{
    return (unsigned)t < SBP_NPY_DTYPE_COUNT ? dtype_table[t].descr : "?";
}

const char *sbp_npy_dtype_name(sbp_npy_dtype t)
{
    return (unsigned)t < SBP_NPY_DTYPE_COUNT ? dtype_table[t].name : "?";
}

size_t sbp_npy_dtype_size(sbp_npy_dtype t)
{
    return (unsigned)t < SBP_NPY_DTYPE_COUNT ? dtype_table[t].size : 0;
}

int sbp_npy_dtype_is_int(sbp_npy_dtype t)
{
    return (unsigned)t < SBP_NPY_DTYPE_COUNT &&
           (dtype_table[t].kind == 'i' || dtype_table[t].kind == 'u');
}

static int host_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Parses a descr such as "<f4" into *t. `what` names the file for messages. */
static sbp_status parse_descr(const char *what, const char *d, sbp_npy_dtype *t, sbp_error *err)
{
    size_t len = strlen(d);
    char order = len ? d[0] : 0;
    if (len < 3 || !strchr("<>|=", order) || d[1] == 0)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: dtype '%s' is not a NumPy type string (byte order, kind, size: '<f4')",
                        what, d);
    char kind = d[1];
    size_t size = 0;
    for (size_t i = 2; i < len; i++) {
        if (d[i] < '0' || d[i] > '9' || size > 1000)
            return sbp_fail(err, SBP_ERR_UNSUPPORTED, "%s: dtype '%s' is not supported (%s are)",
                            what, d, NPY_SUPPORTED);
        size = size * 10 + (size_t)(d[i] - '0');
    }
    int found = -1;
    for (int i = 0; i < SBP_NPY_DTYPE_COUNT; i++)
        if (dtype_table[i].kind == kind && dtype_table[i].size == size)
            found = i;
    if (found < 0)
        return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                        "%s: dtype '%s' is not supported (%s are); convert it in NumPy, e.g. "
                        "a.astype('<f4')",
                        what, d, NPY_SUPPORTED);
    if (size > 1) {
        if (order == '>')
            return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                            "%s: big-endian dtype '%s' is not supported; convert it in NumPy with "
                            "a.astype('<%c%zu')",
                            what, d, kind, size);
        if (order == '=')
            return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                            "%s: dtype '%s' has native byte order of an unknown machine; save it "
                            "with an explicit order, a.astype('<%c%zu')",
                            what, d, kind, size);
        if (order == '|')
            return sbp_fail(err, SBP_ERR_FORMAT,
                            "%s: dtype '%s': byte order '|' is only valid for one-byte types", what,
                            d);
    }
    *t = (sbp_npy_dtype)found;
    return SBP_OK;
}

/* ---------------------------------------------------------------- header parsing */

typedef struct hparse {
    const char *s; /* header text without its final '\n' */
    size_t n, i;
} hparse;

static void skip_ws(hparse *p)
{
    while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]) && p->s[p->i])
        p->i++;
}

static int peek(const hparse *p)
{
    return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

/* A quoted string without escapes into buf; returns 0 on malformed input. */
static int parse_str(hparse *p, char *buf, size_t size)
{
    int q = peek(p);
    if (q != '\'' && q != '"')
        return 0;
    p->i++;
    size_t k = 0;
    while (p->i < p->n && p->s[p->i] != q) {
        if (p->s[p->i] == '\\' || k + 1 >= size)
            return 0;
        buf[k++] = p->s[p->i++];
    }
    if (p->i >= p->n)
        return 0;
    p->i++;
    buf[k] = '\0';
    return 1;
}

static int match_word(hparse *p, const char *w)
{
    size_t l = strlen(w);
    if (p->n - p->i >= l && !memcmp(p->s + p->i, w, l)) {
        p->i += l;
        return 1;
    }
    return 0;
}

typedef struct npy_header {
    sbp_npy_dtype dtype;
    int ndim;
    size_t shape[SBP_NPY_MAX_DIMS];
} npy_header;

/* Parses the dict: exactly 'descr', 'fortran_order' and 'shape', each once. */
static sbp_status parse_header(const char *what, const char *text, size_t n, npy_header *h,
                               sbp_error *err)
{
    hparse p = {text, n, 0};
    int have_descr = 0, have_order = 0, have_shape = 0;
    char descr[64] = "";
    /* an excerpt of the header for messages */
    char shown[96];
    snprintf(shown, sizeof shown, "%.*s%s", (int)(n < 80 ? n : 80), text, n > 80 ? "…" : "");
#define BAD(...) sbp_fail(err, SBP_ERR_FORMAT, __VA_ARGS__)
    skip_ws(&p);
    if (peek(&p) != '{')
        return BAD("%s: NPY header is not a dict literal: %s", what, shown);
    p.i++;
    for (;;) {
        skip_ws(&p);
        if (peek(&p) == '}') {
            p.i++;
            break;
        }
        char key[32];
        if (!parse_str(&p, key, sizeof key))
            return BAD("%s: NPY header: expected a quoted key at offset %zu: %s", what, p.i, shown);
        skip_ws(&p);
        if (peek(&p) != ':')
            return BAD("%s: NPY header: expected ':' after '%s': %s", what, key, shown);
        p.i++;
        skip_ws(&p);
        if (!strcmp(key, "descr")) {
            if (have_descr++)
                return BAD("%s: NPY header repeats the key 'descr': %s", what, shown);
            if (peek(&p) == '[')
                return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                                "%s: structured dtype (a list of fields) is not supported; only "
                                "plain arrays of %s are",
                                what, NPY_SUPPORTED);
            if (!parse_str(&p, descr, sizeof descr))
                return BAD("%s: NPY header: 'descr' is not a quoted type string: %s", what, shown);
        } else if (!strcmp(key, "fortran_order")) {
            if (have_order++)
                return BAD("%s: NPY header repeats the key 'fortran_order': %s", what, shown);
            if (match_word(&p, "True"))
                return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                                "%s: the array is stored in Fortran (column-major) order; save "
                                "np.ascontiguousarray(a) instead",
                                what);
            if (!match_word(&p, "False"))
                return BAD("%s: NPY header: 'fortran_order' is neither True nor False: %s", what,
                           shown);
        } else if (!strcmp(key, "shape")) {
            if (have_shape++)
                return BAD("%s: NPY header repeats the key 'shape': %s", what, shown);
            if (peek(&p) != '(')
                return BAD("%s: NPY header: 'shape' is not a tuple: %s", what, shown);
            p.i++;
            h->ndim = 0;
            int trailing_comma = 0;
            for (;;) {
                skip_ws(&p);
                if (peek(&p) == ')') {
                    p.i++;
                    break;
                }
                if (peek(&p) < '0' || peek(&p) > '9')
                    return BAD("%s: NPY header: 'shape' holds something other than "
                               "non-negative integers: %s",
                               what, shown);
                uint64_t v = 0;
                while (peek(&p) >= '0' && peek(&p) <= '9') {
                    if (v > ((uint64_t)1 << 56))
                        return BAD("%s: NPY header: a dimension in 'shape' is absurdly large: %s",
                                   what, shown);
                    v = v * 10 + (uint64_t)(peek(&p) - '0');
                    p.i++;
                }
                if (peek(&p) == 'L') /* Python 2 long literal, as old files have */
                    p.i++;
                if (h->ndim == SBP_NPY_MAX_DIMS)
                    return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                                    "%s: more than %d dimensions are not supported: %s", what,
                                    SBP_NPY_MAX_DIMS, shown);
                h->shape[h->ndim++] = (size_t)v;
                skip_ws(&p);
                trailing_comma = 0;
                if (peek(&p) == ',') {
                    p.i++;
                    trailing_comma = 1;
                } else if (peek(&p) != ')') {
                    return BAD("%s: NPY header: malformed 'shape' tuple: %s", what, shown);
                }
            }
            if (h->ndim == 1 && !trailing_comma)
                return BAD("%s: NPY header: 'shape' (%zu) is not a tuple; a 1-d shape is "
                           "written (%zu,): %s",
                           what, h->shape[0], h->shape[0], shown);
        } else {
            return BAD("%s: NPY header has the unknown key '%s' (only 'descr', 'fortran_order' "
                       "and 'shape' are allowed): %s",
                       what, key, shown);
        }
        skip_ws(&p);
        if (peek(&p) == ',') {
            p.i++;
            continue;
        }
        skip_ws(&p);
        if (peek(&p) != '}')
            return BAD("%s: NPY header: expected ',' or '}' at offset %zu: %s", what, p.i, shown);
    }
    skip_ws(&p);
    if (p.i != p.n)
        return BAD("%s: NPY header: unexpected text after the dict: %s", what, shown);
    if (!have_descr || !have_order || !have_shape)
        return BAD("%s: NPY header lacks the key '%s': %s", what,
                   !have_descr   ? "descr"
                   : !have_order ? "fortran_order"
                                 : "shape",
                   shown);
#undef BAD
    return parse_descr(what, descr, &h->dtype, err);
}

/* ---------------------------------------------------------------- reading */

/* Reads up to `want` bytes of the source; *got < want only at the end of the data. */
static sbp_status src_read(const sbp_npy_source *r, void *buf, size_t want, size_t *got,
                           sbp_error *err)
{
    return r->read(r->ctx, r->what, buf, want, got, err);
}

static const char *foreign_hint(const uint8_t *b, size_t n)
{
    if (n >= 2 && b[0] == 'P' && b[1] == 'K')
        return " — it is a zip archive (an .npz? load it as npz)";
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return " — it is gzip-compressed; decompress it first";
    if (n >= 6 && !memcmp(b, "MATLAB", 6))
        return " — it is a MATLAB file";
    int text = n > 0;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 0x20 && b[i] < 0x7f) || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
            text = 0;
    if (text)
        return " — it looks like text (a CSV? an HTML error page?)";
    return "";
}

sbp_status sbp_npy_read_source(sbp_npy_array *out, const sbp_npy_source *r, sbp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!host_little_endian())
        return sbp_fail(err, SBP_ERR_UNSUPPORTED, "%s: NPY reading needs a little-endian host",
                        r->what);
    uint8_t pre[12];
    size_t got = 0;
    sbp_status st = src_read(r, pre, 10, &got, err);
    if (st != SBP_OK)
        return st;
    if (got == 0)
        return sbp_fail(err, SBP_ERR_FORMAT, "%s: empty (0 bytes), not an NPY array", r->what);
    if (got < NPY_MAGIC_LEN || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: not an NPY file (it does not start with \\x93NUMPY)%s", r->what,
                        foreign_hint(pre, got));
    if (got < 10)
        return sbp_fail(err, SBP_ERR_FORMAT, "%s: truncated NPY header (%zu bytes)", r->what, got);
    const int major = pre[6], minor = pre[7];
    if (!(major >= 1 && major <= 3) || minor != 0)
        return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                        "%s: NPY format version %d.%d is not supported (1.0, 2.0 and 3.0 are)",
                        r->what, major, minor);
    size_t hlen, prefix;
    if (major == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        prefix = 10;
    } else {
        st = src_read(r, pre + 10, 2, &got, err);
        if (st != SBP_OK)
            return st;
        if (got < 2)
            return sbp_fail(err, SBP_ERR_FORMAT, "%s: truncated NPY header", r->what);
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        prefix = 12;
    }
    if (hlen == 0 || hlen > NPY_MAX_HEADER)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: NPY header length %zu is %s (at most %zu bytes are accepted)", r->what,
                        hlen, hlen ? "absurd" : "zero", NPY_MAX_HEADER);
    if (r->size >= 0 && (uint64_t)r->size < prefix + hlen)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: truncated: the NPY header claims %zu bytes but the file holds %lld",
                        r->what, hlen, (long long)r->size);
    char *text = malloc(hlen + 1);
    if (!text)
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory for the NPY header", r->what);
    st = src_read(r, text, hlen, &got, err);
    if (st == SBP_OK && got < hlen)
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: truncated NPY header (%zu of %zu bytes)", r->what,
                      got, hlen);
    if (st == SBP_OK && text[hlen - 1] != '\n')
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: NPY header does not end with a newline", r->what);
    if (st == SBP_OK && memchr(text, '\0', hlen))
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: NPY header contains a NUL byte", r->what);
    npy_header h;
    memset(&h, 0, sizeof h);
    if (st == SBP_OK)
        st = parse_header(r->what, text, hlen - 1, &h, err);
    free(text);
    if (st != SBP_OK)
        return st;

    /* sizes, with overflow checks */
    const size_t esize = dtype_table[h.dtype].size;
    uint64_t count = 1;
    int zero = 0;
    for (int i = 0; i < h.ndim; i++)
        zero |= h.shape[i] == 0;
    if (!zero) {
        for (int i = 0; i < h.ndim; i++) {
            if (count > SBP_NPY_MAX_BYTES / h.shape[i] ||
                count * h.shape[i] > SBP_NPY_MAX_BYTES / esize)
                return sbp_fail(err, SBP_ERR_FORMAT,
                                "%s: the NPY header declares more than %llu bytes of data; "
                                "refusing an absurd file",
                                r->what, (unsigned long long)SBP_NPY_MAX_BYTES);
            count *= h.shape[i];
        }
    } else {
        count = 0;
    }
    const uint64_t nbytes = count * esize;
    char shape_txt[200] = "(";
    for (int i = 0; i < h.ndim; i++) {
        size_t l = strlen(shape_txt);
        snprintf(shape_txt + l, sizeof shape_txt - l, "%s%zu", i ? ", " : "", h.shape[i]);
    }
    strncat(shape_txt, h.ndim == 1 ? ",)" : ")", sizeof shape_txt - strlen(shape_txt) - 1);

    if (r->size >= 0) { /* judge the file size before allocating */
        uint64_t avail = (uint64_t)r->size - (prefix + hlen);
        if (avail != nbytes)
            return sbp_fail(err, SBP_ERR_FORMAT,
                            "%s: %s: the header declares shape %s of %s = %llu bytes of data but "
                            "the file holds %llu",
                            r->what, avail < nbytes ? "truncated" : "trailing bytes", shape_txt,
                            dtype_table[h.dtype].descr, (unsigned long long)nbytes,
                            (unsigned long long)avail);
    }
    /* grow the buffer only as data arrives when the size is not known in advance */
    size_t cap = r->size >= 0 || nbytes < NPY_GROW_START ? (size_t)nbytes : NPY_GROW_START;
    uint8_t *data = malloc(cap ? cap : 1);
    if (!data)
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory for %llu bytes of data", r->what,
                        (unsigned long long)nbytes);
    size_t done = 0;
    while (done < nbytes) {
        if (done == cap) {
            size_t ncap = cap > nbytes / 2 ? (size_t)nbytes : cap * 2;
            uint8_t *nd = realloc(data, ncap);
            if (!nd) {
                free(data);
                return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory for %zu bytes", r->what,
                                ncap);
            }
            data = nd;
            cap = ncap;
        }
        st = src_read(r, data + done, cap - done, &got, err);
        done += got;
        if (st != SBP_OK) {
            free(data);
            return st;
        }
        if (done < cap) {
            free(data);
            return sbp_fail(err, SBP_ERR_FORMAT,
                            "%s: truncated: the header declares shape %s of %s = %llu bytes of "
                            "data, only %zu follow",
                            r->what, shape_txt, dtype_table[h.dtype].descr,
                            (unsigned long long)nbytes, done);
        }
    }
    /* nothing may follow (this read also lets a zip member's reader reach its end and check
     * the CRC) */
    uint8_t extra[64];
    st = src_read(r, extra, sizeof extra, &got, err);
    if (st == SBP_OK && got > 0)
        st = sbp_fail(err, SBP_ERR_FORMAT,
                      "%s: trailing bytes after the %llu bytes of data of shape %s", r->what,
                      (unsigned long long)nbytes, shape_txt);
    if (st != SBP_OK) {
        free(data);
        return st;
    }
    out->dtype = h.dtype;
    out->ndim = h.ndim;
    memcpy(out->shape, h.shape, sizeof h.shape);
    out->count = (size_t)count;
    out->nbytes = (size_t)nbytes;
    out->data = data;
    return SBP_OK;
}

void sbp_npy_array_free(sbp_npy_array *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

int64_t sbp_npy_get_int(const sbp_npy_array *a, size_t i)
{
    const uint8_t *p = (const uint8_t *)a->data + i * dtype_table[a->dtype].size;
    switch (a->dtype) {
    case SBP_NPY_BOOL:
    case SBP_NPY_U1:
        return *p;
    case SBP_NPY_I1:
        return (int8_t)*p;
    case SBP_NPY_I2: {
        int16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case SBP_NPY_U2: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case SBP_NPY_I4: {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case SBP_NPY_U4: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case SBP_NPY_I8: {
        int64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    case SBP_NPY_U8: {
        uint64_t v;
        memcpy(&v, p, 8);
        return v > INT64_MAX ? INT64_MAX : (int64_t)v;
    }
    case SBP_NPY_F4: {
        float v;
        memcpy(&v, p, 4);
        return (int64_t)v;
    }
    case SBP_NPY_F8: {
        double v;
        memcpy(&v, p, 8);
        return (int64_t)v;
    }
    default:
        return 0;
    }
}

/* A file descriptor as a byte source. */
static sbp_status fd_read(void *ctx, const char *what, void *buf, size_t want, size_t *got,
                          sbp_error *err)
{
    const int fd = *(const int *)ctx;
    size_t done = 0;
    while (done < want) {
        size_t chunk = want - done > ((size_t)1 << 30) ? (size_t)1 << 30 : want - done;
        ssize_t k = read(fd, (uint8_t *)buf + done, chunk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            *got = done;
            return sbp_fail(err, SBP_ERR_IO, "%s: read failed: %s", what, strerror(errno));
        }
        if (k == 0)
            break;
        done += (size_t)k;
    }
    *got = done;
    return SBP_OK;
}

sbp_status sbp_npy_read(sbp_npy_array *out, const char *path, sbp_error *err)
{
    if (!out || !path)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "npy: path and output must be set");
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO: refused below, not waited on */
    if (fd < 0)
        return sbp_fail(err, SBP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        close(fd);
        return sbp_fail(err, SBP_ERR_IO, "%s: %s", path,
                        S_ISDIR(sb.st_mode)    ? "is a directory, not an NPY file"
                        : S_ISFIFO(sb.st_mode) ? "a FIFO, not a regular file"
                        : !S_ISREG(sb.st_mode) ? "not a regular file"
                                               : strerror(e));
    }
    const sbp_npy_source src = {path, S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1, fd_read,
                                &fd};
    sbp_status st = sbp_npy_read_source(out, &src, err);
    close(fd);
    return st;
}

/* ---------------------------------------------------------------- writing */

sbp_status sbp_npy_header(const char *path, const char *dtype, int ndim, const size_t *shape,
                          uint8_t **hdr, size_t *hdr_len, size_t *nbytes, sbp_error *err)
{
    if (!host_little_endian())
        return sbp_fail(err, SBP_ERR_UNSUPPORTED, "%s: NPY writing needs a little-endian host",
                        path);
    if (!dtype)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "%s: dtype is NULL", path);
    sbp_npy_dtype dt;
    sbp_npy_dtype *t = &dt;
    sbp_status st = parse_descr(path, dtype, t, err);
    if (st != SBP_OK)
        return st;
    if (ndim < 0 || ndim > SBP_NPY_MAX_DIMS || (ndim > 0 && !shape))
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "%s: %d dimensions (0 … %d allowed)", path, ndim,
                        SBP_NPY_MAX_DIMS);
    size_t count = 1, esize = dtype_table[*t].size;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] && count > SIZE_MAX / esize / shape[i])
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "%s: shape overflows size_t", path);
        count *= shape[i];
    }
    *nbytes = count * esize;
    char dict[512];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                       dtype_table[*t].descr);
    for (int i = 0; i < ndim; i++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%s%zu", i ? ", " : "", shape[i]);
    len += snprintf(dict + len, sizeof dict - (size_t)len, "%s), }", ndim == 1 ? "," : "");
    if (ndim > 0) { /* numpy leaves room for the first axis to grow in place */
        char d0[32];
        int digits = snprintf(d0, sizeof d0, "%zu", shape[0]);
        for (int k = digits; k < NPY_GROWTH_DIGITS; k++)
            dict[len++] = ' ';
        dict[len] = '\0';
    }
    /* version 1.0 (uint16 length) while it fits, else 2.0 */
    size_t hl = (size_t)len + 1, lenbytes = 2;
    size_t pad = NPY_ALIGN - ((8 + lenbytes + hl) % NPY_ALIGN);
    if (hl + pad > 65535) {
        lenbytes = 4;
        pad = NPY_ALIGN - ((8 + lenbytes + hl) % NPY_ALIGN);
    }
    const size_t total = 8 + lenbytes + hl + pad, body = hl + pad;
    uint8_t *h = malloc(total);
    if (!h)
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory", path);
    memcpy(h, NPY_MAGIC, NPY_MAGIC_LEN);
    h[6] = lenbytes == 2 ? 1 : 2;
    h[7] = 0;
    for (size_t k = 0; k < lenbytes; k++)
        h[8 + k] = (uint8_t)(body >> (8 * k));
    memcpy(h + 8 + lenbytes, dict, (size_t)len);
    memset(h + 8 + lenbytes + (size_t)len, ' ', pad);
    h[total - 1] = '\n';
    *hdr = h;
    *hdr_len = total;
    return SBP_OK;
}

/* What sbp_npy_write hands the atomic-write helper: numpy.save's header, then the data. */
typedef struct npy_content {
    const uint8_t *hdr;
    size_t hdr_len;
    const void *data;
    size_t nbytes;
} npy_content;

static sbp_status put_npy(FILE *f, void *ctx, sbp_error *err)
{
    const npy_content *c = ctx;
    /* a short write is caught by the helper (ferror) */
    if (fwrite(c->hdr, 1, c->hdr_len, f) == c->hdr_len && c->nbytes)
        fwrite(c->data, 1, c->nbytes, f);
    return SBP_OK;
}

sbp_status sbp_npy_write(const char *path, const char *dtype, int ndim, const size_t *shape,
                         const void *data, sbp_error *err)
{
    if (!path)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "npy write: path is NULL");
    uint8_t *hdr = NULL;
    size_t hlen = 0, nbytes = 0;
    sbp_status st = sbp_npy_header(path, dtype, ndim, shape, &hdr, &hlen, &nbytes, err);
    if (st != SBP_OK)
        return st;
    if (nbytes && !data) {
        free(hdr);
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "%s: data is NULL", path);
    }
    npy_content c = {hdr, hlen, data, nbytes};
    st = sbp_write_atomic(path, put_npy, &c, err);
    free(hdr);
    return st;
}
