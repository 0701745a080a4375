/*
 * fuzz_model.c — model files (src/io/model.c, sbp_net_load). The last 4 bytes of a model are
 * a CRC-32 of the rest, which a mutated input would almost never match; so the target writes
 * the input with its last 4 bytes replaced by the right CRC, and the fuzzer explores what lies
 * behind the check (the CRC test itself is a single comparison). Valid model files in the
 * corpus are unchanged by this. A model that loads must save and load again to the same
 * network and weights.
 */
#include "fuzz_common.h"

#include <math.h>
#include <zlib.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    if (size >= 4) {
        uint32_t crc = (uint32_t)crc32_z(0L, buf, size - 4);
        for (int k = 0; k < 4; k++)
            buf[size - 4 + (size_t)k] = (uint8_t)(crc >> (8 * k));
    }
    char path[300], path2[300];
    fuzz_write("model.sbp", buf, size, path, sizeof path);
    free(buf);

    sbp_error err = {0};
    sbp_net *net = NULL;
    sbp_status st = sbp_net_load(&net, path, &err);
    fuzz_check_error(st, &err);
    if (st != SBP_OK) {
        if (net)
            abort();
        return 0;
    }
    /* issue 10: a model that loads holds no NaN/Inf weight, and the metadata spikebp reads
     * back is in range (src/io/model.c refuses anything else) */
    for (size_t i = 0; i < net->n_params; i++)
        if (!isfinite(net->params[i])) {
            fprintf(stderr, "fuzz_model: weight %zu of a loaded model is not finite\n", i);
            abort();
        }
    static const struct {
        const char *key;
        double lo, hi;
    } ranges[] = {{"timesteps", 1, 100000}, {"epochs", 1, 100000}, {"test_accuracy", 0, 1},
                  {"val_accuracy", 0, 1}};
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        const char *v = sbp_net_get_meta(net, ranges[k].key);
        char *end;
        double x = v ? strtod(v, &end) : 0;
        if (v && (end == v || *end || !(x >= ranges[k].lo && x <= ranges[k].hi))) {
            fprintf(stderr, "fuzz_model: a loaded model has %s = '%s'\n", ranges[k].key, v);
            abort();
        }
    }
    const char *bw = sbp_net_get_meta(net, "backward");
    if (bw && strcmp(bw, "exact") && strcmp(bw, "aggregate"))
        abort();
    /* round trip: save, load, compare */
    snprintf(path2, sizeof path2, "%s/model2.sbp", fuzz_dir());
    st = sbp_net_save(net, path2, &err);
    if (st != SBP_OK) {
        fprintf(stderr, "fuzz_model: a loaded model does not save: %s\n", err.msg);
        abort();
    }
    sbp_net *again = NULL;
    st = sbp_net_load(&again, path2, &err);
    if (st != SBP_OK) {
        fprintf(stderr, "fuzz_model: a saved model does not load: %s\n", err.msg);
        abort();
    }
    if (again->n_params != net->n_params || again->n_meta != net->n_meta ||
        memcmp(again->params, net->params, net->n_params * sizeof(float)) != 0 ||
        memcmp(&again->spec, &net->spec, sizeof net->spec) != 0) {
        fprintf(stderr, "fuzz_model: the round trip changed the network\n");
        abort();
    }
    for (int i = 0; i < net->n_meta; i++) {
        const char *v = sbp_net_get_meta(again, net->meta_key[i]);
        if (!v || strcmp(v, net->meta_val[i]) != 0) {
            fprintf(stderr, "fuzz_model: the round trip changed metadata '%s'\n",
                    net->meta_key[i]);
            abort();
        }
    }
    sbp_net_free(again);
    sbp_net_free(net);
    return 0;
}
