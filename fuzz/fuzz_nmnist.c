/*
 * fuzz_nmnist.c — N-MNIST event recordings (src/data/nmnist.c). Byte 0 of the input picks the
 * number of time steps T = 1 + byte (1 … 256); the rest is the recording. A load must give one
 * spike sample (T, 2, 34, 34) of 0/1 values.
 */
#include "fuzz_common.h"

#include "data/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const int T = 1 + data[0];
    char path[300];
    fuzz_write("rec.bin", data + 1, size - 1, path, sizeof path);
    const char *paths[1] = {path};
    const int labels[1] = {7};
    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    sbp_status st = sbp_dataset_load_nmnist(&ds, paths, labels, 1, T, &err);
    fuzz_check_error(st, &err);
    if (st == SBP_OK) {
        int c, h, w;
        sbp_dataset_shape(ds, &c, &h, &w);
        if (c != 2 || h != 34 || w != 34 || sbp_dataset_count(ds) != 1 ||
            sbp_dataset_timesteps(ds) != T || sbp_dataset_label(ds, 0) != 7 ||
            sbp_dataset_image(ds, 0) != NULL)
            abort();
        size_t ones = 0;
        for (size_t i = 0; i < (size_t)T * 2 * 34 * 34; i++) {
            if (ds->spikes[i] != 0 && ds->spikes[i] != 1)
                abort();
            ones += (size_t)ds->spikes[i];
        }
        /* every recording has events, and its first and last land in frames 0 and T-1 */
        if (ones < 1 || (size - 1) / 5 < ones)
            abort();
    } else if (ds) {
        abort();
    }
    sbp_dataset_free(ds);
    return 0;
}
