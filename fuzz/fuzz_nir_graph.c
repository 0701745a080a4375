/*
 * fuzz_nir_graph.c — the NIR reader's own logic (src/io/nir_read.c) on structurally valid
 * HDF5: the input is a list of edits applied with libhdf5 to a good graph (a small network with
 * identity, subsample and 1×1 conv shortcuts, pooling, flatten, dense and output layers,
 * exported once per process), then the edited file is imported. Raw bytes (fuzz_nir.c) spend
 * most of their time in libhdf5's container parser and stop at its first crash; edits reach
 * the walk over nodes and edges, the geometry and neuron checks and the weight reading.
 *
 * Each edit takes 8 bytes: op, node, key, and 5 bytes of argument. Ops: retype a node, delete
 * a key, replace a key by an array (rank, dims, dtype and fill from the argument, NaN and ±Inf
 * included), set one element of a key, delete a node, redirect an edge, delete an edge, set or
 * delete a graph metadata entry. Checks as in fuzz_nir.c: a coherent error record and no
 * network on failure; an imported network exports and imports to the same network.
 * Without HDF5 the input is ignored (there is nothing to edit).
 */
#include "fuzz_common.h"

#include "net/net.h"

#ifdef SBP_HAVE_HDF5
#include <hdf5.h>
#include <math.h>

static const char nirg_net[] =
    "[input]\nshape = 6x6x2\n"
    "[conv]\nname = a\nfilters = 2\nkernel = 3\ndropout = 0.25\n"
    "[conv]\nname = b\nfilters = 2\nkernel = 3\nstride = 2\nshortcut = subsample\nfrom = a\n"
    "[conv]\nname = c\nfilters = 3\nkernel = 1\nshortcut = conv\nfrom = b\n"
    "[conv]\nfilters = 3\nkernel = 3\nshortcut = identity\nfrom = c\n"
    "[pool]\n[dense]\nunits = 4\n[output]\nclasses = 2\n";

static unsigned char *nirg_base;
static size_t nirg_base_size;
static char nirg_nodes[32][64];
static int nirg_n_nodes;

static const char *const nirg_keys[] = {
    "weight", "bias", "stride", "padding", "dilation", "groups", "input_shape", "tau", "r",
    "v_leak", "v_threshold", "v_reset", "kernel_size", "start_dim", "end_dim", "input_type",
    "shape", "type", "metadata"};
static const char *const nirg_types[] = {"Input", "Output", "Conv2d", "AvgPool2d", "IF", "LIF",
                                         "LI", "Linear", "Affine", "Flatten", "SumPool2d",
                                         "NIRGraph", "Delay", "", "lif"};
static const char *const nirg_meta[] = {"spikebp_dt", "spikebp_leak", "spikebp_vth",
                                        "spikebp_vth_pool", "spikebp_init_gain",
                                        "spikebp_meta_data", "spikebp_meta_timesteps"};
#define NIRG_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The good graph, exported once and kept in memory. */
static void nirg_setup(void)
{
    if (nirg_base)
        return;
    sbp_error err = {0};
    sbp_net_spec spec;
    sbp_net *net = NULL;
    char p[300];
    snprintf(p, sizeof p, "%s/base.nir", fuzz_dir());
    if (sbp_net_spec_parse_description(&spec, nirg_net, "fuzz_nir_graph", &err) != SBP_OK ||
        sbp_net_create(&net, &spec, 5, &err) != SBP_OK ||
        sbp_net_set_meta(net, "data", "mnist", &err) != SBP_OK ||
        sbp_net_export_nir(net, p, &err) != SBP_OK) {
        fprintf(stderr, "fuzz_nir_graph: cannot make the base graph: %s\n", err.msg);
        abort();
    }
    sbp_net_free(net);
    FILE *f = fopen(p, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0)
        abort();
    nirg_base_size = (size_t)ftell(f);
    nirg_base = malloc(nirg_base_size);
    rewind(f);
    if (!nirg_base || fread(nirg_base, 1, nirg_base_size, f) != nirg_base_size)
        abort();
    fclose(f);
    hid_t h = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g = H5Gopen2(h, "/node/nodes", H5P_DEFAULT);
    H5G_info_t gi;
    H5Gget_info(g, &gi);
    for (hsize_t k = 0; k < gi.nlinks && nirg_n_nodes < 32; k++)
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, k, nirg_nodes[nirg_n_nodes++], 64,
                           H5P_DEFAULT);
    H5Gclose(g);
    H5Fclose(h);
}

static void nirg_delete(hid_t loc, const char *name)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) > 0)
        H5Ldelete(loc, name, H5P_DEFAULT);
}

static void nirg_string(hid_t loc, const char *name, const char *value)
{
    nirg_delete(loc, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) {
        H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value);
        H5Dclose(d);
    }
    H5Sclose(sp);
    H5Tclose(t);
}

