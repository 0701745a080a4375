/*
 * nmnist.c — N-MNIST event recordings (Orchard et al. 2015, "Converting static image datasets
 * to spiking neuromorphic datasets using saccades"): MNIST digits seen by an ATIS event camera
 * (34×34 pixels) over three saccades of ~100 ms each. The official archive holds
 * Train/<digit>/<id>.bin and Test/<digit>/<id>.bin.
 *
 * File format: 5-byte events, byte 0 = x (0–33), byte 1 = y (0–33), bit 7 of byte 2 =
 * polarity (1 = ON, brightness increase), bits 6–0 of byte 2 and bytes 3, 4 = a 23-bit
 * timestamp in µs, most significant byte first: ts = ((b2 & 0x7f) << 16) | (b3 << 8) | b4.
 *
 * Binning (ours; the paper trains no event data set): each recording's own time span
 * [t0, t1] (first to last event, inclusive, D = t1 − t0 + 1 µs) is cut into T equal frames;
 * an event at ts lands in frame ⌊(ts − t0)·T / D⌋, so the first event is in frame 0 and the
 * last in frame T−1. Channel 0 takes OFF events (polarity 0), channel 1 ON events. A pixel
 * and polarity with several events in one frame gives one spike: counts are clipped to 1
 * (binary spikes, like the rate-encoded input of §1). The result is a spike data set
 * (timesteps = T, pixels NULL): samples (T, 2, 34, 34) int8 of 0/1, indexed [t][p][y][x].
 *
 * Folders (Train/ or Test/ with 0/ … 9/): files in name order within a digit, the digits
 * interleaved (0, 1, … 9, 0, 1, …) so that a prefix (--train-limit) holds every digit; readdir
 * order is never used, so the data order is the same on every machine.
 *
 * A file is hostile input: its size must be a nonzero multiple of 5 and every x, y below 34.
 * Not done: denoising, stabilisation (the saccade motion is left in), other event formats.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/file.h"
#include "data/dataset.h"

#define NM_SIDE 34
#define NM_CH 2
#define NM_FRAME ((size_t)NM_CH * NM_SIDE * NM_SIDE) /* 2,312 values per time step */
#define NM_EVENT 5
#define NM_CLASSES 10
#define NM_MAX_BYTES ((long long)1 << 30) /* a recording is ~20 kB; refuse absurd files */

