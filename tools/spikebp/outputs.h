/*
 * outputs.h — the rule every file a command writes obeys (issue 10): an output replaces nothing
 * but a regular file of the same kind that spikebp wrote (recognised by its first bytes) or a
 * path that does not exist; never one of the command's own inputs (same device and inode), never
 * a folder, FIFO or device. The checks run before any data is loaded or any work is done, so
 * that a bad path costs nothing.
 */
#ifndef SBP_TOOLS_OUTPUTS_H
#define SBP_TOOLS_OUTPUTS_H

#include <stddef.h>

/* What an existing file must begin with to be replaced: the kinds of file spikebp writes. */
typedef enum cli_out_kind {
    CLI_OUT_MODEL,  /* "SPIKEBP\n" (src/io/model.c) */
    CLI_OUT_LOG,    /* the CSV header of `train`'s per-epoch log */
    CLI_OUT_CSV,    /* a CSV of `analyze` (its first column names: "layer," or "steps,") */
    CLI_OUT_NPZ,    /* a zip archive ("PK\3\4", or an empty one "PK\5\6") */
    CLI_OUT_FIGURE, /* a PNG or an SVG */
    CLI_OUT_NIR,    /* an HDF5 file (its signature "\211HDF\r\n\032\n" at offset 0) */
} cli_out_kind;

/* The header line `train` writes first in its log (its prefix identifies a spikebp log). */
#define CLI_LOG_HEADER_PREFIX "epoch,lr,train_loss,train_accuracy,"

/* Checks output `path` (given as option `opt`) against the rule above and against each of the
 * `n_inputs` paths in `inputs` (NULL entries are skipped; paths that do not exist cannot be
 * the same file). Also refuses an empty path, a path ending in '/', and a path whose folder
 * part runs through something that is not a folder. Missing folders are fine (they are made).
 * Returns 0, or −1 with a message naming the option, the path and the reason in msg. */
int cli_check_output(const char *opt, const char *path, cli_out_kind kind,
                     const char *const *inputs, size_t n_inputs, char *msg, size_t size);

/* Checks an output folder (made if missing): every part of `dir` that exists is a folder and
 * the deepest existing one can be written in. Returns 0, or −1 with a message naming `opt`. */
int cli_check_folder(const char *opt, const char *dir, char *msg, size_t size);

/* Checks a value that will be stored as model metadata (src/net/net.c: under 1024 bytes, no
 * control characters): −1 with a message naming `what` if it could not be. */
int cli_check_meta_value(const char *what, const char *value, char *msg, size_t size);

/* `path` made absolute against the current folder (unchanged if already absolute), without
 * resolving links: what a checkpoint stores so that a resume from another folder writes to the
 * same files. Returns 0, or −1 (msg) when it does not fit in `size` bytes. */
int cli_absolute_path(const char *path, char *out, size_t out_size, char *msg, size_t size);

/* The files a --data value names, for the check that no output is one of them: the parts of
 * npy:/npz:/nmnist: lists (without ":LABEL" and "@T") or the value itself. Pointers into a
 * copy kept in `store` (CLI_MAX_DATA_INPUTS × 4096 bytes); returns their count. */
#define CLI_MAX_DATA_INPUTS 4
size_t cli_data_inputs(const char *data, char (*store)[4096], const char **paths);

/* 1 if a and b both exist and are the same file (device and inode). */
int cli_same_file(const char *a, const char *b);

#endif
