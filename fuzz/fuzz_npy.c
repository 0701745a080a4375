/*
 * fuzz_npy.c — NumPy .npy files (src/formats/npy.c: sbp_npy_read, sbp_dataset_load_npy). The input
 * is split (fuzz_split) into a data file and a label file; each is read alone, then the pair
 * is loaded as a data set. An array that reads must hold exactly count · size bytes, each
 * readable through sbp_npy_get_int for the integer types.
 */
#include "fuzz_common.h"

#include "data/dataset.h"
#include "formats/npy.h"

static void npy_check_array(const char *path)
{
    sbp_error err = {0};
    sbp_npy_array a;
    sbp_status st = sbp_npy_read(&a, path, &err);
    fuzz_check_error(st, &err);
    if (st != SBP_OK) {
        if (a.data)
            abort();
        return;
    }
    size_t count = 1;
    for (int i = 0; i < a.ndim; i++)
        count *= a.shape[i];
    if (a.ndim < 0 || a.ndim > SBP_NPY_MAX_DIMS || count != a.count ||
        a.nbytes != a.count * sbp_npy_dtype_size(a.dtype) || !a.data)
        abort();
    if (sbp_npy_dtype_is_int(a.dtype) || a.dtype == SBP_NPY_BOOL) {
        volatile uint64_t sink = 0;
        for (size_t i = 0; i < a.count; i++)
            sink += (uint64_t)sbp_npy_get_int(&a, i);
        (void)sink;
    } else {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < a.nbytes; i++)
            sink ^= ((const uint8_t *)a.data)[i];
        (void)sink;
    }
    sbp_npy_array_free(&a);
}

static void npy_check_dataset(const sbp_dataset *ds)
{
    int c, h, w;
    sbp_dataset_shape(ds, &c, &h, &w);
    size_t n = sbp_dataset_count(ds);
    int T = sbp_dataset_timesteps(ds), classes = sbp_dataset_classes(ds);
    if (c < 1 || c > SBP_DATASET_MAX_CH || h < 1 || w < 1 || n < 1 || T < 0 || classes < 2 ||
        classes > 256)
        abort();
    const size_t per = (size_t)c * (size_t)h * (size_t)w;
    volatile int sink = 0;
    for (size_t i = 0; i < n; i++) {
        int l = sbp_dataset_label(ds, i);
        if (l < 0 || l >= classes)
            abort();
        if (T == 0) {
            const uint8_t *img = sbp_dataset_image(ds, i);
            sink += img[0] + img[per - 1];
        } else {
            const int8_t *s = ds->spikes + i * per * (size_t)T;
            sink += s[0] + s[per * (size_t)T - 1];
            if (sbp_dataset_image(ds, i) != NULL)
                abort();
        }
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *a, *b;
    size_t na, nb;
    fuzz_split(data, size, &a, &na, &b, &nb);
    char xpath[300], ypath[300];
    fuzz_write("x.npy", a, na, xpath, sizeof xpath);
    fuzz_write("y.npy", b, nb, ypath, sizeof ypath);
    npy_check_array(xpath);
    npy_check_array(ypath);

    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    sbp_status st = sbp_dataset_load_npy(&ds, xpath, ypath, &err);
    fuzz_check_error(st, &err);
    if (st == SBP_OK)
        npy_check_dataset(ds);
    else if (ds)
        abort();
    sbp_dataset_free(ds);
    return 0;
}
