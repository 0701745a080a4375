/*
 * test_nir.c — NIR export and import (src/io/nir_write.c, nir_read.c, docs/nir.md):
 *
 *   - round trip: LeNet, VGG9, ResNet11 (1×1 conv and subsample shortcuts) and a description
 *     with identity shortcuts (from the input and from the layer before), a stride-2 conv
 *     without padding, two dense layers and non-default neuron constants, and a network without
 *     leak (λ = 1, written as NIR's IF and I nodes): export, import, and
 *     the network comes back with the same layers, constants, dropout and metadata, and every
 *     weight bit for bit;
 *   - the file read independently with libhdf5 (not through nir_read.c): the neuron parameters are
 *     nir.h's mapping of the constants (tau = dt/(1−λ), r = tau/dt for LIF, λ·tau/dt for LI,
 *     1/dt for IF), and a weight dataset holds the network's weights;
 *   - malformed files, made by editing a good one with libhdf5: a missing node, an unknown
 *     node type, a node of the wrong type, a weight of the wrong shape, a non-finite weight,
 *     a LIF whose r does not match spikebp's neuron, thresholds that differ between neurons,
 *     a missing key, no edges, an edge to a missing node, a bias, an edge listed twice, a
 *     feedback edge, a file that is not HDF5, a missing file — each refused with the status
 *     and a message naming the file and the node, never a network; and a graph stripped of
 *     all metadata, which imports from the graph alone;
 *   - a build without HDF5: sbp_nir_supported() is 0 and both calls say there is no NIR
 *     support.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io/nir.h"
#include "net/net.h"
#include "spikebp.h"

static char g_dir[256];

static const char *tpath(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", g_dir, name);
    return buf;
}

#ifndef SBP_HAVE_HDF5

int main(void)
{
    sbp_error err = {0};
    sbp_net *net = NULL, *back = (sbp_net *)1;
    sbp_net_spec spec;
    CHECK(!sbp_nir_supported(), "sbp_nir_supported() without HDF5");
    CHECK(sbp_net_spec_builtin(&spec, "lenet", &err) == SBP_OK &&
              sbp_net_create(&net, &spec, 1, &err) == SBP_OK,
          "lenet: %s", err.msg);
    CHECK(sbp_net_export_nir(net, "/tmp/x.nir", &err) == SBP_ERR_UNSUPPORTED &&
              strstr(err.msg, "no NIR support"),
          "export without HDF5: %s", err.msg);
    CHECK(sbp_net_import_nir(&back, "/tmp/x.nir", &err) == SBP_ERR_UNSUPPORTED && !back &&
              strstr(err.msg, "no NIR support"),
          "import without HDF5: %s", err.msg);
    sbp_net_free(net);
    return check_finish("test_nir (no HDF5)");
}

#else

#include <hdf5.h>

/* ---------------------------------------------------------------- round trip */

static void compare_nets(const char *what, const sbp_net *a, const sbp_net *b)
{
    const sbp_net_spec *x = &a->spec, *y = &b->spec;
    CHECK(x->in_c == y->in_c && x->in_h == y->in_h && x->in_w == y->in_w, "%s: input shape",
          what);
    CHECK(x->n_layers == y->n_layers, "%s: %d layers back, %d written", what, y->n_layers,
          x->n_layers);
    CHECK(x->leak == y->leak && x->vth == y->vth && x->vth_pool == y->vth_pool &&
              x->init_gain == y->init_gain,
          "%s: constants %.9g %.9g %.9g %.9g back as %.9g %.9g %.9g %.9g", what, x->leak, x->vth,
          x->vth_pool, x->init_gain, y->leak, y->vth, y->vth_pool, y->init_gain);
    for (int i = 0; i < x->n_layers && i < y->n_layers; i++) {
        const sbp_layer_spec *p = &x->layers[i], *q = &y->layers[i];
        CHECK(p->kind == q->kind, "%s: layer %d kind", what, i);
        if (p->kind != SBP_LAYER_POOL)
            CHECK(p->out == q->out, "%s: layer %d out %d vs %d", what, i, p->out, q->out);
        if (p->kind == SBP_LAYER_CONV)
            CHECK(p->kernel == q->kernel && p->stride == q->stride && p->pad == q->pad,
                  "%s: layer %d geometry", what, i);
        CHECK(p->dropout == q->dropout, "%s: layer %d dropout %g vs %g", what, i, p->dropout,
              q->dropout);
        CHECK(p->shortcut == q->shortcut, "%s: layer %d shortcut %s vs %s", what, i,
              sbp_shortcut_name(p->shortcut), sbp_shortcut_name(q->shortcut));
        if (p->shortcut != SBP_SHORTCUT_NONE)
            CHECK(p->shortcut_from == q->shortcut_from, "%s: layer %d shortcut from %d vs %d",
                  what, i, p->shortcut_from, q->shortcut_from);
    }
    CHECK(a->n_params == b->n_params, "%s: %zu weights back, %zu written", what, b->n_params,
          a->n_params);
    if (a->n_params == b->n_params)
        CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0,
              "%s: weights not bit-identical", what);
    CHECK(a->n_meta == b->n_meta, "%s: %d metadata entries back, %d written", what, b->n_meta,
          a->n_meta);
    for (int k = 0; k < a->n_meta; k++) {
        const char *v = sbp_net_get_meta(b, a->meta_key[k]);
        CHECK(v && !strcmp(v, a->meta_val[k]), "%s: metadata %s", what, a->meta_key[k]);
    }
}

