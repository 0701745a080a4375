/*
 * fuzz_npz.c — NumPy .npz archives (src/formats/npz.c through libzip: sbp_npz_read,
 * sbp_dataset_load_npz) and the weight import that reads them (src/io/interchange.c,
 * sbp_net_import_npz, on a small network with a conv shortcut). The input is one archive.
 * libzip itself is not instrumented for coverage.
 */
#include "fuzz_common.h"

#include <math.h>

#include "data/dataset.h"
#include "formats/npy.h"
#include "net/net.h"

/* 4×4×1 → conv 2 (name a) → conv 3 with a 1×1 conv shortcut from a → output 2: tensors
 * layer0.conv.weight (2,1,3,3), layer1.conv.weight (3,2,3,3), layer1.shortcut.weight
 * (3,2,1,1), layer2.output.weight (2,48). fuzz/corpus/npz holds its export. */
static const char npz_net_text[] = "[input]\nshape = 4x4x1\n"
                                   "[conv]\nfilters = 2\nkernel = 3\nname = a\n"
                                   "[conv]\nfilters = 3\nkernel = 3\nshortcut = conv\nfrom = a\n"
                                   "[output]\nclasses = 2\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    fuzz_write("arrays.npz", data, size, path, sizeof path);

    sbp_error err = {0};
    sbp_npy_array a;
    sbp_status st = sbp_npz_read(&a, path, "x", &err);
    fuzz_check_error(st, &err);
    if (st == SBP_OK) {
        size_t count = 1;
        for (int i = 0; i < a.ndim; i++)
            count *= a.shape[i];
        if (count != a.count || a.nbytes != a.count * sbp_npy_dtype_size(a.dtype) || !a.data)
            abort();
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < a.nbytes; i++)
            sink ^= ((const uint8_t *)a.data)[i];
        (void)sink;
    }
    sbp_npy_array_free(&a);

    sbp_dataset *ds = NULL;
    st = sbp_dataset_load_npz(&ds, path, NULL, NULL, &err);
    fuzz_check_error(st, &err);
    if (st == SBP_OK) {
        int c, h, w;
        sbp_dataset_shape(ds, &c, &h, &w);
        size_t n = sbp_dataset_count(ds);
        int T = sbp_dataset_timesteps(ds), classes = sbp_dataset_classes(ds);
        if (c < 1 || c > SBP_DATASET_MAX_CH || h < 1 || w < 1 || n < 1 || T < 0 ||
            classes < 2)
            abort();
        for (size_t i = 0; i < n; i++)
            if (sbp_dataset_label(ds, i) < 0 || sbp_dataset_label(ds, i) >= classes)
                abort();
    } else if (ds) {
        abort();
    }
    sbp_dataset_free(ds);

    sbp_net_spec spec;
    sbp_net *net = NULL;
    if (sbp_net_spec_parse_description(&spec, npz_net_text, "fuzz", &err) != SBP_OK ||
        sbp_net_create(&net, &spec, 1, &err) != SBP_OK) {
        fprintf(stderr, "fuzz_npz: the fixed network does not build: %s\n", err.msg);
        abort();
    }
    float *before = malloc(net->n_params * sizeof(float));
    if (before) {
        memcpy(before, net->params, net->n_params * sizeof(float));
        st = sbp_net_import_npz(net, path, &err);
        fuzz_check_error(st, &err);
        if (st != SBP_OK && memcmp(before, net->params, net->n_params * sizeof(float)) != 0)
            abort(); /* a failed import must leave the weights as they were */
        if (st == SBP_OK)
            for (size_t i = 0; i < net->n_params; i++)
                if (!isfinite(net->params[i]))
                    abort();
        free(before);
    }
    sbp_net_free(net);
    return 0;
}
