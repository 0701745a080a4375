/*
 * fuzz_idx.c — IDX files (src/data/idx.c): sbp_idx_read alone and sbp_dataset_load_idx on a
 * pair. The input is split (fuzz_split) into an image file and a label file; each may be raw
 * or gzip-compressed. A successful load must give a data set whose shape agrees with the
 * bytes it holds.
 */
#include "fuzz_common.h"

#include "data/dataset.h"
#include "data/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *a, *b;
    size_t na, nb;
    fuzz_split(data, size, &a, &na, &b, &nb);
    char ipath[300], lpath[300];
    fuzz_write("images", a, na, ipath, sizeof ipath);
    fuzz_write("labels", b, nb, lpath, sizeof lpath);

    /* the reader alone, with each magic the library uses and the widest one */
    static const uint32_t magics[] = {SBP_IDX_MAGIC_IMAGES, SBP_IDX_MAGIC_LABELS, 0x00000804u};
    for (size_t m = 0; m < sizeof magics / sizeof magics[0]; m++) {
        sbp_error err = {0};
        uint32_t dims[SBP_IDX_MAX_DIMS];
        int ndim = 0;
        uint8_t *bytes = NULL;
        size_t n = 0;
        sbp_status st = sbp_idx_read(ipath, magics[m], dims, &ndim, &bytes, &n, &err);
        fuzz_check_error(st, &err);
        if (st == SBP_OK) {
            size_t prod = 1;
            for (int i = 0; i < ndim; i++)
                prod *= dims[i];
            if (ndim != (int)(magics[m] & 0xff) || prod != n || !bytes)
                abort();
            volatile uint8_t sink = 0;
            for (size_t i = 0; i < n; i++) /* every byte must be readable */
                sink ^= bytes[i];
            (void)sink;
        } else if (bytes) {
            abort(); /* *data must be NULL on failure */
        }
        free(bytes);
    }

    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    sbp_status st = sbp_dataset_load_idx(&ds, ipath, lpath, &err);
    fuzz_check_error(st, &err);
    if (st == SBP_OK) {
        int c, h, w;
        sbp_dataset_shape(ds, &c, &h, &w);
        size_t n = sbp_dataset_count(ds);
        if (c != 1 || h < 1 || w < 1 || n < 1 || sbp_dataset_classes(ds) != 10)
            abort();
        volatile unsigned sink = 0;
        for (size_t i = 0; i < n; i++) {
            int l = sbp_dataset_label(ds, i);
            if (l < 0 || l >= 10)
                abort();
            const uint8_t *img = sbp_dataset_image(ds, i);
            sink += img[0] + img[(size_t)h * (size_t)w - 1];
        }
        (void)sink;
    } else if (ds) {
        abort();
    }
    sbp_dataset_free(ds);
    return 0;
}
