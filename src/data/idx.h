/*
 * idx.h — the IDX file format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
 * a big-endian magic 0x0000TTDD (TT = element type, 0x08 = uint8; DD = number of dimensions),
 * DD big-endian uint32 sizes, then the elements. Files may be raw or gzip-compressed; the
 * reader detects gzip by its content (0x1f 0x8b), never by the file name.
 */
#ifndef SBP_DATA_IDX_H
#define SBP_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "spikebp.h"

#define SBP_IDX_MAGIC_IMAGES 0x00000803u /* uint8, 3 dimensions (N, H, W) */
#define SBP_IDX_MAGIC_LABELS 0x00000801u /* uint8, 1 dimension (N) */
#define SBP_IDX_MAX_DIMS 4               /* capacity `dims` must have */
#define SBP_IDX_MAX_BYTES ((uint64_t)1 << 34) /* refuse headers claiming more data than 16 GiB */

/* Reads the uint8 IDX file at `path`, which must carry exactly `expected_magic` (type 0x08 and
 * at most SBP_IDX_MAX_DIMS dimensions). On success dims[0 … *ndim−1] get the sizes, *data a
 * malloc'd array of the *size = Πdims bytes (caller frees) — the file holds exactly these bytes,
 * no more, no fewer. On failure *data is NULL and err names the path and the fault:
 * SBP_ERR_IO (cannot open/read), SBP_ERR_FORMAT (foreign file, wrong magic, zero or absurd
 * sizes, truncated or corrupt gzip stream, truncated data, trailing bytes), SBP_ERR_NOMEM. */
sbp_status sbp_idx_read(const char *path, uint32_t expected_magic, uint32_t *dims, int *ndim,
                        uint8_t **data, size_t *size, sbp_error *err);

#endif