/* A float from 4 bytes a[0..3], with NaN, ±Inf and small integers made likely. */
static double nirg_value(const uint8_t *a)
{
    switch (a[0] % 8) {
    case 0: return NAN;
    case 1: return a[1] & 1 ? INFINITY : -INFINITY;
    case 2: return (double)(int8_t)a[1];
    case 3: return 0.0;
    default: {
        uint32_t u = (uint32_t)a[1] | (uint32_t)a[2] << 8 | (uint32_t)a[3] << 16 |
                     (uint32_t)(a[0] & 0x0f) << 24 | 0x3c000000u; /* magnitudes 2^−7 … 2^24 */
        float f;
        memcpy(&f, &u, 4);
        return a[0] & 0x10 ? -f : f;
    }
    }
}

/* Replaces loc/name by an array (a: 5 bytes): rank a[0]%4 (0 = scalar), dims 1 + a[1..3] % 6
 * (0 allowed when a[0] & 0x20), dtype float32, float64 or int64 from a[0] >> 6, every element
 * the value of a[1..4]. */
static void nirg_array(hid_t loc, const char *name, const uint8_t *a)
{
    nirg_delete(loc, name);
    int rank = a[0] % 4;
    hsize_t dims[3];
    size_t n = 1;
    for (int k = 0; k < rank; k++) {
        dims[k] = (a[0] & 0x20) ? a[1 + k] % 7 : 1 + a[1 + k] % 6;
        n *= (size_t)dims[k];
    }
    double v = nirg_value(a + 1);
    double *buf = malloc((n ? n : 1) * sizeof *buf);
    if (!buf)
        return;
    for (size_t j = 0; j < n; j++)
        buf[j] = v;
    hid_t ft = (a[0] >> 6) == 0 ? H5T_IEEE_F32LE : (a[0] >> 6) == 1 ? H5T_IEEE_F64LE : H5T_STD_I64LE;
    hid_t sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) {
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf); /* int: may fail */
        H5Dclose(d);
    }
    H5Sclose(sp);
    free(buf);
}

/* Sets element (a[0]·256 + a[1]) mod size of a numeric dataset to the value of a[1..4]. */
static void nirg_poke(hid_t loc, const char *name, const uint8_t *a)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return;
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    H5T_class_t cl = H5Tget_class(ft);
    if (n > 0 && n < (1 << 20) && (cl == H5T_FLOAT || cl == H5T_INTEGER)) {
        double *buf = malloc((size_t)n * sizeof *buf);
        if (buf && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
            buf[((size_t)a[0] * 256 + a[1]) % (size_t)n] = nirg_value(a + 1);
            H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        }
        free(buf);
    }
    H5Sclose(sp);
    H5Tclose(ft);
    H5Dclose(d);
}