/* Reads a float dataset of a node with plain libhdf5; returns its first element (NAN if
 * unreadable) and the element count in *n. */
static double h5_first(const char *file, const char *dset, size_t *n)
{
    *n = 0;
    double v = NAN;
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, dset, H5P_DEFAULT) : -1;
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : 0;
    double *buf = np > 0 ? malloc((size_t)np * sizeof *buf) : NULL;
    if (buf && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
        v = buf[0];
        *n = (size_t)np;
        for (hssize_t j = 1; j < np; j++)
            if (buf[j] != buf[0])
                v = NAN; /* spikebp's constants are per network: all equal */
    }
    free(buf);
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    if (f >= 0)
        H5Fclose(f);
    return v;
}

static void check_mapping(const char *file, const sbp_net *net)
{
    const double dt = SBP_NIR_DT, lam = net->spec.leak, tau = dt / (1 - lam);
    size_t n;
    double v = h5_first(file, "/node/nodes/lif0/tau", &n);
    CHECK(fabs(v - tau) <= 1e-6 * tau && n == net->layers[0].n_out,
          "lif0 tau %.9g (%zu values), expected %.9g (%zu)", v, n, tau, net->layers[0].n_out);
    v = h5_first(file, "/node/nodes/lif0/r", &n);
    CHECK(fabs(v - tau / dt) <= 1e-5 * tau / dt, "lif0 r %.9g, expected tau/dt = %.9g", v,
          tau / dt);
    v = h5_first(file, "/node/nodes/lif0/v_threshold", &n);
    CHECK(v == (double)net->spec.vth, "lif0 v_threshold %g", v);
    v = h5_first(file, "/node/nodes/lif0/v_reset", &n);
    CHECK(v == 0.0, "lif0 v_reset %g", v);
    v = h5_first(file, "/node/nodes/if1/r", &n);
    CHECK(fabs(v - 1 / dt) <= 1e-5 / dt, "if1 r %.9g, expected 1/dt", v);
    v = h5_first(file, "/node/nodes/if1/v_threshold", &n);
    CHECK(v == (double)net->spec.vth_pool, "if1 v_threshold %g", v);
    char li[64];
    snprintf(li, sizeof li, "/node/nodes/li%d/r", net->n_layers - 1);
    v = h5_first(file, li, &n);
    CHECK(fabs(v - lam * tau / dt) <= 1e-5 * tau / dt, "%s %.9g, expected λ·tau/dt = %.9g", li,
          v, lam * tau / dt);
    /* a weight read straight from the file */
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, "/node/nodes/conv0/weight", H5P_DEFAULT) : -1;
    float *w = malloc(net->layers[0].w_count * sizeof *w);
    CHECK(d >= 0 && w && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) >= 0 &&
              memcmp(w, net->params + net->layers[0].w_offset,
                     net->layers[0].w_count * sizeof *w) == 0,
          "conv0/weight read with libhdf5 differs from layer 0's weights");
    free(w);
    if (d >= 0)
        H5Dclose(d);
    if (f >= 0)
        H5Fclose(f);
}

