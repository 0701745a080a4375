/*
 * npy.h — NumPy's array files: .npy (one array, npy.c) and .npz (a zip archive of .npy members,
 * as written by numpy.savez / savez_compressed, npz.c), reading and writing. A pure codec: it
 * knows arrays, not data sets or networks (src/data/numpy.c and src/io/interchange.c use it).
 *
 * Format (numpy.lib.format, versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY", a major and a
 * minor version byte, the header length (uint16 little-endian in 1.0, uint32 in 2.0/3.0), a
 * header that is a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ended by '\n', then the elements in C order.
 *
 * Supported element types: bool ('|b1'), int8/uint8 ('|i1', '|u1'), little-endian int16/32/64,
 * uint16/32/64 ('<i2' … '<u8') and float32/64 ('<f4', '<f8'). Deliberately not supported:
 * big-endian data, Fortran order, structured/object/string/complex dtypes, float16 — each is
 * refused with a message saying how to convert the array in NumPy. The reader is strict: the
 * header must hold exactly the three keys, the data must fill the file (or zip member) exactly.
 *
 * Writing: files are written as numpy.save writes them (version 1.0 while the header fits,
 * header padded to a multiple of 64 bytes), atomically through core/file.h (temporary file,
 * fsync, rename), so a crash leaves the old file or the new one, never half of one. .npz members are stored
 * uncompressed (numpy.savez does the same) and named NAME.npy.
 */
#ifndef SBP_FORMATS_NPY_H
#define SBP_FORMATS_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "spikebp.h"

#define SBP_NPY_MAX_DIMS 8
#define SBP_NPY_MAX_BYTES ((uint64_t)1 << 36) /* refuse headers claiming more than 64 GiB */

typedef enum sbp_npy_dtype {
    SBP_NPY_BOOL, /* '|b1', one byte 0 or 1 */
    SBP_NPY_I1,
    SBP_NPY_U1,
    SBP_NPY_I2,
    SBP_NPY_U2,
    SBP_NPY_I4,
    SBP_NPY_U4,
    SBP_NPY_I8,
    SBP_NPY_U8,
    SBP_NPY_F4,
    SBP_NPY_F8,
    SBP_NPY_DTYPE_COUNT
} sbp_npy_dtype;

/* NumPy's descr of a dtype as this module writes it ("|u1", "<f4", …) and its size in bytes. */
const char *sbp_npy_dtype_descr(sbp_npy_dtype t);
size_t sbp_npy_dtype_size(sbp_npy_dtype t);
/* NumPy's name of the type ("uint8", "float32", …). */
const char *sbp_npy_dtype_name(sbp_npy_dtype t);
/* 1 for the integer types (bool excluded), else 0. */
int sbp_npy_dtype_is_int(sbp_npy_dtype t);

/* An array read from a file: `data` holds count · size(dtype) bytes, little-endian, C order,
 * owned by the record (free with sbp_npy_array_free; data may be taken over by setting it to
 * NULL). count is Π shape (1 for a 0-d array) and may be 0. */
typedef struct sbp_npy_array {
    sbp_npy_dtype dtype;
    int ndim;
    size_t shape[SBP_NPY_MAX_DIMS];
    size_t count;  /* elements */
    size_t nbytes; /* count · element size */
    void *data;
} sbp_npy_array;

void sbp_npy_array_free(sbp_npy_array *a);

/* Element i of an integer or bool array as int64 (uint64 values above INT64_MAX saturate). */
int64_t sbp_npy_get_int(const sbp_npy_array *a, size_t i);

/* Reads a .npy file. On failure *out is zeroed and err names the path and the fault:
 * SBP_ERR_IO, SBP_ERR_FORMAT (not NPY, bad header, truncated or trailing data),
 * SBP_ERR_UNSUPPORTED (dtype, byte order, Fortran order), SBP_ERR_NOMEM. */
sbp_status sbp_npy_read(sbp_npy_array *out, const char *path, sbp_error *err);

/* Reads member `name` of a .npz archive; "x" finds "x.npy" (as numpy.savez names it) or "x".
 * Stored and deflated members are both read (CRC checked). Errors as sbp_npy_read, plus
 * SBP_ERR_FORMAT for a file that is not a zip archive or lacks the member (the message lists
 * the members it has). */
sbp_status sbp_npz_read(sbp_npy_array *out, const char *path, const char *name, sbp_error *err);

/* Writes one array as a .npy file atomically. dtype is one of the descrs above ("<f4" …);
 * shape has ndim (0 … SBP_NPY_MAX_DIMS) entries; data holds Π shape elements in C order, in
 * the host's byte order (this module refuses to run on a big-endian host). */
sbp_status sbp_npy_write(const char *path, const char *dtype, int ndim, const size_t *shape,
                         const void *data, sbp_error *err);

/* One member of an .npz archive to write; stored as NAME.npy. Names: [A-Za-z0-9_.-]+, unique. */
typedef struct sbp_npz_member {
    const char *name;
    const char *dtype; /* "<f4" for weights */
    int ndim;
    const size_t *shape; /* (ndim) */
    const void *data;    /* Π shape elements, C order */
} sbp_npz_member;

/* Writes the members as one .npz archive atomically (np.load(path)[name] gives each back). */
sbp_status sbp_npz_write(const char *path, const sbp_npz_member *members, size_t n, sbp_error *err);

/* ---------------------------------------------------------------- the parts npz.c shares
 * (npy.c defines them; other callers use the functions above) */

/* A stream of bytes holding one array: a file descriptor, a zip member. */
typedef struct sbp_npy_source {
    const char *what; /* name for messages: "file.npy" or "file.npz: member x.npy" */
    int64_t size;     /* total bytes if known in advance (a regular file), else −1 */
    /* Reads up to `want` bytes into buf; *got < want only at the end of the data. */
    sbp_status (*read)(void *ctx, const char *what, void *buf, size_t want, size_t *got,
                       sbp_error *err);
    void *ctx;
} sbp_npy_source;

/* Reads one array from the source with every check of sbp_npy_read (the whole source must be
 * exactly one array). *out is zeroed on failure. */
sbp_status sbp_npy_read_source(sbp_npy_array *out, const sbp_npy_source *src, sbp_error *err);

/* The header numpy.save writes for (dtype, shape): *hdr (malloc'd, caller frees) of *hdr_len
 * bytes, and *nbytes, the size of the data that must follow. `what` names the target in
 * messages. */
sbp_status sbp_npy_header(const char *what, const char *dtype, int ndim, const size_t *shape,
                          uint8_t **hdr, size_t *hdr_len, size_t *nbytes, sbp_error *err);

#endif
