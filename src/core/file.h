/*
 * file.h — opening an input file the way every whole-file loader needs it: readable, a regular
 * file (not a folder or a device), and its size known before anything is allocated.
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

#endif