static void round_trip(const char *what, const sbp_net_spec *spec, int mapping)
{
    sbp_error err = {0};
    sbp_net *net = NULL, *back = NULL;
    char path[512], name[64];
    snprintf(name, sizeof name, "%s.nir", what);
    tpath(path, sizeof path, name);
    CHECK(sbp_net_create(&net, spec, 11, &err) == SBP_OK, "%s: create: %s", what, err.msg);
    if (!net)
        return;
    sbp_net_set_meta(net, "data", "mnist", &err);
    sbp_net_set_meta(net, "timesteps", "37", &err);
    CHECK(sbp_net_export_nir(net, path, &err) == SBP_OK, "%s: export: %s", what, err.msg);
    CHECK(sbp_net_import_nir(&back, path, &err) == SBP_OK, "%s: import: %s", what, err.msg);
    if (back)
        compare_nets(what, net, back);
    if (mapping)
        check_mapping(path, net);
    sbp_net_free(back);
    sbp_net_free(net);
}

static const char custom[] = "[input]\nshape = 13x13x2\n"
                             "[neuron]\nleak = 0.95\nthreshold = 0.8\npool_threshold = 0.6\n"
                             "init_gain = 1.5\n"
                             "[conv]\nname = a\nfilters = 2\nkernel = 3\nshortcut = identity\n"
                             "from = input\ndropout = 0.1\n"
                             "[conv]\nname = b\nfilters = 2\nkernel = 1\nshortcut = identity\n"
                             "from = a\n"
                             "[conv]\nfilters = 2\nkernel = 3\nstride = 2\npad = 1\n"
                             "shortcut = subsample\nfrom = b\n"
                             "[conv]\nfilters = 3\nkernel = 2\nstride = 2\npad = 0\n"
                             "[pool]\n"
                             "[dense]\nunits = 9\n[dense]\nunits = 7\ndropout = 0.3\n"
                             "[output]\nclasses = 3\n";

static const char no_leak[] = "[input]\nshape = 8x8x1\n[neuron]\nleak = 1\n"
                              "[conv]\nfilters = 2\nkernel = 3\n[pool]\n[dense]\nunits = 5\n"
                              "[output]\nclasses = 3\n";

/* ---------------------------------------------------------------- malformed files */

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    int ok = a && b;
    char buf[1 << 16];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0)
        ok = fwrite(buf, 1, n, b) == n;
    if (a)
        fclose(a);
    if (b && fclose(b) != 0)
        ok = 0;
    return ok;
}

static int set_string(hid_t loc, const char *key, const char *value)
{
    if (H5Lexists(loc, key, H5P_DEFAULT) > 0 && H5Ldelete(loc, key, H5P_DEFAULT) < 0)
        return 0;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, key, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) >= 0;
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    return ok;
}

