/*
 * fuzz_nir.c — NIR graphs (src/io/nir_read.c, sbp_net_import_nir): the input is written as a file
 * and imported. A failure must leave a coherent error record and no network; a graph that
 * imports must export and import again to the same network, constants, metadata and weights
 * (the writer and the reader agree on everything the reader accepted). Built without HDF5 the
 * import refuses every input as unsupported, which is checked too.
 *
 * libhdf5 parses the container (superblock, B-trees, heaps, filters) before spikebp sees a
 * node; a crash inside libhdf5 on a corrupt file is a libhdf5 bug, reported as such in
 * fuzz/README.md rather than worked around here.
 */
#include "fuzz_common.h"

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300], path2[300];
    fuzz_write("graph.nir", data, size, path, sizeof path);
    sbp_error err = {0};
    sbp_net *net = NULL;
    sbp_status st = sbp_net_import_nir(&net, path, &err);
    fuzz_check_error(st, &err);
    if (st != SBP_OK) {
        if (net || (!sbp_nir_supported() && st != SBP_ERR_UNSUPPORTED))
            abort();
        return 0;
    }
    snprintf(path2, sizeof path2, "%s/graph2.nir", fuzz_dir());
    st = sbp_net_export_nir(net, path2, &err);
    if (st != SBP_OK) {
        fprintf(stderr, "fuzz_nir: an imported graph does not export: %s\n", err.msg);
        abort();
    }
    sbp_net *again = NULL;
    st = sbp_net_import_nir(&again, path2, &err);
    if (st != SBP_OK) {
        fprintf(stderr, "fuzz_nir: an exported graph does not import: %s\n", err.msg);
        abort();
    }
    const sbp_net_spec *a = &net->spec, *b = &again->spec;
    int same = again->n_params == net->n_params && again->n_meta == net->n_meta &&
               memcmp(again->params, net->params, net->n_params * sizeof(float)) == 0 &&
               a->in_c == b->in_c && a->in_h == b->in_h && a->in_w == b->in_w &&
               a->n_layers == b->n_layers && a->leak == b->leak && a->vth == b->vth &&
               a->vth_pool == b->vth_pool && a->init_gain == b->init_gain;
    for (int i = 0; same && i < a->n_layers; i++)
        same = a->layers[i].kind == b->layers[i].kind && a->layers[i].out == b->layers[i].out &&
               a->layers[i].kernel == b->layers[i].kernel &&
               a->layers[i].stride == b->layers[i].stride && a->layers[i].pad == b->layers[i].pad &&
               a->layers[i].dropout == b->layers[i].dropout &&
               a->layers[i].shortcut == b->layers[i].shortcut &&
               (a->layers[i].shortcut == SBP_SHORTCUT_NONE ||
                a->layers[i].shortcut_from == b->layers[i].shortcut_from);
    for (int k = 0; same && k < net->n_meta; k++) {
        const char *v = sbp_net_get_meta(again, net->meta_key[k]);
        same = v && !strcmp(v, net->meta_val[k]);
    }
    if (!same) {
        fprintf(stderr, "fuzz_nir: export + import changed the network\n");
        abort();
    }
    sbp_net_free(again);
    sbp_net_free(net);
    return 0;
}