/* Reads one recording and sets out (T, 2, 34, 34), zeroed by the caller, to its binned frames. */
static sbp_status bin_file(const char *path, int T, int8_t *out, sbp_error *err)
{
    FILE *f;
    long long size;
    sbp_status ost = sbp_open_regular(path, &f, &size, err);
    if (ost != SBP_OK)
        return ost;
    if (size == 0) {
        fclose(f);
        return sbp_fail(err, SBP_ERR_FORMAT, "%s: empty file: an N-MNIST recording holds events",
                        path);
    }
    if (size % NM_EVENT != 0 || size > NM_MAX_BYTES) {
        fclose(f);
        return sbp_fail(err, SBP_ERR_FORMAT,
                        "%s: %lld bytes is %s (N-MNIST events are 5 bytes each; a recording "
                        "has at most %lld bytes)", path, size,
                        size > NM_MAX_BYTES ? "far too large for a recording"
                                            : "not a whole number of events — truncated?",
                        NM_MAX_BYTES);
    }
    size_t n_ev = (size_t)size / NM_EVENT;
    uint8_t *ev = malloc((size_t)size);
    if (!ev) {
        fclose(f);
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory for %zu events", path, n_ev);
    }
    size_t got = fread(ev, 1, (size_t)size, f);
    int rerr = ferror(f);
    fclose(f);
    if (got != (size_t)size) {
        free(ev);
        return sbp_fail(err, SBP_ERR_IO, "%s: read %zu of %lld bytes%s%s", path, got, size,
                        rerr ? ": " : " (the file shrank while read)", rerr ? strerror(errno) : "");
    }
    uint32_t t0 = UINT32_MAX, t1 = 0;
    for (size_t i = 0; i < n_ev; i++) {
        const uint8_t *e = ev + i * NM_EVENT;
        if (e[0] >= NM_SIDE || e[1] >= NM_SIDE) {
            const unsigned x = e[0], y = e[1];
            free(ev);
            return sbp_fail(err, SBP_ERR_FORMAT,
                            "%s: event %zu at x = %u, y = %u lies outside the 34×34 sensor — not "
                            "an N-MNIST file?",
                            path, i, x, y);
        }
        uint32_t ts = (uint32_t)(e[2] & 0x7f) << 16 | (uint32_t)e[3] << 8 | e[4];
        t0 = ts < t0 ? ts : t0;
        t1 = ts > t1 ? ts : t1;
    }
    const uint64_t span = (uint64_t)(t1 - t0) + 1; /* µs, inclusive */
    for (size_t i = 0; i < n_ev; i++) {
        const uint8_t *e = ev + i * NM_EVENT;
        uint32_t ts = (uint32_t)(e[2] & 0x7f) << 16 | (uint32_t)e[3] << 8 | e[4];
        size_t frame = (size_t)(((uint64_t)(ts - t0) * (uint64_t)T) / span);
        int pol = e[2] >> 7;
        out[frame * NM_FRAME + ((size_t)pol * NM_SIDE + e[1]) * NM_SIDE + e[0]] = 1; /* clip */
    }
    free(ev);
    return SBP_OK;
}

sbp_status sbp_dataset_load_nmnist(sbp_dataset **out, const char *const *paths, const int *labels,
                                   size_t n, int timesteps, sbp_error *err)
{
    if (!out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load nmnist: out pointer is NULL");
    *out = NULL;
    if (!paths || !labels || n == 0)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load nmnist: no recordings given");
    if (timesteps < 1 || timesteps > 100000)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "load nmnist: %d time steps; between 1 and 100000 are supported",
                        timesteps);
    for (size_t i = 0; i < n; i++) {
        if (!paths[i])
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "load nmnist: path %zu is NULL", i);
        if (labels[i] < 0 || labels[i] >= NM_CLASSES)
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "load nmnist: %s: label %d is outside 0 … 9",
                            paths[i], labels[i]);
    }
    const size_t per = (size_t)timesteps * NM_FRAME;
    if (n > SIZE_MAX / per)
        return sbp_fail(err, SBP_ERR_NOMEM, "load nmnist: %zu recordings of %d steps overflow", n,
                        timesteps);
    sbp_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return sbp_fail(err, SBP_ERR_NOMEM, "load nmnist: out of memory for the dataset record");
    ds->spikes = calloc(n, per);
    ds->labels = malloc(n);
    if (!ds->spikes || !ds->labels) {
        sbp_dataset_free(ds);
        return sbp_fail(err, SBP_ERR_NOMEM,
                        "load nmnist: out of memory for %zu recordings × %d steps × 2×34×34 bytes",
                        n, timesteps);
    }
    ds->n = n;
    ds->c = NM_CH;
    ds->h = ds->w = NM_SIDE;
    ds->classes = NM_CLASSES;
    ds->timesteps = timesteps;
    for (int i = 0; i < SBP_DATASET_MAX_CH; i++) { /* unused for spike data; kept neutral */
        ds->mean[i] = 0.0f;
        ds->std[i] = 1.0f;
    }
    ds->gain = 1.0f;
    for (size_t i = 0; i < n; i++) {
        ds->labels[i] = (uint8_t)labels[i];
        sbp_status st = bin_file(paths[i], timesteps, ds->spikes + i * per, err);
        if (st != SBP_OK) {
            sbp_dataset_free(ds);
            return st;
        }
    }
    *out = ds;
    return SBP_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .bin files of one digit folder, sorted by name; *names is NULL when the folder is absent. */