/* Replaces dataset `key` of `loc` by a float array of `rank` dims, every element `v`. */
static int set_floats(hid_t loc, const char *key, int rank, const hsize_t *dims, float v)
{
    if (H5Lexists(loc, key, H5P_DEFAULT) > 0 && H5Ldelete(loc, key, H5P_DEFAULT) < 0)
        return 0;
    size_t n = 1;
    for (int k = 0; k < rank; k++)
        n *= (size_t)dims[k];
    float *buf = malloc(n * sizeof *buf);
    for (size_t j = 0; buf && j < n; j++)
        buf[j] = v;
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(loc, key, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = buf && d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
    free(buf);
    return ok;
}

/* Sets element `j` of float dataset `key` of `loc` to v, keeping the rest. */
static int poke_float(hid_t loc, const char *key, size_t j, float v)
{
    hid_t d = H5Dopen2(loc, key, H5P_DEFAULT);
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : 0;
    float *buf = n > (hssize_t)j ? malloc((size_t)n * sizeof *buf) : NULL;
    int ok = buf && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
    if (ok) {
        buf[j] = v;
        ok = H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
    }
    free(buf);
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    return ok;
}

typedef enum edit {
    E_NONE, E_DELETE_NODE, E_TYPE_UNKNOWN, E_TYPE_WRONG, E_WEIGHT_SHAPE, E_WEIGHT_NAN,
    E_LIF_R, E_THRESHOLD_VARIES, E_MISSING_KEY, E_NO_EDGES, E_EDGE_UNKNOWN, E_BIAS,
    E_NO_METADATA, E_EDGE_TWICE, E_RECURRENT
} edit;

static int apply(const char *file, edit e)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    hid_t nodes = H5Gopen2(f, "/node/nodes", H5P_DEFAULT);
    int ok = nodes >= 0;
    hsize_t d4[4] = {50, 21, 5, 5}, d3[3] = {20, 28, 28}, d1 = 200, d2[2] = {3, 2};
    switch (e) {
    case E_NONE: break;
    case E_DELETE_NODE: ok = ok && H5Ldelete(nodes, "lif2", H5P_DEFAULT) >= 0; break;
    case E_TYPE_UNKNOWN: ok = ok && set_string(nodes, "pool1/type", "SumPool2d"); break;
    case E_TYPE_WRONG: ok = ok && set_string(nodes, "lif0/type", "LI"); break;
    case E_WEIGHT_SHAPE: ok = ok && set_floats(nodes, "conv2/weight", 4, d4, 0.5f); break;
    case E_WEIGHT_NAN: ok = ok && poke_float(nodes, "fc4/weight", 7, NAN); break;
    case E_LIF_R: ok = ok && set_floats(nodes, "lif4/r", 1, &d1, 5.0f); break;
    case E_THRESHOLD_VARIES:
        ok = ok && set_floats(nodes, "lif0/v_threshold", 3, d3, 1.0f) &&
             poke_float(nodes, "lif0/v_threshold", 100, 1.5f);
        break;
    case E_MISSING_KEY: ok = ok && H5Ldelete(nodes, "pool3/stride", H5P_DEFAULT) >= 0; break;
    case E_NO_EDGES: ok = ok && H5Ldelete(f, "/node/edges", H5P_DEFAULT) >= 0; break;
    case E_EDGE_UNKNOWN: {
        ok = ok && H5Ldelete(f, "/node/edges", H5P_DEFAULT) >= 0;
        hid_t g = ok ? H5Gopen2(f, "/node", H5P_DEFAULT) : -1;
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        hid_t sp = H5Screate_simple(2, d2, NULL);
        const char *names[6] = {"input", "conv0", "conv0", "lif0", "lif0", "nowhere"};
        hid_t d = g >= 0 ? H5Dcreate2(g, "edges", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
        ok = d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0;
        if (d >= 0)
            H5Dclose(d);
        H5Sclose(sp);
        H5Tclose(t);
        if (g >= 0)
            H5Gclose(g);
        break;
    }
    case E_EDGE_TWICE:
    case E_RECURRENT: {
        /* LeNet's edges, plus conv0 → lif0 again or a feedback edge lif4 → lif0 */
        const char *names[30] = {"input", "conv0",   "conv0",    "lif0", "lif0", "pool1",
                                 "pool1", "if1",     "if1",      "conv2", "conv2", "lif2",
                                 "lif2",  "pool3",   "pool3",    "if3",  "if3",  "flatten4",
                                 "flatten4", "fc4",  "fc4",      "lif4", "lif4", "fc5",
                                 "fc5",   "li5",     "li5",      "output"};
        names[28] = e == E_EDGE_TWICE ? "conv0" : "lif4";
        names[29] = "lif0";
        hsize_t de[2] = {15, 2};
        ok = ok && H5Ldelete(f, "/node/edges", H5P_DEFAULT) >= 0;
        hid_t g = ok ? H5Gopen2(f, "/node", H5P_DEFAULT) : -1;
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        hid_t sp = H5Screate_simple(2, de, NULL);
        hid_t d = g >= 0 ? H5Dcreate2(g, "edges", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
        ok = d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0;
        if (d >= 0)
            H5Dclose(d);
        H5Sclose(sp);
        H5Tclose(t);
        if (g >= 0)
            H5Gclose(g);
        break;
    }
    case E_BIAS: ok = ok && poke_float(nodes, "conv0/bias", 3, 0.25f); break;
    case E_NO_METADATA: {
        ok = ok && H5Ldelete(f, "/node/metadata", H5P_DEFAULT) >= 0;
        static const char *const lifs[] = {"lif0/metadata", "lif2/metadata", "lif4/metadata"};
        for (int k = 0; k < 3; k++)
            ok = ok && H5Ldelete(nodes, lifs[k], H5P_DEFAULT) >= 0;
        break;
    }
    }
    if (nodes >= 0)
        H5Gclose(nodes);
    H5Fclose(f);
    return ok;
}

static void malformed(const char *good)
{
    static const struct {
        edit e;
        const char *what;
        sbp_status want;
        const char *needle1, *needle2;
    } cases[] = {
        {E_DELETE_NODE, "missing node", SBP_ERR_FORMAT, "'lif2'", "does not exist"},
        {E_TYPE_UNKNOWN, "unknown node type", SBP_ERR_UNSUPPORTED, "node 'pool1'", "SumPool2d"},
        {E_TYPE_WRONG, "wrong node type", SBP_ERR_UNSUPPORTED, "node 'pool1'", "'lif0' (LI)"},
        {E_WEIGHT_SHAPE, "weight shape", SBP_ERR_SHAPE, "node 'conv2'", "50×21×5×5"},
        {E_WEIGHT_NAN, "non-finite weight", SBP_ERR_NUMERIC, "node 'fc4'", "element 7"},
        {E_LIF_R, "LIF r", SBP_ERR_UNSUPPORTED, "node 'lif4'", "r = 5 "},
        {E_THRESHOLD_VARIES, "per-neuron threshold", SBP_ERR_UNSUPPORTED, "node 'lif0'",
         "differs between neurons"},
        {E_MISSING_KEY, "missing key", SBP_ERR_FORMAT, "node 'pool3'", "'stride' is missing"},
        {E_NO_EDGES, "no edges", SBP_ERR_FORMAT, "edges", ""},
        {E_EDGE_UNKNOWN, "edge to an unknown node", SBP_ERR_FORMAT, "'nowhere'", "does not exist"},
        {E_BIAS, "conv bias", SBP_ERR_UNSUPPORTED, "node 'conv0'", "no bias"},
        {E_EDGE_TWICE, "an edge twice", SBP_ERR_UNSUPPORTED, "conv0 → lif0", "listed twice"},
        {E_RECURRENT, "a feedback edge", SBP_ERR_UNSUPPORTED, "node 'lif0'", "from 'lif4'"},
    };
    char path[512];
    tpath(path, sizeof path, "bad.nir");
    /* control: an unedited copy loads (so the failures below come from the edits) */
    sbp_error err = {0};
    sbp_net *net = NULL;
    CHECK(copy_file(good, path) && apply(path, E_NONE), "copy the good file");
    CHECK(sbp_net_import_nir(&net, path, &err) == SBP_OK && net, "unedited copy: %s", err.msg);
    /* without any metadata (as another tool would write it): the graph alone gives the
     * network, its constants from the neuron parameters (λ = 1 − dt/tau rounds back to the
     * same float), the default dropout 0 and init gain 2, and every weight */
    sbp_net *plain = NULL;
    CHECK(copy_file(good, path) && apply(path, E_NO_METADATA), "strip the metadata");
    CHECK(sbp_net_import_nir(&plain, path, &err) == SBP_OK && plain, "no metadata: %s", err.msg);
    if (net && plain) {
        CHECK(plain->spec.leak == net->spec.leak && plain->spec.vth == net->spec.vth &&
                  plain->spec.vth_pool == net->spec.vth_pool,
              "no metadata: constants %.9g %.9g %.9g, expected %.9g %.9g %.9g", plain->spec.leak,
              plain->spec.vth, plain->spec.vth_pool, net->spec.leak, net->spec.vth,
              net->spec.vth_pool);
        CHECK(plain->n_meta == 0 && plain->spec.init_gain == 2.0f, "no metadata: defaults");
        CHECK(plain->n_params == net->n_params &&
                  memcmp(plain->params, net->params, net->n_params * sizeof(float)) == 0,
              "no metadata: weights");
    }
    sbp_net_free(plain);
    sbp_net_free(net);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        net = (sbp_net *)1;
        memset(&err, 0, sizeof err);
        CHECK(copy_file(good, path) && apply(path, cases[c].e), "%s: cannot make the file",
              cases[c].what);
        sbp_status st = sbp_net_import_nir(&net, path, &err);
        CHECK(st == cases[c].want && err.status == st, "%s: status %s, expected %s (%s)",
              cases[c].what, sbp_status_string(st), sbp_status_string(cases[c].want), err.msg);
        CHECK(net == NULL, "%s: a network was returned", cases[c].what);
        CHECK(strstr(err.msg, path) && strstr(err.msg, cases[c].needle1) &&
                  strstr(err.msg, cases[c].needle2),
              "%s: message '%s' lacks the file, '%s' or '%s'", cases[c].what, err.msg,
              cases[c].needle1, cases[c].needle2);
    }
    /* not HDF5 at all, and a missing file */
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs("[input]\nshape = 28x28x1\n", f);
        fclose(f);
    }
    net = (sbp_net *)1;
    CHECK(sbp_net_import_nir(&net, path, &err) == SBP_ERR_FORMAT && !net &&
              strstr(err.msg, path) && strstr(err.msg, "not HDF5"),
          "text file: %s", err.msg);
    unlink(path);
    net = (sbp_net *)1;
    CHECK(sbp_net_import_nir(&net, path, &err) == SBP_ERR_IO && !net && strstr(err.msg, path),
          "missing file: %s", err.msg);
}

