/*
 * idx.c — loading MNIST-format (IDX) image and label files, raw or gzip-compressed, into an
 * sbp_dataset with the MNIST encoding of §1 (mean 0, std 1, gain 1/2: spike probability =
 * pixel/510).
 *
 * Reading goes through zlib's gzread, which inflates gzip files and copies other files
 * unchanged, so raw and .gz files take the same path and gzip is recognised by content
 * (0x1f 0x8b), not by name. The file is hostile input: every size in the header is checked
 * before it drives an allocation (a raw file's size is compared with its header first; for gzip
 * the buffer grows only as data actually arrives, so a 40-byte file claiming 16 GiB costs
 * nothing), the data must fill the file exactly, and a truncated or corrupt gzip stream is
 * reported, never silently accepted. Not done here: other IDX element types (int8, int16,
 * float …), which no supported dataset uses. zlib ignores non-gzip bytes after the last complete
 * gzip member, as gzip(1) does; trailing bytes inside the (decompressed) data are errors.
 */
#include "data/idx.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/file.h"

#include "core/error.h"
#include "data/dataset.h"

#define IDX_GROW_START ((size_t)4 << 20) /* first buffer for the data; doubled as needed */
#define IDX_READ_CHUNK (1u << 30)         /* gzread takes an unsigned and returns an int */
#define IDX_TRAILING_COUNT ((size_t)1 << 20) /* stop counting trailing bytes here */

/* Outcome of a read: what the stream said when it returned fewer bytes than asked. */
static sbp_status stream_error(gzFile gz, const char *path, int saved_errno, sbp_error *err)
{
    int zerr = Z_OK;
    const char *zmsg = gzerror(gz, &zerr);
    if (zerr == Z_ERRNO)
        return sbp_fail(err, SBP_ERR_IO, "%s: read failed: %s", path, strerror(saved_errno));
    if (zerr == Z_MEM_ERROR)
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory while decompressing", path);
    /* zlib prefixes its message with the name it was opened under, "<fd:3>: " here */
    if (zmsg && zmsg[0] == '<') {
        const char *colon = strstr(zmsg, ">: ");
        if (colon)
            zmsg = colon + 3;
    }
    return sbp_fail(err, SBP_ERR_FORMAT, "%s: corrupt gzip stream (zlib: %s)", path,
                    zmsg && *zmsg ? zmsg : "unknown error");
}

/* Reads up to `want` bytes; *got gets how many arrived before the end of the input. Returns
 * non-OK only for a read or decompression error (not for a clean end of file). */
