/*
 * nir_write.c — a network out as a NIR graph (an HDF5 file, docs/nir.md), with libhdf5.
 *
 * Layout (that of NIR's reference writer, nir.write): a root dataset "version" and a group
 * "node" holding the graph: type = "NIRGraph", a group "nodes" with one group per node (its
 * "type" string and its parameters as datasets), "edges" ((E, 2) strings, source →
 * destination; several edges into one node add their currents) and "metadata". Node keys are
 * exactly the fields of the reference classes, because its reader passes every key to the
 * class constructor and rejects unknown ones.
 *
 * Per spikebp layer i (0-based, as in the .npz names):
 *   conv    conv<i> Conv2d → lif<i> LIF           residual: shortcut<i> Conv2d 1×1 (conv),
 *   pool    pool<i> AvgPool2d 2×2/2 → if<i> IF      subsample<i> Conv2d 1×1/2 with the
 *   dense   [flatten<i>] → fc<i> Linear → lif<i>     identity matrix (subsample), or an edge
 *   output  [flatten<i>] → fc<i> Linear → li<i>      from the block input to lif<i> (identity)
 * between "input" (Input) and "output" (Output), neuron parameters per nir.h's mapping. The
 * graph alone describes the network (NIR asks that no reader need the metadata); the
 * metadata adds what NIR cannot say and makes the import (nir_read.c) exact: λ, thresholds
 * and the init gain as float32, dt, dropout per layer, the model's key/value metadata.
 *
 * Built without HDF5 (CMake did not find it), the functions say so and do nothing else.
 */
#include "io/nir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"
#include "net/net.h"

#ifndef SBP_HAVE_HDF5

int sbp_nir_supported(void)
{
    return 0;
}

sbp_status sbp_net_export_nir(const sbp_net *net, const char *path, sbp_error *err)
{
    (void)net;
    return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                    "%s: this build has no NIR support (HDF5 was not found at configure time)",
                    path);
}

#else

#include "io/nir_h5.h"

int sbp_nir_supported(void)
{
    return 1;
}

typedef struct writer {
    hid_t file;
    hid_t nodes; /* /node/nodes */
    hid_t str;   /* variable-length UTF-8 string type, as h5py's string_dtype() */
    int deflate; /* gzip (deflate) filter available: arrays are compressed as nir.write does */
    const char *path;
    sbp_error *err;
    sbp_status st;
    char edge[2 * 4 * SBP_MAX_LAYERS + 8][2][24];
    int n_edges;
} writer;

static void w_fail(writer *w, const char *node, const char *key)
{
    if (w->st == SBP_OK)
        w->st = sbp_fail(w->err, SBP_ERR_IO, "%s: HDF5 could not write %s%s%s", w->path, node,
                         key ? "/" : "", key ? key : "");
}

static void w_str(writer *w, hid_t g, const char *gname, const char *key, const char *value)
{
    if (w->st != SBP_OK)
        return;
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = sp < 0 ? -1 : H5Dcreate2(g, key, w->str, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, w->str, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) < 0)
        w_fail(w, gname, key);
    h5_close(d);
    h5_close(sp);
}

