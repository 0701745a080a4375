/*
 * file.h — the two things every file format of the library does with whole files: open an
 * input that must be a readable regular file of known size, and replace an output atomically.
 */
#ifndef SBP_CORE_FILE_H
#define SBP_CORE_FILE_H

#include <stdio.h>

#include "spikebp.h"

/* Opens path for reading; *f and *size (bytes) on success. Fails with SBP_ERR_IO naming the
 * path: "cannot open: <reason>" or "<kind>, not a regular file" — a FIFO among them, refused
 * without waiting for a writer. */
sbp_status sbp_open_regular(const char *path, FILE **f, long long *size, sbp_error *err);

/* "a folder", "a FIFO", "a character device", … for an st_mode, in messages. */
const char *sbp_file_kind(unsigned mode);

/* ---------------------------------------------------------------- atomic replacement
 *
 * The content goes to a temporary file "PATH.tmp.XXXXXX" in the target's own folder (a rename
 * is atomic only within one file system), mode 0644 (an ordinary document, not mkstemp's
 * 0600); it is flushed, fsynced and renamed over PATH, and then the folder is fsynced so that
 * the rename itself survives a crash. A crash therefore leaves the old file or the new one,
 * never half of one. On any failure the temporary is removed, a previous PATH is left as it
 * was, and err names PATH and the reason (the errno text, or the writer's own message):
 * "PATH: write failed: No space left on device (the previous file, if any, is untouched)". */

/* Writes the whole content to f. Errors of f itself (a short fwrite) need no report: the
 * helper finds them with ferror and fflush. Any other failure returns its status with err
 * filled; the helper then removes the temporary and returns that status. */
typedef sbp_status (*sbp_stream_writer)(FILE *f, void *ctx, sbp_error *err);

/* For writers that only take a file name (libzip): writes the content to the file named
 * tmp_path, which exists, empty, with mode 0644 (it may be replaced by a rename, as libzip
 * does). Returns SBP_OK or a failure with err filled. */
typedef sbp_status (*sbp_path_writer)(const char *tmp_path, void *ctx, sbp_error *err);

sbp_status sbp_write_atomic(const char *path, sbp_stream_writer write, void *ctx, sbp_error *err);
sbp_status sbp_write_atomic_path(const char *path, sbp_path_writer write, void *ctx,
                                 sbp_error *err);

#endif