static sbp_status list_digit(const char *sub, char ***names, size_t *count, sbp_error *err)
{
    *names = NULL;
    *count = 0;
    DIR *dh = opendir(sub);
    if (!dh) {
        if (errno == ENOENT)
            return SBP_OK; /* a subset may lack some digits */
        return sbp_fail(err, SBP_ERR_IO, "%s: cannot open: %s", sub, strerror(errno));
    }
    char **list = NULL;
    size_t n = 0, cap = 0;
    sbp_status st = SBP_OK;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".bin") != 0 || de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 1024;
            char **np = realloc(list, ncap * sizeof *np);
            if (!np) {
                st = sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory listing files", sub);
                break;
            }
            list = np;
            cap = ncap;
        }
        size_t pl = strlen(sub) + l + 2;
        list[n] = malloc(pl);
        if (!list[n]) {
            st = sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory listing files", sub);
            break;
        }
        snprintf(list[n], pl, "%s/%s", sub, de->d_name);
        n++;
    }
    closedir(dh);
    if (st != SBP_OK) {
        for (size_t i = 0; i < n; i++)
            free(list[i]);
        free(list);
        return st;
    }
    /* readdir order is arbitrary: sort for a data order that is the same everywhere */
    if (n)
        qsort(list, n, sizeof *list, cmp_str);
    *names = list ? list : calloc(1, sizeof *list); /* non-NULL: the folder exists */
    if (!*names)
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory", sub);
    *count = n;
    return SBP_OK;
}

sbp_status sbp_dataset_load_nmnist_dir(sbp_dataset **out, const char *dir, int timesteps,
                                       size_t limit, sbp_error *err)
{
    if (!out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load nmnist: out pointer is NULL");
    *out = NULL;
    if (!dir)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "load nmnist: folder is NULL");
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return sbp_fail(err, SBP_ERR_IO, "%s: not a folder (expected digit folders 0 … 9)", dir);
    char **names[NM_CLASSES] = {0};
    size_t count[NM_CLASSES] = {0}, total = 0;
    int folders = 0;
    sbp_status st = SBP_OK;
    for (int d = 0; d < NM_CLASSES && st == SBP_OK; d++) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%d", dir, d);
        st = list_digit(sub, &names[d], &count[d], err);
        folders += names[d] != NULL;
        total += count[d];
    }
    if (st == SBP_OK && folders == 0)
        st = sbp_fail(err, SBP_ERR_IO,
                      "%s: no digit folders 0 … 9 (N-MNIST's Train/ and Test/ hold one per "
                      "digit)",
                      dir);
    else if (st == SBP_OK && total == 0)
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: the digit folders hold no .bin recordings", dir);
    const size_t n = limit > 0 && limit < total ? limit : total;
    const char **paths = NULL;
    int *labels = NULL;
    if (st == SBP_OK) {
        paths = malloc(n * sizeof *paths);
        labels = malloc(n * sizeof *labels);
        if (!paths || !labels)
            st = sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory listing %zu files", dir, total);
    }
    if (st == SBP_OK) {
        /* interleave the digits (one of each in turn, in name order within a digit), so that
         * every prefix — a --train-limit — holds all digits in equal shares */
        size_t k = 0;
        for (size_t round = 0; k < n; round++)
            for (int d = 0; d < NM_CLASSES && k < n; d++)
                if (round < count[d]) {
                    paths[k] = names[d][round];
                    labels[k] = d;
                    k++;
                }
        st = sbp_dataset_load_nmnist(out, paths, labels, n, timesteps, err);
    }
    free(paths);
    free(labels);
    for (int d = 0; d < NM_CLASSES; d++) {
        for (size_t i = 0; i < count[d]; i++)
            free(names[d][i]);
        free(names[d]);
    }
    return st;
}
