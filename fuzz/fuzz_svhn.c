/*
 * fuzz_svhn.c — SVHN MATLAB files (src/data/svhn.c, through libmatio): the input is one .mat
 * file. A load must give 3×32×32 images with labels 0–9. libmatio itself is not instrumented
 * for coverage; what is fuzzed is our use of it on hostile files.
 */
#include "fuzz_common.h"

#include "data/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    fuzz_write("svhn.mat", data, size, path, sizeof path);
    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    sbp_status st = sbp_dataset_load_svhn(&ds, path, &err);
    fuzz_check_error(st, &err);
    if (st == SBP_OK) {
        int c, h, w;
        sbp_dataset_shape(ds, &c, &h, &w);
        size_t n = sbp_dataset_count(ds);
        if (c != 3 || h != 32 || w != 32 || n < 1 || sbp_dataset_classes(ds) != 10)
            abort();
        volatile unsigned sink = 0;
        for (size_t i = 0; i < n; i++) {
            int l = sbp_dataset_label(ds, i);
            if (l < 0 || l > 9)
                abort();
            sink += sbp_dataset_image(ds, i)[3071];
        }
        (void)sink;
    } else if (ds) {
        abort();
    }
    sbp_dataset_free(ds);
    return 0;
}