/* A failed export leaves the previous file and no temporary behind. */
static void export_failure(const sbp_net *net)
{
    sbp_error err = {0};
    char path[512];
    CHECK(sbp_net_export_nir(net, "/nonexistent-folder/x.nir", &err) == SBP_ERR_IO &&
              strstr(err.msg, "/nonexistent-folder/x.nir"),
          "export into a missing folder: %s", err.msg);
    tpath(path, sizeof path, "keep.nir");
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs("previous", f);
        fclose(f);
    }
    CHECK(sbp_net_export_nir(net, path, &err) == SBP_OK, "export over a file: %s", err.msg);
    sbp_net *back = NULL;
    CHECK(sbp_net_import_nir(&back, path, &err) == SBP_OK, "replaced file: %s", err.msg);
    sbp_net_free(back);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/sbp-nir-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    CHECK(sbp_nir_supported(), "sbp_nir_supported() in a build with HDF5");
    sbp_error err = {0};
    sbp_net_spec spec;
    static const char *const builtins[] = {"lenet", "resnet11", "vgg9"};
    for (size_t k = 0; k < sizeof builtins / sizeof builtins[0]; k++) {
        CHECK(sbp_net_spec_builtin(&spec, builtins[k], &err) == SBP_OK, "%s: %s", builtins[k],
              err.msg);
        round_trip(builtins[k], &spec, k == 0);
    }
    CHECK(sbp_net_spec_parse_description(&spec, custom, "custom", &err) == SBP_OK, "custom: %s",
          err.msg);
    round_trip("custom", &spec, 0);
    /* λ = 1: no leak, so NIR's IF (hidden) and I (output) instead of an infinite tau */
    CHECK(sbp_net_spec_parse_description(&spec, no_leak, "no_leak", &err) == SBP_OK,
          "no_leak: %s", err.msg);
    round_trip("no_leak", &spec, 0);
    {
        char p[512];
        size_t n;
        tpath(p, sizeof p, "no_leak.nir");
        double r0 = h5_first(p, "/node/nodes/if0/r", &n), r3 = h5_first(p, "/node/nodes/i3/r", &n);
        CHECK(fabs(r0 * SBP_NIR_DT - 1) < 1e-6 && fabs(r3 * SBP_NIR_DT - 1) < 1e-6,
              "no_leak: IF/I r = %g, %g, expected 1/dt", r0, r3);
        hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
        CHECK(f >= 0 && H5Lexists(f, "/node/nodes/if0", H5P_DEFAULT) > 0 &&
                  H5Lexists(f, "/node/nodes/if0/tau", H5P_DEFAULT) == 0,
              "no_leak: layer 0 is not an IF node without tau");
        if (f >= 0)
            H5Fclose(f);
    }

    char good[512];
    tpath(good, sizeof good, "lenet.nir");
    malformed(good);
    sbp_net *net = NULL;
    CHECK(sbp_net_spec_builtin(&spec, "lenet", &err) == SBP_OK &&
              sbp_net_create(&net, &spec, 3, &err) == SBP_OK,
          "lenet: %s", err.msg);
    if (net)
        export_failure(net);
    sbp_net_free(net);

    /* the scratch folder holds only what the test wrote: no temporaries left behind */
    static const char *const files[] = {"lenet.nir", "resnet11.nir", "vgg9.nir", "custom.nir",
                                        "no_leak.nir", "keep.nir"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char p[512];
        unlink(tpath(p, sizeof p, files[k]));
    }
    CHECK(rmdir(g_dir) == 0, "%s is not empty after the test (a temporary left behind?)", g_dir);
    return check_finish("test_nir");
}

#endif