static sbp_status read_upto(gzFile gz, const char *path, uint8_t *buf, size_t want,
                            size_t *got, sbp_error *err)
{
    size_t done = 0;
    while (done < want) {
        size_t left = want - done;
        unsigned chunk = left > IDX_READ_CHUNK ? IDX_READ_CHUNK : (unsigned)left;
        errno = 0;
        int r = gzread(gz, buf + done, chunk);
        if (r < 0) {
            *got = done;
            return stream_error(gz, path, errno, err);
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return SBP_OK;
}

/* After a short read: was the compressed stream cut off (Z_BUF_ERROR) or did the file simply
 * end? Returns the message for either case. */
static sbp_status short_read(gzFile gz, const char *path, const char *what, size_t want,
                             size_t got, sbp_error *err)
{
    int zerr = Z_OK;
    gzerror(gz, &zerr);
    if (zerr == Z_BUF_ERROR)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: truncated gzip stream: expected %zu bytes of %s, got %zu before the "
                        "compressed data ended (an interrupted download?)",
                        path, want, what, got);
    return sbp_fail(err, SBP_ERR_FORMAT, "%s: truncated: expected %zu bytes of %s, got %zu", path,
                    want, what, got);
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* What a foreign file probably is, to make "not an IDX file" actionable. */
static const char *magic_hint(const uint8_t b[4])
{
    if (b[0] == 0x1f && b[1] == 0x8b)
        return " — it is gzip inside gzip; decompress it once";
    if (b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G')
        return " — it is a PNG image";
    if (b[0] == 'P' && b[1] == 'K')
        return " — it is a zip archive";
    int text = 1;
    for (int i = 0; i < 4; i++)
        if (!((b[i] >= 0x20 && b[i] < 0x7f) || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
            text = 0;
    if (text)
        return " — it looks like text (an HTML error page saved by a failed download?)";
    return "";
}

static sbp_status check_magic(const char *path, const uint8_t b[4], uint32_t expected,
                              sbp_error *err)
{
    uint32_t magic = be32(b);
    if (magic == expected)
        return SBP_OK;
    if (b[0] != 0 || b[1] != 0)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: not an IDX file (magic 0x%08x; expected 0x%08x)%s", path, magic,
                        expected, magic_hint(b));
    if (b[2] != 0x08)
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: IDX element type 0x%02x is not supported (magic 0x%x); only uint8 "
                        "(0x08) data is",
                        path, b[2], magic);
    const char *hint = "";
    if (expected == SBP_IDX_MAGIC_IMAGES && magic == SBP_IDX_MAGIC_LABELS)
        hint = " — this is a labels file; are images and labels swapped?";
    else if (expected == SBP_IDX_MAGIC_LABELS && magic == SBP_IDX_MAGIC_IMAGES)
        hint = " — this is an images file; are images and labels swapped?";
    return sbp_fail(err, SBP_ERR_FORMAT,
                    "%s: expected magic 0x%x (uint8, %u dims), found 0x%x (uint8, %u dims)%s",
                    path, expected, expected & 0xffu, magic, b[3], hint);
}

/* Reads the whole body (total bytes, already validated ≤ SBP_IDX_MAX_BYTES), growing the buffer
 * only as data actually arrives, then insists the file ends right there. */
static sbp_status read_body(gzFile gz, const char *path, const char *what, size_t total,
                            uint8_t **data, sbp_error *err)
{
    size_t cap = total < IDX_GROW_START ? total : IDX_GROW_START;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory for %zu bytes of data", path, cap);
    size_t done = 0;
    sbp_status st;
    while (done < total) {
        if (done == cap) {
            size_t ncap = cap > total / 2 ? total : cap * 2;
            uint8_t *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                free(buf);
                return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory for %zu bytes of data",
                                path, ncap);
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = 0;
        st = read_upto(gz, path, buf + done, cap - done, &got, err);
        done += got;
        if (st != SBP_OK) {
            free(buf);
            return st;
        }
        if (done < cap) { /* the input ended early */
            free(buf);
            return short_read(gz, path, what, total, done, err);
        }
    }

    /* Exactly `total` bytes: anything after them is an error, and reading on also makes zlib
     * check the gzip trailer (CRC-32 and length) of the last member. */
    uint8_t scratch[4096];
    size_t extra = 0, got = 0;
    do {
        st = read_upto(gz, path, scratch, sizeof scratch, &got, err);
        if (st != SBP_OK) {
            free(buf);
            return st;
        }
        extra += got;
    } while (got == sizeof scratch && extra < IDX_TRAILING_COUNT);
    int zerr = Z_OK;
    gzerror(gz, &zerr);
    if (zerr == Z_BUF_ERROR) {
        free(buf);
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: truncated gzip stream: the data is complete but the stream ends "
                        "before its trailer (an interrupted download?)",
                        path);
    }
    if (extra) {
        free(buf);
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: %s%zu trailing bytes after the %zu bytes of %s the header declares",
                        path, extra >= IDX_TRAILING_COUNT ? "at least " : "", extra, total, what);
    }
    *data = buf;
    return SBP_OK;
}

sbp_status sbp_idx_read(const char *path, uint32_t expected_magic, uint32_t *dims, int *ndim,
                        uint8_t **data, size_t *size, sbp_error *err)
{
    if (data)
        *data = NULL;
    if (!path || !dims || !ndim || !data || !size)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "idx: path and output pointers must be set");
    unsigned want_dims = expected_magic & 0xffu;
    if ((expected_magic & 0xffffff00u) != 0x00000800u || want_dims < 1 ||
        want_dims > SBP_IDX_MAX_DIMS)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "idx: %s: expected magic 0x%x is not uint8 with 1 to %d dimensions", path,
                        expected_magic, SBP_IDX_MAX_DIMS);

    int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO: refused below, not waited on */
    if (fd < 0)
        return sbp_fail(err, SBP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return sbp_fail(err, SBP_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return sbp_fail(err, SBP_ERR_IO, "%s: is a directory, not an IDX file", path);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return sbp_fail(err, SBP_ERR_IO, "%s: %s, not a regular file", path,
                        sbp_file_kind((unsigned)sb.st_mode));
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory opening the file", path);
    }
    gzbuffer(gz, 1u << 17);

    sbp_status st;
    uint8_t head[4 + 4 * SBP_IDX_MAX_DIMS];
    size_t got = 0;
    st = read_upto(gz, path, head, 4, &got, err);
    if (st != SBP_OK)
        goto done;
    if (got == 0 && sb.st_size == 0) {
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: empty file (0 bytes), not an IDX file", path);
        goto done;
    }
    if (got < 4) {
        st = short_read(gz, path, "header (magic)", 4, got, err);
        goto done;
    }
    st = check_magic(path, head, expected_magic, err);
    if (st != SBP_OK)
        goto done;

    size_t dim_bytes = 4 * (size_t)want_dims;
    st = read_upto(gz, path, head + 4, dim_bytes, &got, err);
    if (st != SBP_OK)
        goto done;
    if (got < dim_bytes) {
        st = short_read(gz, path, "header (dimensions)", dim_bytes, got, err);
        goto done;
    }
    char shape[64] = "";
    for (unsigned i = 0; i < want_dims; i++) {
        dims[i] = be32(head + 4 + 4 * i);
        size_t len = strlen(shape);
        snprintf(shape + len, sizeof shape - len, "%s%u", i ? " x " : "", dims[i]);
    }
    uint64_t total = 1;
    for (unsigned i = 0; i < want_dims; i++) {
        if (dims[i] == 0) {
            st = sbp_fail(err, SBP_ERR_FORMAT, "%s: header declares sizes %s; dimension %u is 0",
                          path, shape, i);
            goto done;
        }
    }
    for (unsigned i = 0; i < want_dims; i++) {
        total *= dims[i]; /* ≤ 2^34 so far, times < 2^32: cannot overflow 64 bits */
        if (total > SBP_IDX_MAX_BYTES) {
            st = sbp_fail(err, SBP_ERR_FORMAT,
                          "%s: header declares sizes %s, more than %llu bytes of data; refusing "
                          "an absurd file",
                          path, shape, (unsigned long long)SBP_IDX_MAX_BYTES);
            goto done;
        }
    }
    if (total > SIZE_MAX) {
        st = sbp_fail(err, SBP_ERR_NOMEM, "%s: %llu bytes of data do not fit in memory here", path,
                      (unsigned long long)total);
        goto done;
    }
    const char *what = expected_magic == SBP_IDX_MAGIC_IMAGES   ? "pixel data"
                       : expected_magic == SBP_IDX_MAGIC_LABELS ? "label data"
                                                                : "data";
    /* A raw regular file tells its size: judge it before allocating anything. */
    if (S_ISREG(sb.st_mode) && gzdirect(gz)) {
        uint64_t avail = (uint64_t)sb.st_size - (4 + dim_bytes);
        if (avail < total) {
            st = sbp_fail(err, SBP_ERR_FORMAT, "%s: truncated: expected %llu bytes of %s, got %llu",
                          path, (unsigned long long)total, what, (unsigned long long)avail);
            goto done;
        }
        if (avail > total) {
            st = sbp_fail(err, SBP_ERR_FORMAT,
                          "%s: %llu trailing bytes after the %llu bytes of %s the header declares",
                          path, (unsigned long long)(avail - total), (unsigned long long)total,
                          what);
            goto done;
        }
    }
    st = read_body(gz, path, what, (size_t)total, data, err);
    if (st != SBP_OK)
        goto done;
    *ndim = (int)want_dims;
    *size = (size_t)total;

done:
    gzclose_r(gz); /* also closes fd; every stream error was already seen through gzerror */
    return st;
}

