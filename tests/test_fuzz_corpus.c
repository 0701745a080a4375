/*
 * test_fuzz_corpus.c — replays every seed in fuzz/corpus/NAME/ and every minimised finding in
 * fuzz/regressions/NAME/ through the fuzz targets' own entry points (fuzz/fuzz_NAME.c,
 * included here with LLVMFuzzerTestOneInput renamed), without libFuzzer: a plain gcc build
 * runs them, and `make test-sanitize` runs them under ASan/UBSan. A target aborts on any
 * inconsistency it checks, so a crash here is a regression of a fixed bug or a new one.
 *
 * Locates the tree with $SBP_SOURCE_DIR (ctest sets it). Each target must have seeds: an
 * empty corpus is a failure, not a skip.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLVMFuzzerTestOneInput fuzz_one_idx
#include "../fuzz/fuzz_idx.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_model
#include "../fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_spec
#include "../fuzz/fuzz_spec.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_netfile
#include "../fuzz/fuzz_netfile.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_cifar
#include "../fuzz/fuzz_cifar.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_svhn
#include "../fuzz/fuzz_svhn.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_nmnist
#include "../fuzz/fuzz_nmnist.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_npy
#include "../fuzz/fuzz_npy.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_npz
#include "../fuzz/fuzz_npz.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_nir
#include "../fuzz/fuzz_nir.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_nir_graph
#include "../fuzz/fuzz_nir_graph.c"
#undef LLVMFuzzerTestOneInput

#include "check.h"

typedef int (*fuzz_entry)(const uint8_t *, size_t);

static const struct {
    const char *name;
    fuzz_entry run;
} targets[] = {
    {"idx", fuzz_one_idx},         {"model", fuzz_one_model}, {"spec", fuzz_one_spec},
    {"netfile", fuzz_one_netfile}, {"cifar", fuzz_one_cifar}, {"svhn", fuzz_one_svhn},
    {"nmnist", fuzz_one_nmnist},   {"npy", fuzz_one_npy},     {"npz", fuzz_one_npz},
    {"nir", fuzz_one_nir},         {"nir_graph", fuzz_one_nir_graph},
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of `dir` (sorted by name) through `run`; returns how many. A
 * missing folder holds none. */
static size_t replay_dir(const char *dir, fuzz_entry run)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char *names[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < sizeof names / sizeof names[0])
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_name);
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL;
        long len = -1;
        if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            buf = malloc((size_t)len + 1);
            if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len)
                len = -1;
        }
        if (f)
            fclose(f);
        CHECK(buf && len >= 0, "%s: cannot read", path);
        if (buf && len >= 0) {
            /* a copy of exactly len bytes, so ASan sees any read past the input */
            uint8_t *exact = malloc(len ? (size_t)len : 1);
            memcpy(exact, buf, (size_t)len);
            CHECK(run(exact, (size_t)len) == 0, "%s: target returned non-zero", path);
            free(exact);
            done++;
        }
        free(buf);
        free(names[i]);
    }
    return done;
}

int main(void)
{
    char root[1024];
    check_source_path("fuzz", root, sizeof root);
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/corpus/%s", root, targets[t].name);
        size_t seeds = replay_dir(dir, targets[t].run);
        snprintf(dir, sizeof dir, "%s/regressions/%s", root, targets[t].name);
        size_t regressions = replay_dir(dir, targets[t].run);
        CHECK(seeds > 0, "fuzz target %s: no seeds in %s/corpus/%s", targets[t].name, root,
              targets[t].name);
        printf("fuzz %-8s %3zu seeds, %3zu regressions replayed\n", targets[t].name, seeds,
               regressions);
    }
    return check_finish("fuzz corpus replay");
}
