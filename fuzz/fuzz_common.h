/*
 * fuzz_common.h — what every fuzz target shares: a private scratch folder (one per process,
 * made with mkdtemp under /dev/shm when it exists, so that writing the input costs no disk
 * I/O) where file-based loaders find the input, and a splitter for targets that need two
 * files from one input.
 *
 * Each fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput (libFuzzer's entry point) and nothing
 * else with external linkage; tests/test_fuzz_corpus.c includes every target with that name
 * #defined to a distinct one and replays the corpus through them without libFuzzer. So
 * helpers here and in the targets are static, and targets prefix their own statics with
 * their name.
 */
#ifndef SBP_FUZZ_COMMON_H
#define SBP_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spikebp.h"

/* The scratch folder of this process, created on first use and removed (with its files) at
 * exit. Aborts if it cannot be made: a fuzz run without it would test nothing. */
static char fuzz_dir_path[256];

static inline void fuzz_dir_remove(void)
{
    if (!fuzz_dir_path[0])
        return;
    DIR *d = opendir(fuzz_dir_path);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", fuzz_dir_path, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(fuzz_dir_path);
    fuzz_dir_path[0] = '\0';
}

static inline const char *fuzz_dir(void)
{
    if (fuzz_dir_path[0])
        return fuzz_dir_path;
    struct stat sb;
    const char *base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : NULL;
    if (!base) {
        base = getenv("TMPDIR");
        if (!base || !*base)
            base = "/tmp";
    }
    snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/sbp-fuzz-XXXXXX", base);
    if (!mkdtemp(fuzz_dir_path)) {
        fprintf(stderr, "fuzz: cannot create a scratch folder %s: %s\n", fuzz_dir_path,
                strerror(errno));
        abort();
    }
    atexit(fuzz_dir_remove);
    return fuzz_dir_path;
}

/* Writes bytes to NAME inside the scratch folder (replacing it); fills path. Aborts on a write
 * failure (a harness fault, not a finding). */
static inline void fuzz_write(const char *name, const uint8_t *data, size_t size, char *path,
                       size_t path_size)
{
    snprintf(path, path_size, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
}

/* Splits an input into two parts: the first 4 bytes (little-endian) give the length of part
 * one (clipped to what is there), the rest is part two. Inputs shorter than 4 bytes give two
 * empty parts. */
static inline void fuzz_split(const uint8_t *data, size_t size, const uint8_t **a, size_t *na,
                       const uint8_t **b, size_t *nb)
{
    if (size < 4) {
        *a = *b = data;
        *na = *nb = 0;
        return;
    }
    size_t len = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 |
                 (size_t)data[3] << 24;
    data += 4;
    size -= 4;
    if (len > size)
        len = size;
    *a = data;
    *na = len;
    *b = data + len;
    *nb = size - len;
}

/* A failing call must leave a message; a check that the error record is coherent. */
static inline void fuzz_check_error(sbp_status st, const sbp_error *err)
{
    if (st == SBP_OK)
        return;
    if (err->status != st || !err->msg[0] || !memchr(err->msg, '\0', sizeof err->msg)) {
        fprintf(stderr, "fuzz: status %d (%s) but error record says %d: '%.*s'\n", (int)st,
                sbp_status_string(st), (int)err->status, (int)sizeof err->msg, err->msg);
        abort();
    }
}

#endif