sbp_status sbp_dataset_load_idx(sbp_dataset **out, const char *images_path,
                                 const char *labels_path, sbp_error *err)
{
    if (!out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load idx: out pointer is NULL");
    *out = NULL;
    if (!images_path || !labels_path)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load idx: images and labels paths must be set");

    uint32_t idims[SBP_IDX_MAX_DIMS], ldims[SBP_IDX_MAX_DIMS];
    int indim = 0, lndim = 0;
    uint8_t *pixels = NULL, *labels = NULL;
    size_t psize = 0, lsize = 0;
    sbp_dataset *ds = NULL;
    sbp_status st = sbp_idx_read(images_path, SBP_IDX_MAGIC_IMAGES, idims, &indim, &pixels,
                                 &psize, err);
    if (st != SBP_OK)
        return st;
    st = sbp_idx_read(labels_path, SBP_IDX_MAGIC_LABELS, ldims, &lndim, &labels, &lsize, err);
    if (st != SBP_OK)
        goto fail;

    if (idims[0] != ldims[0]) {
        st = sbp_fail(err, SBP_ERR_FORMAT,
                      "%s holds %u images but %s holds %u labels; they must be a matching pair",
                      images_path, idims[0], labels_path, ldims[0]);
        goto fail;
    }
    if (idims[1] > INT_MAX || idims[2] > INT_MAX) {
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: image size %ux%u is too large (at most %d per "
                      "side)", images_path, idims[1], idims[2], INT_MAX);
        goto fail;
    }
    const int classes = 10; /* MNIST and Fashion-MNIST */
    for (size_t i = 0; i < lsize; i++) {
        if (labels[i] >= classes) {
            st = sbp_fail(err, SBP_ERR_FORMAT,
                          "%s: label %u at index %zu is outside 0 … %d", labels_path, labels[i],
                          i, classes - 1);
            goto fail;
        }
    }

    ds = calloc(1, sizeof *ds);
    if (!ds) {
        st = sbp_fail(err, SBP_ERR_NOMEM, "load idx: out of memory for the dataset record");
        goto fail;
    }
    ds->n = idims[0];
    ds->c = 1;
    ds->h = (int)idims[1];
    ds->w = (int)idims[2];
    ds->classes = classes;
    ds->pixels = pixels; /* the dataset adopts both buffers: no copy of 47 MB */
    ds->labels = labels;
    ds->parent = NULL;
    const float mean[1] = {0.0f}, std[1] = {1.0f};
    st = sbp_dataset_set_encoding(ds, mean, std, 0.5f, err); /* §1: p = pixel/510 */
    if (st != SBP_OK) {
        sbp_dataset_free(ds);
        return st;
    }
    *out = ds;
    return SBP_OK;

fail:
    free(pixels);
    free(labels);
    return st;
}