/* Rewrites /node/edges: edge e redirected (mode 0) or removed (mode 1). */
static void nirg_edges(hid_t graph, int e, int mode, const char *from, const char *to)
{
    hid_t d = H5Dopen2(graph, "edges", H5P_DEFAULT);
    if (d < 0)
        return;
    hid_t sp = H5Dget_space(d), t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t dims[2] = {0, 0};
    char **names = NULL;
    int ok = H5Sget_simple_extent_ndims(sp) == 2 && H5Sget_simple_extent_dims(sp, dims, NULL) >= 0 &&
             dims[1] == 2 && dims[0] > 0 && dims[0] < 256;
    if (ok) {
        names = calloc(dims[0] * 2, sizeof *names);
        ok = names && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0;
    }
    H5Sclose(sp);
    H5Dclose(d);
    if (ok) {
        size_t E = (size_t)dims[0], k = (size_t)e % E;
        const char **out = calloc(E * 2, sizeof *out);
        size_t m = 0;
        for (size_t j = 0; out && j < E; j++) {
            if (j == k && mode == 1)
                continue;
            out[2 * m] = j == k ? from : names[2 * j];
            out[2 * m + 1] = j == k ? to : names[2 * j + 1];
            m++;
        }
        H5Ldelete(graph, "edges", H5P_DEFAULT);
        hsize_t nd[2] = {m, 2};
        hid_t s2 = H5Screate_simple(2, nd, NULL);
        hid_t d2 = H5Dcreate2(graph, "edges", t, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d2 >= 0 && m > 0)
            H5Dwrite(d2, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
        if (d2 >= 0)
            H5Dclose(d2);
        H5Sclose(s2);
        free(out);
    }
    for (size_t j = 0; names && j < dims[0] * 2; j++)
        if (names[j])
            H5free_memory(names[j]);
    free(names);
    H5Tclose(t);
}

static void nirg_edit(const char *path, const uint8_t *data, size_t size)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        abort(); /* the base graph always opens */
    hid_t graph = H5Gopen2(f, "/node", H5P_DEFAULT), nodes = H5Gopen2(f, "/node/nodes", H5P_DEFAULT);
    for (size_t at = 0; at + 8 <= size && at < 8 * 16; at += 8) {
        const uint8_t *b = data + at, *arg = b + 3;
        const char *node = nirg_nodes[b[1] % nirg_n_nodes];
        const char *key = nirg_keys[b[2] % NIRG_COUNT(nirg_keys)];
        if (H5Lexists(nodes, node, H5P_DEFAULT) <= 0)
            continue;
        hid_t g = H5Gopen2(nodes, node, H5P_DEFAULT);
        switch (b[0] % 9) {
        case 0: nirg_string(g, "type", nirg_types[arg[0] % NIRG_COUNT(nirg_types)]); break;
        case 1: nirg_delete(g, key); break;
        case 2:
            if (strcmp(key, "metadata") != 0)
                nirg_array(g, key, arg);
            break;
        case 3: nirg_poke(g, key, arg); break;
        case 4: H5Gclose(g); g = -1; nirg_delete(nodes, node); break;
        case 5:
            nirg_edges(graph, arg[0], 0, arg[1] % 8 ? node : "missing",
                       nirg_nodes[arg[2] % nirg_n_nodes]);
            break;
        case 6: nirg_edges(graph, arg[0], 1, NULL, NULL); break;
        case 7: {
            hid_t m = H5Gopen2(graph, "metadata", H5P_DEFAULT);
            const char *mk = nirg_meta[arg[0] % NIRG_COUNT(nirg_meta)];
            if (m >= 0) {
                if (arg[1] & 1)
                    nirg_delete(m, mk);
                else if (!strncmp(mk, "spikebp_meta_", 13))
                    nirg_string(m, mk, arg[2] & 1 ? "bad\nvalue" : "x");
                else
                    nirg_array(m, mk, arg);
                H5Gclose(m);
            }
            break;
        }
        default: /* a node's metadata entries */ {
            if (H5Lexists(g, "metadata", H5P_DEFAULT) > 0) {
                hid_t m = H5Gopen2(g, "metadata", H5P_DEFAULT);
                nirg_array(m, arg[0] & 1 ? "spikebp_dropout" : "spikebp_shortcut", arg);
                H5Gclose(m);
            }
            break;
        }
        }
        if (g >= 0)
            H5Gclose(g);
    }
    H5Gclose(nodes);
    H5Gclose(graph);
    H5Fclose(f);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifndef SBP_HAVE_HDF5
    (void)data;
    (void)size;
    return 0;
#else
    H5E_auto2_t func;
    void *cd;
    H5Eget_auto2(H5E_DEFAULT, &func, &cd);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the edits fail often; that is fine */
    nirg_setup();
    char path[300], path2[300];
    fuzz_write("edited.nir", nirg_base, nirg_base_size, path, sizeof path);
    nirg_edit(path, data, size);
    H5Eset_auto2(H5E_DEFAULT, func, cd);

    sbp_error err = {0};
    sbp_net *net = NULL;
    sbp_status st = sbp_net_import_nir(&net, path, &err);
    fuzz_check_error(st, &err);
    if (st != SBP_OK) {
        if (net)
            abort();
        return 0;
    }
    snprintf(path2, sizeof path2, "%s/edited2.nir", fuzz_dir());
    sbp_net *again = NULL;
    if (sbp_net_export_nir(net, path2, &err) != SBP_OK ||
        sbp_net_import_nir(&again, path2, &err) != SBP_OK) {
        fprintf(stderr, "fuzz_nir_graph: an imported graph does not go round: %s\n", err.msg);
        abort();
    }
    if (again->n_params != net->n_params || again->n_layers != net->n_layers ||
        memcmp(again->params, net->params, net->n_params * sizeof(float)) != 0 ||
        again->spec.leak != net->spec.leak || again->spec.vth != net->spec.vth ||
        again->spec.vth_pool != net->spec.vth_pool || again->n_meta != net->n_meta) {
        fprintf(stderr, "fuzz_nir_graph: export + import changed the network\n");
        abort();
    }
    for (int i = 0; i < net->n_layers; i++)
        if (again->spec.layers[i].kind != net->spec.layers[i].kind ||
            again->spec.layers[i].shortcut != net->spec.layers[i].shortcut ||
            again->spec.layers[i].dropout != net->spec.layers[i].dropout) {
            fprintf(stderr, "fuzz_nir_graph: export + import changed layer %d\n", i);
            abort();
        }
    sbp_net_free(again);
    sbp_net_free(net);
    return 0;
#endif
}
