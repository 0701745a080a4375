/*
 * fuzz_cifar.c — CIFAR-10 binary files (src/data/cifar.c): the input is one file, loaded alone
 * and as the two-file list {file, file}. A load must give 3×32×32 images with labels 0–9,
 * one per 3,073-byte record.
 */
#include "fuzz_common.h"

#include "data/dataset.h"

static void cifar_check(sbp_dataset *ds, size_t want)
{
    int c, h, w;
    sbp_dataset_shape(ds, &c, &h, &w);
    if (c != 3 || h != 32 || w != 32 || sbp_dataset_count(ds) != want ||
        sbp_dataset_classes(ds) != 10)
        abort();
    volatile unsigned sink = 0;
    for (size_t i = 0; i < want; i++) {
        int l = sbp_dataset_label(ds, i);
        if (l < 0 || l > 9)
            abort();
        sink += sbp_dataset_image(ds, i)[3071];
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    fuzz_write("data_batch.bin", data, size, path, sizeof path);

    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    sbp_status st = sbp_dataset_load_cifar10(&ds, path, &err);
    fuzz_check_error(st, &err);
    if (st == SBP_OK)
        cifar_check(ds, size / 3073);
    else if (ds)
        abort();
    sbp_dataset_free(ds);

    const char *const two[2] = {path, path};
    ds = NULL;
    st = sbp_dataset_load_cifar10_files(&ds, two, 2, &err);
    fuzz_check_error(st, &err);
    if (st == SBP_OK)
        cifar_check(ds, 2 * (size / 3073));
    sbp_dataset_free(ds);
    return 0;
}