/* A dataset of `rank` dims (0: scalar) from `data` of memory type `mem`, stored as `file`. */
static void w_array(writer *w, hid_t g, const char *gname, const char *key, hid_t mem,
                    hid_t file, int rank, const hsize_t *dims, const void *data)
{
    if (w->st != SBP_OK)
        return;
    hid_t sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t count = 1;
    for (int k = 0; k < rank; k++)
        count *= dims[k];
    if (w->deflate && rank > 0 && count * H5Tget_size(file) >= 4096 && dcpl >= 0) {
        /* one chunk per dataset (at most 4 GiB, far above any spikebp tensor); small
         * datasets stay contiguous, where a chunk index would cost more than it saves */
        if (H5Pset_chunk(dcpl, rank, dims) < 0 || H5Pset_deflate(dcpl, 4) < 0)
            w_fail(w, gname, key);
    } else if (dcpl >= 0 && count * H5Tget_size(file) < 1024) {
        H5Pset_layout(dcpl, H5D_COMPACT); /* stored in the object header itself */
    }
    hid_t d = sp < 0 || dcpl < 0 ? -1 : H5Dcreate2(g, key, file, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        w_fail(w, gname, key);
    h5_close(d);
    h5_close(dcpl);
    h5_close(sp);
}

static void w_f32(writer *w, hid_t g, const char *gname, const char *key, int rank,
                  const hsize_t *dims, const float *data)
{
    w_array(w, g, gname, key, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, rank, dims, data);
}

static void w_i64(writer *w, hid_t g, const char *gname, const char *key, int rank,
                  const hsize_t *dims, const long long *data)
{
    w_array(w, g, gname, key, H5T_NATIVE_LLONG, H5T_STD_I64LE, rank, dims, data);
}

/* A float32 array of the neuron shape with every element `v` (NIR's neuron parameters are
 * per neuron; spikebp's are per network). */
static void w_fill(writer *w, hid_t g, const char *gname, const char *key, int rank,
                   const hsize_t *dims, float v)
{
    if (w->st != SBP_OK)
        return;
    size_t n = 1;
    for (int k = 0; k < rank; k++)
        n *= (size_t)dims[k];
    float *buf = malloc(n * sizeof *buf);
    if (!buf) {
        w->st = sbp_fail(w->err, SBP_ERR_NOMEM, "%s: out of memory writing %s/%s", w->path,
                         gname, key);
        return;
    }
    for (size_t j = 0; j < n; j++)
        buf[j] = v;
    w_f32(w, g, gname, key, rank, dims, buf);
    free(buf);
}

/* Creates node group `name` of NIR type `type`; returns it (or -1 after recording a failure). */
static hid_t w_node(writer *w, const char *name, const char *type)
{
    if (w->st != SBP_OK)
        return -1;
    hid_t g = H5Gcreate2(w->nodes, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
        w_fail(w, name, NULL);
        return -1;
    }
    w_str(w, g, name, "type", type);
    return g;
}

/* The node's metadata group (created on first use). */
static hid_t w_meta(writer *w, hid_t node, const char *name)
{
    if (w->st != SBP_OK)
        return -1;
    hid_t g = H5Gcreate2(node, "metadata", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        w_fail(w, name, "metadata");
    return g;
}

static void w_edge(writer *w, const char *from, const char *to)
{
    snprintf(w->edge[w->n_edges][0], sizeof w->edge[0][0], "%s", from);
    snprintf(w->edge[w->n_edges][1], sizeof w->edge[0][1], "%s", to);
    w->n_edges++;
}

/* Conv2d node: weight (Cout, Cin/groups, k, k), zero bias, input_shape (H, W) of its input. */
static void w_conv(writer *w, const char *name, const float *weight, int cout, int cin_g,
                   int k, int stride, int pad, int groups, int in_h, int in_w, const char *role)
{
    hid_t g = w_node(w, name, "Conv2d");
    hsize_t wd[4] = {(hsize_t)cout, (hsize_t)cin_g, (hsize_t)k, (hsize_t)k}, two = 2,
            co = (hsize_t)cout;
    long long in_shape[2] = {in_h, in_w}, st2[2] = {stride, stride}, pad2[2] = {pad, pad},
              dil[2] = {1, 1}, grp = groups;
    w_f32(w, g, name, "weight", 4, wd, weight);
    w_fill(w, g, name, "bias", 1, &co, 0.0f);
    w_i64(w, g, name, "input_shape", 1, &two, in_shape);
    w_i64(w, g, name, "stride", 1, &two, st2);
    w_i64(w, g, name, "padding", 1, &two, pad2);
    w_i64(w, g, name, "dilation", 1, &two, dil);
    w_i64(w, g, name, "groups", 0, NULL, &grp);
    if (role) {
        hid_t m = w_meta(w, g, name);
        w_str(w, m, name, "spikebp_shortcut", role);
        h5_close(m);
    }
    h5_close(g);
}

/* Flatten (C, H, W) → (C·H·W) with NIR's unbatched types: start_dim 0, end_dim −1. */
static void w_flatten(writer *w, const char *name, const sbp_layer *prev_shape)
{
    hid_t g = w_node(w, name, "Flatten");
    long long sd = 0, ed = -1,
              it[3] = {prev_shape->out_c, prev_shape->out_h, prev_shape->out_w};
    hsize_t three = 3;
    w_i64(w, g, name, "start_dim", 0, NULL, &sd);
    w_i64(w, g, name, "end_dim", 0, NULL, &ed);
    w_i64(w, g, name, "input_type", 1, &three, it);
    h5_close(g);
}

/* Node name of layer i's neurons: lif<i> (if<i> without leak), if<i> for pooling, li<i> (i<i>
 * without leak) for the output. */
static void neuron_name(const sbp_net *net, int i, char *buf, size_t size)
{
    const sbp_layer_kind k = net->layers[i].spec.kind;
    const int no_leak = net->spec.leak == 1.0f;
    snprintf(buf, size, "%s%d",
             k == SBP_LAYER_POOL     ? "if"
             : k == SBP_LAYER_OUTPUT ? (no_leak ? "i" : "li")
                                     : (no_leak ? "if" : "lif"),
             i);
}

/* The neurons of a conv, dense or output layer (nir.h's mapping). With λ = 1 there is no leak
 * and tau would be infinite: the neurons are then NIR's IF (hidden) and I (output), r = 1/dt. */
static void w_neurons(writer *w, const sbp_net *net, const sbp_layer *L, const char *name,
                      int nrank, const hsize_t *nshape)
{
    const sbp_net_spec *s = &net->spec;
    const double dt = SBP_NIR_DT;
    const int out = L->spec.kind == SBP_LAYER_OUTPUT;
    hid_t g;
    if (s->leak == 1.0f) {
        g = w_node(w, name, out ? "I" : "IF");
        w_fill(w, g, name, "r", nrank, nshape, (float)(1.0 / dt));
    } else {
        const float tau = (float)(dt / (1.0 - (double)s->leak));
        g = w_node(w, name, out ? "LI" : "LIF");
        w_fill(w, g, name, "tau", nrank, nshape, tau);
        w_fill(w, g, name, "r", nrank, nshape,
               (float)((out ? (double)s->leak : 1.0) * (double)tau / dt));
        w_fill(w, g, name, "v_leak", nrank, nshape, 0.0f);
    }
    if (!out) {
        w_fill(w, g, name, "v_threshold", nrank, nshape, s->vth);
        w_fill(w, g, name, "v_reset", nrank, nshape, 0.0f);
        hid_t m = w_meta(w, g, name);
        w_f32(w, m, name, "spikebp_dropout", 0, NULL, &L->spec.dropout);
        h5_close(m);
    }
    h5_close(g);
}

static void write_graph(writer *w, const sbp_net *net, hid_t graph)
{
    const sbp_net_spec *s = &net->spec;
    const double dt = SBP_NIR_DT;
    char name[32], src[32], syn[32];
    /* input */
    {
        hid_t g = w_node(w, "input", "Input");
        long long shape[3] = {s->in_c, s->in_h, s->in_w};
        hsize_t three = 3;
        w_i64(w, g, "input", "shape", 1, &three, shape);
        h5_close(g);
    }
    /* the output shape of "the previous layer" for the input, as a layer-like record */
    sbp_layer input_shape;
    memset(&input_shape, 0, sizeof input_shape);
    input_shape.out_c = s->in_c, input_shape.out_h = s->in_h, input_shape.out_w = s->in_w;
    for (int i = 0; i < net->n_layers && w->st == SBP_OK; i++) {
        const sbp_layer *L = &net->layers[i];
        const sbp_layer *P = i ? &net->layers[i - 1] : &input_shape;
        const int prev_spatial = i == 0 || P->spec.kind == SBP_LAYER_CONV ||
                                 P->spec.kind == SBP_LAYER_POOL;
        if (i == 0)
            snprintf(src, sizeof src, "input");
        else
            neuron_name(net, i - 1, src, sizeof src);
        neuron_name(net, i, name, sizeof name);
        const float *wts = net->params + L->w_offset;
        hsize_t nshape[3];
        int nrank;
        if (L->spec.kind == SBP_LAYER_CONV || L->spec.kind == SBP_LAYER_POOL) {
            nrank = 3;
            nshape[0] = (hsize_t)L->out_c, nshape[1] = (hsize_t)L->out_h,
            nshape[2] = (hsize_t)L->out_w;
        } else {
            nrank = 1;
            nshape[0] = (hsize_t)L->n_out;
        }
        switch (L->spec.kind) {
        case SBP_LAYER_CONV: {
            snprintf(syn, sizeof syn, "conv%d", i);
            w_conv(w, syn, wts, L->out_c, L->in_c, L->spec.kernel, L->spec.stride, L->spec.pad, 1,
                   L->in_h, L->in_w, NULL);
            if (L->sc) {
                const sbp_layer *sc = L->sc;
                char from[32], scn[32];
                if (L->spec.shortcut_from < 0)
                    snprintf(from, sizeof from, "input");
                else
                    neuron_name(net, L->spec.shortcut_from, from, sizeof from);
                if (L->spec.shortcut == SBP_SHORTCUT_CONV) {
                    snprintf(scn, sizeof scn, "shortcut%d", i);
                    w_conv(w, scn, net->params + sc->w_offset, sc->out_c, sc->in_c, 1,
                           sc->spec.stride, 0, 1, sc->in_h, sc->in_w, "conv");
                    w_edge(w, from, scn);
                    w_edge(w, scn, name);
                } else if (L->spec.shortcut == SBP_SHORTCUT_SUBSAMPLE) {
                    /* out[c,i,j] = in[c,2i,2j]: a 1×1 convolution of stride 2 with the
                     * identity matrix as weights, which every NIR reader can run (a depthwise
                     * one would be smaller, but NIR's type inference ignores groups) */
                    snprintf(scn, sizeof scn, "subsample%d", i);
                    const size_t c = (size_t)sc->in_c;
                    float *eye = calloc(c * c, sizeof *eye);
                    if (!eye) {
                        w->st = sbp_fail(w->err, SBP_ERR_NOMEM, "%s: out of memory", w->path);
                        break;
                    }
                    for (size_t k = 0; k < c; k++)
                        eye[k * c + k] = 1.0f;
                    w_conv(w, scn, eye, sc->in_c, sc->in_c, 1, 2, 0, 1, sc->in_h, sc->in_w,
                           "subsample");
                    free(eye);
                    w_edge(w, from, scn);
                    w_edge(w, scn, name);
                } else { /* identity: the block input's spikes are added as they are */
                    w_edge(w, from, name);
                }
            }
            w_neurons(w, net, L, name, nrank, nshape);
            w_edge(w, src, syn);
            w_edge(w, syn, name);
            break;
        }
        case SBP_LAYER_POOL: {
            snprintf(syn, sizeof syn, "pool%d", i);
            hid_t g = w_node(w, syn, "AvgPool2d");
            long long two2[2] = {2, 2}, zero2[2] = {0, 0};
            hsize_t two = 2;
            w_i64(w, g, syn, "kernel_size", 1, &two, two2);
            w_i64(w, g, syn, "stride", 1, &two, two2);
            w_i64(w, g, syn, "padding", 1, &two, zero2);
            h5_close(g);
            g = w_node(w, name, "IF");
            w_fill(w, g, name, "r", nrank, nshape, (float)(1.0 / dt));
            w_fill(w, g, name, "v_threshold", nrank, nshape, s->vth_pool);
            w_fill(w, g, name, "v_reset", nrank, nshape, 0.0f);
            h5_close(g);
            w_edge(w, src, syn);
            w_edge(w, syn, name);
            break;
        }
        case SBP_LAYER_DENSE:
        case SBP_LAYER_OUTPUT: {
            const int out = L->spec.kind == SBP_LAYER_OUTPUT;
            snprintf(syn, sizeof syn, "fc%d", i);
            if (prev_spatial) {
                char fl[32];
                snprintf(fl, sizeof fl, "flatten%d", i);
                w_flatten(w, fl, P);
                w_edge(w, src, fl);
                w_edge(w, fl, syn);
            } else {
                w_edge(w, src, syn);
            }
            hid_t g = w_node(w, syn, "Linear");
            hsize_t wd[2] = {(hsize_t)L->n_out, (hsize_t)L->n_in};
            w_f32(w, g, syn, "weight", 2, wd, wts);
            h5_close(g);
            w_neurons(w, net, L, name, nrank, nshape);
            w_edge(w, syn, name);
            if (out) {
                hid_t o = w_node(w, "output", "Output");
                long long shape = (long long)L->n_out;
                hsize_t one = 1;
                w_i64(w, o, "output", "shape", 1, &one, &shape);
                h5_close(o);
                w_edge(w, name, "output");
            }
            break;
        }
        default: break;
        }
    }
    if (w->st != SBP_OK)
        return;
    /* edges: (E, 2) variable-length strings */
    {
        const char **e = malloc((size_t)w->n_edges * 2 * sizeof *e);
        if (!e) {
            w->st = sbp_fail(w->err, SBP_ERR_NOMEM, "%s: out of memory", w->path);
            return;
        }
        for (int k = 0; k < w->n_edges; k++)
            e[2 * k] = w->edge[k][0], e[2 * k + 1] = w->edge[k][1];
        hsize_t dims[2] = {(hsize_t)w->n_edges, 2};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t d = sp < 0 ? -1 : H5Dcreate2(graph, "edges", w->str, sp, H5P_DEFAULT, H5P_DEFAULT,
                                           H5P_DEFAULT);
        if (d < 0 || H5Dwrite(d, w->str, H5S_ALL, H5S_ALL, H5P_DEFAULT, e) < 0)
            w_fail(w, "node", "edges");
        h5_close(d);
        h5_close(sp);
        free(e);
    }
    /* graph metadata: what NIR cannot say, for an exact import */
    hid_t m = w_meta(w, graph, "node");
    double dtv = dt;
    w_str(w, m, "node/metadata", "spikebp_version", SBP_VERSION_STRING);
    w_array(w, m, "node/metadata", "spikebp_dt", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 0, NULL, &dtv);
    w_f32(w, m, "node/metadata", "spikebp_leak", 0, NULL, &s->leak);
    w_f32(w, m, "node/metadata", "spikebp_vth", 0, NULL, &s->vth);
    w_f32(w, m, "node/metadata", "spikebp_vth_pool", 0, NULL, &s->vth_pool);
    w_f32(w, m, "node/metadata", "spikebp_init_gain", 0, NULL, &s->init_gain);
    for (int k = 0; k < net->n_meta; k++) {
        char key[64];
        snprintf(key, sizeof key, "spikebp_meta_%s", net->meta_key[k]);
        w_str(w, m, "node/metadata", key, net->meta_val[k]);
    }
    h5_close(m);
}

typedef struct nir_job {
    const sbp_net *net;
    const char *path; /* the target, for messages */
} nir_job;

/* The whole graph into the (empty, temporary) file tmp; the atomic-write helper (core/file.h)
 * fsyncs it and renames it over the target, so a failure or a crash leaves the previous file
 * (if any), never half a graph. */
static sbp_status write_nir(const char *tmp, void *ctx, sbp_error *err)
{
    const nir_job *job = ctx;
    const char *path = job->path;
    writer *w = calloc(1, sizeof *w);
    if (!w)
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory", path);
    h5_quiet q;
    h5_quiet_begin(&q);
    w->path = path;
    w->err = err;
    w->st = SBP_OK;
    /* HDF5 1.8's object formats (compact groups: smaller files); readable by HDF5 ≥ 1.8 */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0)
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    w->file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl >= 0 ? fapl : H5P_DEFAULT);
    h5_close(fapl);
    w->str = H5Tcopy(H5T_C_S1);
    w->deflate = H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0;
    w->nodes = -1;
    hid_t graph = -1;
    if (w->file < 0 || w->str < 0 || H5Tset_size(w->str, H5T_VARIABLE) < 0 ||
        H5Tset_cset(w->str, H5T_CSET_UTF8) < 0) {
        w->st = sbp_fail(err, SBP_ERR_IO, "%s: HDF5 cannot create the file", path);
    } else {
        w_str(w, w->file, "/", "version", SBP_NIR_VERSION);
        graph = H5Gcreate2(w->file, "node", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (graph < 0)
            w_fail(w, "node", NULL);
        w_str(w, graph, "node", "type", "NIRGraph");
        if (w->st == SBP_OK &&
            (w->nodes = H5Gcreate2(graph, "nodes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
            w_fail(w, "node/nodes", NULL);
        if (w->st == SBP_OK)
            write_graph(w, job->net, graph);
    }
    h5_close(w->nodes);
    h5_close(graph);
    h5_close(w->str);
    if (w->file >= 0 && H5Fclose(w->file) < 0 && w->st == SBP_OK)
        w->st = sbp_fail(err, SBP_ERR_IO, "%s: HDF5 could not finish the file", path);
    h5_quiet_end(&q);
    const sbp_status st = w->st;
    free(w);
    return st;
}

sbp_status sbp_net_export_nir(const sbp_net *net, const char *path, sbp_error *err)
{
    if (net->n_layers < 1 || net->layers[net->n_layers - 1].spec.kind != SBP_LAYER_OUTPUT)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "%s: the network does not end in an output layer",
                        path);
    nir_job job = {net, path};
    return sbp_write_atomic_path(path, write_nir, &job, err);
}

#endif /* SBP_HAVE_HDF5 */
