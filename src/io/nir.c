/*
 * nir.c — networks out to and in from NIR graphs (HDF5 files, docs/nir.md), with libhdf5.
 *
 * Layout written (that of NIR's reference writer, nir.write): a root dataset "version" and a
 * group "node" holding the graph: type = "NIRGraph", a group "nodes" with one group per node
 * (its "type" string and its parameters as datasets), "edges" ((E, 2) strings, source →
 * destination; several edges into one node add their currents) and "metadata". Node keys are
 * exactly the fields of the reference classes, because its reader passes every key to the
 * class constructor and rejects unknown ones.
 *
 * Per spikebp layer i (0-based, as in the .npz names):
 *   conv    conv<i> Conv2d → lif<i> LIF           residual: shortcut<i> Conv2d 1×1 (conv),
 *   pool    pool<i> AvgPool2d 2×2/2 → if<i> IF      subsample<i> Conv2d 1×1/2 with the
 *   dense   [flatten<i>] → fc<i> Linear → lif<i>     identity matrix (subsample), or an edge
 *   output  [flatten<i>] → fc<i> Linear → li<i>      from the block input to lif<i> (identity)
 * between "input" (Input) and "output" (Output). The graph alone describes the network (NIR
 * asks that no reader need the metadata); the metadata adds what NIR cannot say and makes the
 * import exact: λ, thresholds and the init gain as float32, dt, dropout per layer, the model's
 * key/value metadata.
 *
 * Import rebuilds the network from the graph: it walks the chain of neuron nodes from the
 * Input, takes each layer's kind and geometry from the node feeding it, its shortcut from a
 * second input edge, the neuron constants from the neuron parameters (inverting nir.h's
 * mapping, which must hold), then reads every weight into the network spikebp builds from
 * that description. Anything spikebp cannot run is refused with the file and the node named.
 *
 * Built without HDF5 (CMake did not find it), the functions say so and do nothing else.
 */
#include "io/nir.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
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

sbp_status sbp_net_import_nir(sbp_net **out, const char *path, sbp_error *err)
{
    *out = NULL;
    return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                    "%s: this build has no NIR support (HDF5 was not found at configure time)",
                    path);
}

#else

#include <hdf5.h>

int sbp_nir_supported(void)
{
    return 1;
}

/* HDF5 prints its error stack to stderr unless told not to; the library never prints, so
 * every entry point silences it and puts the caller's handler back on the way out. */
typedef struct h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5_quiet;

static void h5_quiet_begin(h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void h5_quiet_end(const h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

static void h5_close(hid_t id)
{
    if (id < 0)
        return;
    switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    default: break;
    }
}

/* ================================================================ writing */

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
    const float lif_tau = (float)(dt / (1.0 - (double)s->leak));
    for (int i = 0; i < net->n_layers && w->st == SBP_OK; i++) {
        const sbp_layer *L = &net->layers[i];
        const sbp_layer *P = i ? &net->layers[i - 1] : &input_shape;
        const int prev_spatial = i == 0 || P->spec.kind == SBP_LAYER_CONV ||
                                 P->spec.kind == SBP_LAYER_POOL;
        snprintf(src, sizeof src, "%s", i == 0 ? "input" : "");
        if (i > 0) {
            const sbp_layer_kind pk = P->spec.kind;
            snprintf(src, sizeof src, "%s%d", pk == SBP_LAYER_POOL ? "if" : "lif", i - 1);
        }
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
            snprintf(name, sizeof name, "lif%d", i);
            w_conv(w, syn, wts, L->out_c, L->in_c, L->spec.kernel, L->spec.stride, L->spec.pad, 1,
                   L->in_h, L->in_w, NULL);
            if (L->sc) {
                const sbp_layer *sc = L->sc;
                char from[32], scn[32];
                if (L->spec.shortcut_from < 0)
                    snprintf(from, sizeof from, "input");
                else
                    snprintf(from, sizeof from, "%s%d",
                             net->layers[L->spec.shortcut_from].spec.kind == SBP_LAYER_POOL ? "if"
                                                                                            : "lif",
                             L->spec.shortcut_from);
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
            hid_t g = w_node(w, name, "LIF");
            w_fill(w, g, name, "tau", nrank, nshape, lif_tau);
            w_fill(w, g, name, "r", nrank, nshape, (float)((double)lif_tau / dt));
            w_fill(w, g, name, "v_leak", nrank, nshape, 0.0f);
            w_fill(w, g, name, "v_threshold", nrank, nshape, s->vth);
            w_fill(w, g, name, "v_reset", nrank, nshape, 0.0f);
            hid_t m = w_meta(w, g, name);
            w_f32(w, m, name, "spikebp_dropout", 0, NULL, &L->spec.dropout);
            h5_close(m);
            h5_close(g);
            w_edge(w, src, syn);
            w_edge(w, syn, name);
            break;
        }
        case SBP_LAYER_POOL: {
            snprintf(syn, sizeof syn, "pool%d", i);
            snprintf(name, sizeof name, "if%d", i);
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
            snprintf(name, sizeof name, "%s%d", out ? "li" : "lif", i);
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
            g = w_node(w, name, out ? "LI" : "LIF");
            w_fill(w, g, name, "tau", nrank, nshape, lif_tau);
            w_fill(w, g, name, "r", nrank, nshape,
                   (float)((out ? (double)s->leak : 1.0) * (double)lif_tau / dt));
            w_fill(w, g, name, "v_leak", nrank, nshape, 0.0f);
            if (!out) {
                w_fill(w, g, name, "v_threshold", nrank, nshape, s->vth);
                w_fill(w, g, name, "v_reset", nrank, nshape, 0.0f);
                hid_t m = w_meta(w, g, name);
                w_f32(w, m, name, "spikebp_dropout", 0, NULL, &L->spec.dropout);
                h5_close(m);
            }
            h5_close(g);
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

/* fsync of a file by name (HDF5 flushes to the kernel; this makes it durable). */
static int fsync_path(const char *p)
{
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

sbp_status sbp_net_export_nir(const sbp_net *net, const char *path, sbp_error *err)
{
    if (net->n_layers < 1 || net->layers[net->n_layers - 1].spec.kind != SBP_LAYER_OUTPUT)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "%s: the network does not end in an output layer",
                        path);
    writer *w = calloc(1, sizeof *w);
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16), *dir = malloc(pl + 1);
    if (!w || !tmp || !dir) {
        free(w);
        free(tmp);
        free(dir);
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory", path);
    }
    /* Written to a temporary file in the same folder and renamed over the target: a failure
     * or a crash leaves the previous file (if any), never half a graph. */
    snprintf(tmp, pl + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        sbp_status st = sbp_fail(err, SBP_ERR_IO, "%s: cannot create a temporary file: %s", path,
                                 strerror(errno));
        free(w);
        free(tmp);
        free(dir);
        return st;
    }
    fchmod(fd, 0644);
    close(fd);
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
            write_graph(w, net, graph);
    }
    h5_close(w->nodes);
    h5_close(graph);
    h5_close(w->str);
    if (w->file >= 0 && H5Fclose(w->file) < 0 && w->st == SBP_OK)
        w->st = sbp_fail(err, SBP_ERR_IO, "%s: HDF5 could not finish the file", path);
    h5_quiet_end(&q);
    sbp_status st = w->st;
    if (st == SBP_OK && fsync_path(tmp) != 0)
        st = sbp_fail(err, SBP_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
    if (st == SBP_OK && rename(tmp, path) != 0)
        st = sbp_fail(err, SBP_ERR_IO, "%s: cannot rename the written file into place: %s", path,
                      strerror(errno));
    if (st != SBP_OK) {
        unlink(tmp);
    } else {
        memcpy(dir, path, pl + 1);
        fsync_path(dirname(dir));
    }
    free(w);
    free(tmp);
    free(dir);
    return st;
}

/* ================================================================ reading */

enum node_type {
    NT_INPUT, NT_OUTPUT, NT_CONV2D, NT_AVGPOOL2D, NT_IF, NT_LIF, NT_LI, NT_LINEAR, NT_AFFINE,
    NT_FLATTEN, NT_OTHER
};

static const char *const node_type_names[] = {"Input", "Output", "Conv2d", "AvgPool2d", "IF",
                                              "LIF", "LI", "Linear", "Affine", "Flatten"};

#define NIR_MAX_NODES (6 * SBP_MAX_LAYERS + 8)
#define NIR_MAX_EDGES (2 * NIR_MAX_NODES)
#define NIR_NAME 64

typedef struct rnode {
    char name[NIR_NAME];
    char type_name[32];
    enum node_type type;
    hid_t g;
    int layer; /* spikebp layer whose neurons this node is (−1: none, −2: the input) */
    int used;  /* visited by the walk */
} rnode;

typedef struct in_path {
    int src;  /* neuron (or input) node the current comes from */
    int syn;  /* synapse node (Conv2d, AvgPool2d, Linear, Affine) or −1 for a direct edge */
    int flat; /* Flatten node between src and syn, or −1 */
} in_path;

typedef struct layer_nodes {
    int neuron, syn, flat, sc_syn;
} layer_nodes;

typedef struct reader {
    const char *path;
    sbp_error *err;
    hid_t file, graph, nodes_g, meta;
    int n_nodes;
    rnode node[NIR_MAX_NODES];
    int n_edges;
    int edge[NIR_MAX_EDGES][2];
    layer_nodes ln[SBP_MAX_LAYERS];
    double dt;
} reader;

static sbp_status r_fail(reader *r, sbp_status st, const char *node, const char *fmt, ...)
    SBP_PRINTF(4, 5);
static sbp_status r_fail(reader *r, sbp_status st, const char *node, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (node)
        return sbp_fail(r->err, st, "%s: node '%s': %s", r->path, node, msg);
    return sbp_fail(r->err, st, "%s: %s", r->path, msg);
}

/* Opens a child object only when it is a hard link (a soft or external link could point into
 * another file) of the wanted kind (H5I_GROUP or H5I_DATASET); −1 if absent or otherwise. */
static hid_t open_child(hid_t loc, const char *name, H5I_type_t kind)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return -1;
    H5L_info_t li;
    if (H5Lget_info(loc, name, &li, H5P_DEFAULT) < 0 || li.type != H5L_TYPE_HARD)
        return -1;
    hid_t o = H5Oopen(loc, name, H5P_DEFAULT);
    if (o < 0)
        return -1;
    if (H5Iget_type(o) != kind) {
        H5Oclose(o);
        return -1;
    }
    if (kind == H5I_DATASET) {
        /* data stored outside the file (external or virtual layouts) is refused too */
        hid_t dcpl = H5Dget_create_plist(o);
        int ok = dcpl >= 0 && H5Pget_external_count(dcpl) == 0;
        if (ok) {
            H5D_layout_t lay = H5Pget_layout(dcpl);
            ok = lay == H5D_COMPACT || lay == H5D_CONTIGUOUS || lay == H5D_CHUNKED;
        }
        h5_close(dcpl);
        if (!ok) {
            H5Oclose(o);
            return -1;
        }
    }
    return o;
}

/* Reads a scalar (or one-element) string dataset, fixed or variable length. 1 on success. */
static int read_string(hid_t loc, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    hid_t d = open_child(loc, name, H5I_DATASET);
    if (d < 0)
        return 0;
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d), mt = -1;
    int ok = ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5T_STRING &&
             H5Sget_simple_extent_npoints(sp) == 1;
    if (ok && H5Tis_variable_str(ft) > 0) {
        char *p = NULL;
        mt = H5Tcopy(H5T_C_S1);
        ok = mt >= 0 && H5Tset_size(mt, H5T_VARIABLE) >= 0 &&
             H5Tset_cset(mt, H5Tget_cset(ft)) >= 0 && /* HDF5 does not convert ASCII ↔ UTF-8 */
             H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) >= 0;
        if (ok && p)
            snprintf(out, size, "%s", p);
        if (p)
            H5free_memory(p);
    } else if (ok) {
        size_t n = H5Tget_size(ft);
        char *buf = n > 0 && n < 65536 ? calloc(1, n + 1) : NULL;
        mt = H5Tcopy(H5T_C_S1);
        ok = buf && mt >= 0 && H5Tset_size(mt, n) >= 0 &&
             H5Tset_cset(mt, H5Tget_cset(ft)) >= 0 &&
             H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
        if (ok)
            snprintf(out, size, "%s", buf);
        free(buf);
    }
    h5_close(mt);
    h5_close(sp);
    h5_close(ft);
    h5_close(d);
    return ok;
}

/* A numeric dataset read into doubles, at most `max` elements; dims of rank ≤ 4 into dims[].
 * Returns the element count, or −1 (absent, not numeric, too large), −2 unreadable. */
static long read_numbers(hid_t loc, const char *name, double **data, int *rank, hsize_t dims[4],
                         size_t max)
{
    *data = NULL;
    *rank = 0;
    hid_t d = open_child(loc, name, H5I_DATASET);
    if (d < 0)
        return -1;
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    long n = -1;
    H5T_class_t cl = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    int rk = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if ((cl == H5T_INTEGER || cl == H5T_FLOAT) && rk >= 0 && rk <= 4 &&
        H5Sget_simple_extent_dims(sp, dims, NULL) >= 0) {
        hssize_t np = H5Sget_simple_extent_npoints(sp);
        if (np >= 0 && (size_t)np <= max) {
            *rank = rk;
            *data = malloc(((size_t)np ? (size_t)np : 1) * sizeof **data);
            if (*data && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) >= 0) {
                n = (long)np;
            } else {
                free(*data);
                *data = NULL;
                n = -2;
            }
        }
    }
    h5_close(sp);
    h5_close(ft);
    h5_close(d);
    return n;
}

static void dims_text(char *buf, size_t size, int rank, const hsize_t *dims)
{
    buf[0] = '\0';
    if (rank == 0)
        snprintf(buf, size, "a scalar");
    for (int k = 0; k < rank; k++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%llu", k ? "×" : "",
                 (unsigned long long)dims[k]);
}

/* Reads integer key `key` of node `n`: exactly `want` values (a scalar counts as one, and a
 * scalar or a single value stands for `want` equal values when `broadcast`). */
static sbp_status read_ints(reader *r, const rnode *n, const char *key, long long *out, int want,
                            int broadcast)
{
    double *v;
    int rank;
    hsize_t dims[4];
    long cnt = read_numbers(n->g, key, &v, &rank, dims, 64);
    if (cnt < 0)
        return r_fail(r, SBP_ERR_FORMAT, n->name, "%s '%s' %s", n->type_name, key,
                      cnt == -1 ? "is missing or not a number array" : "cannot be read");
    sbp_status st = SBP_OK;
    if (!(cnt == want || (broadcast && cnt == 1)) || rank > 1) {
        char got[64];
        dims_text(got, sizeof got, rank, dims);
        st = r_fail(r, SBP_ERR_SHAPE, n->name, "%s '%s' has shape %s, expected %d value%s",
                    n->type_name, key, got, want, want > 1 ? "s" : "");
    }
    for (int k = 0; st == SBP_OK && k < want; k++) {
        double x = v[cnt == 1 ? 0 : k];
        if (!(x == floor(x)) || fabs(x) > 1e9)
            st = r_fail(r, SBP_ERR_FORMAT, n->name, "%s '%s' is not an integer", n->type_name,
                        key);
        else
            out[k] = (long long)x;
    }
    free(v);
    return st;
}

/* A neuron parameter: `count` values (the layer's neurons, any shape of that size), all
 * finite and equal — spikebp has one constant per network. */
static sbp_status read_param(reader *r, const rnode *n, const char *key, size_t count,
                             double *value, int optional, double dflt)
{
    double *v;
    int rank;
    hsize_t dims[4];
    long cnt = read_numbers(n->g, key, &v, &rank, dims, count);
    if (cnt == -1 && optional && H5Lexists(n->g, key, H5P_DEFAULT) <= 0) {
        *value = dflt;
        return SBP_OK;
    }
    if (cnt < 0 || (size_t)cnt != count) {
        char got[64] = "not a number array";
        if (cnt >= 0 || (cnt == -1 && H5Lexists(n->g, key, H5P_DEFAULT) > 0))
            snprintf(got, sizeof got, "the wrong shape or type");
        if (cnt >= 0)
            dims_text(got, sizeof got, rank, dims);
        free(v);
        if (cnt == -1 && H5Lexists(n->g, key, H5P_DEFAULT) <= 0)
            return r_fail(r, SBP_ERR_FORMAT, n->name, "%s lacks '%s'", n->type_name, key);
        return r_fail(r, SBP_ERR_SHAPE, n->name, "%s '%s' has %s; the layer has %zu neurons",
                      n->type_name, key, got, count);
    }
    sbp_status st = SBP_OK;
    for (size_t j = 0; j < count && st == SBP_OK; j++) {
        if (!isfinite(v[j]))
            st = r_fail(r, SBP_ERR_NUMERIC, n->name, "%s '%s' element %zu is not finite",
                        n->type_name, key, j);
        else if (v[j] != v[0])
            st = r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                        "%s '%s' differs between neurons (%g and %g); spikebp has one value per "
                        "network", n->type_name, key, v[0], v[j]);
    }
    if (st == SBP_OK)
        *value = v[0];
    free(v);
    return st;
}

static int find_node(const reader *r, const char *name)
{
    for (int k = 0; k < r->n_nodes; k++)
        if (!strcmp(r->node[k].name, name))
            return k;
    return -1;
}

static sbp_status read_nodes(reader *r)
{
    char type[32]; /* "version" is not read: NIR's reader does not need it either */
    r->graph = open_child(r->file, "node", H5I_GROUP);
    if (r->graph < 0)
        return r_fail(r, SBP_ERR_FORMAT, NULL, "not a NIR graph (no group 'node')");
    if (!read_string(r->graph, "type", type, sizeof type))
        return r_fail(r, SBP_ERR_FORMAT, NULL, "the graph 'node' has no 'type' string");
    if (strcmp(type, "NIRGraph") != 0)
        return r_fail(r, SBP_ERR_UNSUPPORTED, NULL,
                      "the root node is a '%.31s', not a NIRGraph", type);
    r->nodes_g = open_child(r->graph, "nodes", H5I_GROUP);
    if (r->nodes_g < 0)
        return r_fail(r, SBP_ERR_FORMAT, NULL, "the graph has no group 'nodes'");
    r->meta = open_child(r->graph, "metadata", H5I_GROUP);
    H5G_info_t gi;
    if (H5Gget_info(r->nodes_g, &gi) < 0)
        return r_fail(r, SBP_ERR_FORMAT, NULL, "cannot list the graph's nodes");
    if (gi.nlinks > NIR_MAX_NODES)
        return r_fail(r, SBP_ERR_UNSUPPORTED, NULL, "%llu nodes; spikebp reads at most %d",
                      (unsigned long long)gi.nlinks, NIR_MAX_NODES);
    for (hsize_t k = 0; k < gi.nlinks; k++) {
        rnode *n = &r->node[r->n_nodes];
        memset(n, 0, sizeof *n);
        n->g = -1;
        n->layer = -1;
        ssize_t len = H5Lget_name_by_idx(r->nodes_g, ".", H5_INDEX_NAME, H5_ITER_INC, k, n->name,
                                         sizeof n->name, H5P_DEFAULT);
        if (len < 0 || (size_t)len >= sizeof n->name)
            return r_fail(r, SBP_ERR_FORMAT, NULL, "node %llu has no readable name (or one of "
                          "%d characters or more)", (unsigned long long)k, NIR_NAME);
        r->n_nodes++;
        n->g = open_child(r->nodes_g, n->name, H5I_GROUP);
        if (n->g < 0)
            return r_fail(r, SBP_ERR_FORMAT, n->name, "not a group");
        if (!read_string(n->g, "type", n->type_name, sizeof n->type_name))
            return r_fail(r, SBP_ERR_FORMAT, n->name, "no 'type' string");
        n->type = NT_OTHER;
        for (int t = 0; t < NT_OTHER; t++)
            if (!strcmp(n->type_name, node_type_names[t]))
                n->type = (enum node_type)t;
        if (n->type == NT_OTHER)
            return r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                          "node type '%s' is not supported (spikebp reads Input, Output, Conv2d, "
                          "AvgPool2d, IF, LIF, LI, Linear, Affine, Flatten)", n->type_name);
    }
    return SBP_OK;
}

static sbp_status read_edges(reader *r)
{
    hid_t d = open_child(r->graph, "edges", H5I_DATASET);
    if (d < 0)
        return r_fail(r, SBP_ERR_FORMAT, NULL, "the graph has no dataset 'edges'");
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d), mt = -1;
    hsize_t dims[2] = {0, 0};
    sbp_status st = SBP_OK;
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING || rank != 2 ||
        H5Sget_simple_extent_dims(sp, dims, NULL) < 0 || dims[1] != 2)
        st = r_fail(r, SBP_ERR_FORMAT, NULL, "'edges' is not an (E, 2) array of node names");
    else if (dims[0] > NIR_MAX_EDGES)
        st = r_fail(r, SBP_ERR_UNSUPPORTED, NULL, "%llu edges; spikebp reads at most %d",
                    (unsigned long long)dims[0], NIR_MAX_EDGES);
    char(*names)[NIR_NAME] = NULL;
    size_t n = st == SBP_OK ? (size_t)dims[0] * 2 : 0;
    if (st == SBP_OK && n > 0) {
        names = calloc(n, NIR_NAME);
        if (!names)
            st = r_fail(r, SBP_ERR_NOMEM, NULL, "out of memory");
    }
    if (st == SBP_OK && n > 0) {
        mt = H5Tcopy(H5T_C_S1);
        if (H5Tis_variable_str(ft) > 0) {
            char **p = calloc(n, sizeof *p);
            if (!p || mt < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 ||
                H5Tset_cset(mt, H5Tget_cset(ft)) < 0 ||
                H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, p) < 0) {
                st = r_fail(r, SBP_ERR_FORMAT, NULL, "'edges' cannot be read");
            } else {
                for (size_t k = 0; k < n; k++)
                    snprintf(names[k], NIR_NAME, "%s", p[k] ? p[k] : "");
            }
            for (size_t k = 0; p && k < n; k++)
                if (p[k])
                    H5free_memory(p[k]);
            free(p);
        } else {
            size_t sz = H5Tget_size(ft);
            char *buf = sz > 0 && sz < 4096 ? calloc(n, sz) : NULL;
            if (!buf || mt < 0 || H5Tset_size(mt, sz) < 0 || H5Tset_cset(mt, H5Tget_cset(ft)) < 0 ||
                H5Tset_strpad(mt, H5T_STR_NULLPAD) < 0 ||
                H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
                st = r_fail(r, SBP_ERR_FORMAT, NULL, "'edges' cannot be read");
            } else {
                for (size_t k = 0; k < n; k++)
                    snprintf(names[k], NIR_NAME, "%.*s", (int)(sz < NIR_NAME - 1 ? sz : NIR_NAME - 1),
                             buf + k * sz);
            }
            free(buf);
        }
    }
    for (size_t k = 0; st == SBP_OK && k < n; k++) {
        int idx = find_node(r, names[k]);
        if (idx < 0)
            st = r_fail(r, SBP_ERR_FORMAT, NULL, "edge %zu names node '%s', which does not exist",
                        k / 2, names[k]);
        else
            r->edge[k / 2][k % 2] = idx;
    }
    if (st == SBP_OK)
        r->n_edges = (int)dims[0];
    free(names);
    h5_close(mt);
    h5_close(sp);
    h5_close(ft);
    h5_close(d);
    return st;
}

static int is_source(enum node_type t)
{
    return t == NT_INPUT || t == NT_LIF || t == NT_IF;
}

static int is_synapse(enum node_type t)
{
    return t == NT_CONV2D || t == NT_AVGPOOL2D || t == NT_LINEAR || t == NT_AFFINE;
}

static int in_degree(const reader *r, int node, int *from)
{
    int c = 0;
    for (int e = 0; e < r->n_edges; e++)
        if (r->edge[e][1] == node) {
            if (from)
                *from = r->edge[e][0];
            c++;
        }
    return c;
}

/* The current paths into neuron node `n` (at most 4). */
static sbp_status in_paths(reader *r, int n, in_path *p, int *np)
{
    *np = 0;
    for (int e = 0; e < r->n_edges; e++) {
        if (r->edge[e][1] != n)
            continue;
        int x = r->edge[e][0];
        if (*np >= 4)
            return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[n].name,
                          "more than 4 inputs; a spikebp layer has its input and one shortcut");
        in_path *q = &p[(*np)++];
        q->syn = q->flat = -1;
        if (is_source(r->node[x].type)) {
            q->src = x;
            continue;
        }
        if (!is_synapse(r->node[x].type))
            return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[n].name,
                          "fed by '%s' (%s); spikebp layers are fed by Conv2d, AvgPool2d, Linear "
                          "or Affine nodes", r->node[x].name, r->node[x].type_name);
        q->syn = x;
        int y = -1;
        if (in_degree(r, x, &y) != 1)
            return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[x].name,
                          "%s with %d inputs; spikebp's synapses have exactly one",
                          r->node[x].type_name, in_degree(r, x, NULL));
        if (r->node[y].type == NT_FLATTEN) {
            q->flat = y;
            int z = -1;
            if (in_degree(r, y, &z) != 1)
                return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[y].name,
                              "Flatten with %d inputs, expected one", in_degree(r, y, NULL));
            y = z;
        }
        if (!is_source(r->node[y].type))
            return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[x].name,
                          "fed by '%s' (%s); expected the Input or a LIF/IF neuron node",
                          r->node[y].name, r->node[y].type_name);
        q->src = y;
    }
    return SBP_OK;
}

/* The spikebp_shortcut metadata of a node ("conv", "subsample"), or "" when it has none. */
static void shortcut_role(const rnode *n, char *role, size_t size)
{
    role[0] = '\0';
    hid_t m = open_child(n->g, "metadata", H5I_GROUP);
    if (m >= 0 && !read_string(m, "spikebp_shortcut", role, size))
        role[0] = '\0';
    h5_close(m);
}

/* A shortcut path: a direct edge, or a Conv2d marked as one or of kernel 1 with groups > 1. */
static int looks_like_shortcut(reader *r, const in_path *p)
{
    if (p->syn < 0)
        return 1;
    const rnode *s = &r->node[p->syn];
    if (s->type != NT_CONV2D)
        return 0;
    char role[32];
    shortcut_role(s, role, sizeof role);
    if (role[0])
        return 1;
    long long g = 1;
    double *v;
    int rank;
    hsize_t dims[4];
    long cnt = read_numbers(s->g, "groups", &v, &rank, dims, 1);
    if (cnt == 1)
        g = (long long)v[0];
    free(v);
    return g > 1;
}

/* Whether a (C, C, 1, 1) weight is the identity matrix (spikebp's subsample as a 1×1 conv). */
static int is_identity_matrix(const rnode *n, int c)
{
    double *v;
    int rank;
    hsize_t dims[4];
    long cnt = read_numbers(n->g, "weight", &v, &rank, dims, (size_t)c * (size_t)c);
    int ok = cnt == (long)c * c;
    for (long j = 0; ok && j < cnt; j++)
        ok = v[j] == (j / c == j % c ? 1.0 : 0.0);
    free(v);
    return ok;
}

/* Conv2d geometry: square kernel, equal strides and paddings, dilation 1, zero bias. */
static sbp_status read_conv_geometry(reader *r, const rnode *n, int *k, int *stride, int *pad,
                                     int *groups, int *cout, int *cin_g)
{
    double *v;
    int rank;
    hsize_t dims[4];
    hid_t d = open_child(n->g, "weight", H5I_DATASET), sp = d >= 0 ? H5Dget_space(d) : -1;
    rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    int ok = rank == 4 && H5Sget_simple_extent_dims(sp, dims, NULL) >= 0;
    h5_close(sp);
    h5_close(d);
    if (!ok)
        return r_fail(r, SBP_ERR_SHAPE, n->name, "Conv2d 'weight' is not a 4-d array");
    if (dims[2] != dims[3] || dims[2] < 1 || dims[2] > 64 || dims[0] < 1 || dims[0] > 1 << 20 ||
        dims[1] < 1 || dims[1] > 1 << 20)
        return r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                      "Conv2d kernel %llu×%llu; spikebp's kernels are square (1 … 64)",
                      (unsigned long long)dims[2], (unsigned long long)dims[3]);
    *k = (int)dims[2];
    *cout = (int)dims[0];
    *cin_g = (int)dims[1];
    long long s2[2], p2[2], d2[2], g;
    sbp_status st = read_ints(r, n, "stride", s2, 2, 1);
    if (st == SBP_OK) {
        char ps[16];
        if (read_string(n->g, "padding", ps, sizeof ps))
            return r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                          "Conv2d padding '%s' given as a word; spikebp reads numbers", ps);
        st = read_ints(r, n, "padding", p2, 2, 1);
    }
    if (st == SBP_OK)
        st = read_ints(r, n, "dilation", d2, 2, 1);
    if (st == SBP_OK)
        st = read_ints(r, n, "groups", &g, 1, 0);
    if (st != SBP_OK)
        return st;
    if (s2[0] != s2[1] || s2[0] < 1 || s2[0] > 64)
        return r_fail(r, SBP_ERR_UNSUPPORTED, n->name, "Conv2d stride (%lld, %lld); spikebp "
                      "needs equal strides of 1 … 64", s2[0], s2[1]);
    if (p2[0] != p2[1] || p2[0] < 0 || p2[0] > 64)
        return r_fail(r, SBP_ERR_UNSUPPORTED, n->name, "Conv2d padding (%lld, %lld); spikebp "
                      "needs equal paddings of 0 … 64", p2[0], p2[1]);
    if (d2[0] != 1 || d2[1] != 1)
        return r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                      "Conv2d dilation (%lld, %lld); spikebp has no dilation", d2[0], d2[1]);
    if (g < 1 || g > 1 << 20)
        return r_fail(r, SBP_ERR_FORMAT, n->name, "Conv2d groups %lld", g);
    *stride = (int)s2[0];
    *pad = (int)p2[0];
    *groups = (int)g;
    /* bias: spikebp's layers have none, so only zeros can be read */
    long bc = read_numbers(n->g, "bias", &v, &rank, dims, (size_t)*cout);
    if (bc >= 0)
        for (long j = 0; j < bc && st == SBP_OK; j++)
            if (v[j] != 0.0)
                st = r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                            "Conv2d bias element %ld is %g; spikebp's layers have no bias", j, v[j]);
    free(v);
    if (st == SBP_OK && bc != *cout)
        st = r_fail(r, SBP_ERR_SHAPE, n->name, "Conv2d 'bias' is missing or has not %d values",
                    *cout);
    return st;
}

/* Walks the chain of neuron nodes from the Input and fills spec's layers and r->ln. */
static sbp_status walk(reader *r, sbp_net_spec *spec)
{
    int input = -1;
    for (int k = 0; k < r->n_nodes; k++) {
        if (r->node[k].type != NT_INPUT)
            continue;
        if (input >= 0)
            return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[k].name,
                          "a second Input ('%s' is the first); spikebp has one input",
                          r->node[input].name);
        input = k;
    }
    if (input < 0)
        return r_fail(r, SBP_ERR_FORMAT, NULL, "the graph has no Input node");
    {
        long long sh[3];
        double *v;
        int rank;
        hsize_t dims[4];
        long cnt = read_numbers(r->node[input].g, "shape", &v, &rank, dims, 3);
        free(v);
        sbp_status st = SBP_OK;
        if (cnt == 2) {
            st = read_ints(r, &r->node[input], "shape", sh + 1, 2, 0);
            sh[0] = 1;
        } else {
            st = read_ints(r, &r->node[input], "shape", sh, 3, 0);
        }
        if (st != SBP_OK)
            return st;
        for (int k = 0; k < 3; k++)
            if (sh[k] < 1 || sh[k] > 1 << 16)
                return r_fail(r, SBP_ERR_SHAPE, r->node[input].name,
                              "Input shape (%lld, %lld, %lld) is not an image shape (C, H, W)",
                              sh[0], sh[1], sh[2]);
        spec->in_c = (int)sh[0], spec->in_h = (int)sh[1], spec->in_w = (int)sh[2];
    }
    r->node[input].layer = -2;
    r->node[input].used = 1;
    int prev = input;
    for (;;) {
        int next = -1, nmain = -1, nsc = -1;
        in_path paths[4], pmain = {0}, psc = {0};
        for (int k = 0; k < r->n_nodes; k++) {
            enum node_type t = r->node[k].type;
            if (r->node[k].used || (t != NT_LIF && t != NT_IF && t != NT_LI))
                continue;
            int np;
            sbp_status st = in_paths(r, k, paths, &np);
            if (st != SBP_OK)
                return st;
            int ready = np > 0, from_prev = 0;
            for (int j = 0; j < np; j++) {
                ready &= r->node[paths[j].src].used;
                from_prev += paths[j].src == prev;
            }
            if (!ready || !from_prev)
                continue;
            if (next >= 0)
                return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[prev].name,
                              "the graph branches here (into '%s' and '%s'); spikebp builds a "
                              "chain of layers with residual shortcuts", r->node[next].name,
                              r->node[k].name);
            next = k;
            nmain = nsc = -1;
            for (int j = 0; j < np; j++) {
                int sc_like = looks_like_shortcut(r, &paths[j]);
                if (paths[j].src == prev && !sc_like && nmain < 0)
                    nmain = j;
            }
            if (nmain < 0) /* only shortcut-like paths from prev: take the one with a synapse */
                for (int j = 0; j < np && nmain < 0; j++)
                    if (paths[j].src == prev && paths[j].syn >= 0)
                        nmain = j;
            if (nmain < 0)
                return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[k].name,
                              "%s with no synapse from '%s'", r->node[k].type_name,
                              r->node[prev].name);
            for (int j = 0; j < np; j++) {
                if (j == nmain)
                    continue;
                if (nsc >= 0)
                    return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[k].name,
                                  "%d inputs; a spikebp layer has its input and at most one "
                                  "shortcut", np);
                nsc = j;
            }
            pmain = paths[nmain];
            if (nsc >= 0)
                psc = paths[nsc];
        }
        if (next < 0)
            break;
        if (spec->n_layers >= SBP_MAX_LAYERS)
            return r_fail(r, SBP_ERR_UNSUPPORTED, NULL, "more than %d layers", SBP_MAX_LAYERS);
        const int i = spec->n_layers;
        rnode *N = &r->node[next];
        rnode *S = &r->node[pmain.syn];
        sbp_layer_spec *l = &spec->layers[i];
        memset(l, 0, sizeof *l);
        l->shortcut = SBP_SHORTCUT_NONE;
        layer_nodes *ln = &r->ln[i];
        ln->neuron = next, ln->syn = pmain.syn, ln->flat = pmain.flat, ln->sc_syn = -1;
        if (N->type == NT_LIF && S->type == NT_CONV2D) {
            int k, stride, pad, groups, cout, cin_g;
            sbp_status st = read_conv_geometry(r, S, &k, &stride, &pad, &groups, &cout, &cin_g);
            if (st != SBP_OK)
                return st;
            if (groups != 1)
                return r_fail(r, SBP_ERR_UNSUPPORTED, S->name,
                              "Conv2d with groups = %d; spikebp's convolutions have one group",
                              groups);
            l->kind = SBP_LAYER_CONV;
            l->out = cout, l->kernel = k, l->stride = stride, l->pad = pad;
        } else if (N->type == NT_IF && S->type == NT_AVGPOOL2D) {
            long long ks[2], st2[2], p2[2];
            sbp_status st = read_ints(r, S, "kernel_size", ks, 2, 1);
            if (st == SBP_OK)
                st = read_ints(r, S, "stride", st2, 2, 1);
            if (st == SBP_OK)
                st = read_ints(r, S, "padding", p2, 2, 1);
            if (st != SBP_OK)
                return st;
            if (ks[0] != 2 || ks[1] != 2 || st2[0] != 2 || st2[1] != 2 || p2[0] || p2[1])
                return r_fail(r, SBP_ERR_UNSUPPORTED, S->name,
                              "AvgPool2d kernel (%lld, %lld) stride (%lld, %lld) padding (%lld, "
                              "%lld); spikebp pools 2×2 with stride 2 and no padding",
                              ks[0], ks[1], st2[0], st2[1], p2[0], p2[1]);
            l->kind = SBP_LAYER_POOL;
        } else if ((N->type == NT_LIF || N->type == NT_LI) &&
                   (S->type == NT_LINEAR || S->type == NT_AFFINE)) {
            hid_t d = open_child(S->g, "weight", H5I_DATASET), sp = d >= 0 ? H5Dget_space(d) : -1;
            hsize_t dims[4];
            int ok = sp >= 0 && H5Sget_simple_extent_ndims(sp) == 2 &&
                     H5Sget_simple_extent_dims(sp, dims, NULL) >= 0 && dims[0] >= 1 &&
                     dims[0] <= 1 << 24;
            h5_close(sp);
            h5_close(d);
            if (!ok)
                return r_fail(r, SBP_ERR_SHAPE, S->name, "%s 'weight' is missing or not a 2-d "
                              "array", S->type_name);
            l->kind = N->type == NT_LI ? SBP_LAYER_OUTPUT : SBP_LAYER_DENSE;
            l->out = (int)dims[0];
        } else {
            return r_fail(r, SBP_ERR_UNSUPPORTED, N->name,
                          "a %s fed by a %s ('%s') is not a spikebp layer (Conv2d → LIF, "
                          "AvgPool2d → IF, Linear → LIF, Linear → LI)",
                          N->type_name, S->type_name, S->name);
        }
        if (pmain.flat >= 0 && l->kind != SBP_LAYER_DENSE && l->kind != SBP_LAYER_OUTPUT)
            return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[pmain.flat].name,
                          "Flatten before a %s", S->type_name);
        if (nsc >= 0) {
            if (l->kind != SBP_LAYER_CONV)
                return r_fail(r, SBP_ERR_UNSUPPORTED, N->name,
                              "a shortcut into a %s layer; spikebp's shortcuts feed convolution "
                              "layers", sbp_layer_kind_name(l->kind));
            l->shortcut_from = r->node[psc.src].layer == -2 ? -1 : r->node[psc.src].layer;
            ln->sc_syn = psc.syn;
            if (psc.flat >= 0)
                return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[psc.flat].name,
                              "Flatten on a shortcut");
            if (psc.syn < 0) {
                l->shortcut = SBP_SHORTCUT_IDENTITY;
            } else {
                rnode *C = &r->node[psc.syn];
                int k, stride, pad, groups, cout, cin_g;
                if (C->type != NT_CONV2D)
                    return r_fail(r, SBP_ERR_UNSUPPORTED, C->name,
                                  "a %s shortcut; spikebp's shortcuts are 1×1 Conv2d or direct "
                                  "edges", C->type_name);
                sbp_status st = read_conv_geometry(r, C, &k, &stride, &pad, &groups, &cout, &cin_g);
                if (st != SBP_OK)
                    return st;
                if (k != 1 || pad != 0)
                    return r_fail(r, SBP_ERR_UNSUPPORTED, C->name,
                                  "a %d×%d shortcut with padding %d; spikebp's are 1×1 without "
                                  "padding", k, k, pad);
                char role[32];
                shortcut_role(C, role, sizeof role);
                if (groups == 1 && !strcmp(role, "subsample") && stride == 2 && cout == cin_g &&
                    is_identity_matrix(C, cout)) {
                    /* spikebp's own subsample (without the metadata, the same convolution is
                     * read as a 1×1 conv shortcut, which computes the same) */
                    l->shortcut = SBP_SHORTCUT_SUBSAMPLE;
                } else if (groups == 1) {
                    if (stride != l->stride)
                        return r_fail(r, SBP_ERR_UNSUPPORTED, C->name,
                                      "shortcut stride %d differs from its layer's (%d)", stride,
                                      l->stride);
                    l->shortcut = SBP_SHORTCUT_CONV;
                } else {
                    /* depthwise 1×1 with weight 1: the subsample (stride 2) or the identity */
                    double *v;
                    int rank;
                    hsize_t dims[4];
                    long cnt = read_numbers(C->g, "weight", &v, &rank, dims, (size_t)cout);
                    int ones = cnt == cout && groups == cout && cin_g == 1;
                    for (long j = 0; ones && j < cnt; j++)
                        ones = v[j] == 1.0;
                    free(v);
                    if (!ones || (stride != 1 && stride != 2))
                        return r_fail(r, SBP_ERR_UNSUPPORTED, C->name,
                                      "a grouped shortcut that is not a depthwise 1×1 of weight "
                                      "1 and stride 1 or 2 (spikebp's identity and subsample)");
                    l->shortcut = stride == 2 ? SBP_SHORTCUT_SUBSAMPLE : SBP_SHORTCUT_IDENTITY;
                }
                C->used = 1;
            }
        }
        N->used = S->used = 1;
        if (pmain.flat >= 0)
            r->node[pmain.flat].used = 1;
        N->layer = i;
        spec->n_layers++;
        prev = next;
        if (l->kind == SBP_LAYER_OUTPUT)
            break;
    }
    if (spec->n_layers == 0 || spec->layers[spec->n_layers - 1].kind != SBP_LAYER_OUTPUT)
        return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[prev].name,
                      "the chain of layers ends here, not in a Linear → LI output layer");
    /* the output layer feeds Output nodes (or nothing); every node must have been used */
    for (int e = 0; e < r->n_edges; e++) {
        int a = r->edge[e][0], b = r->edge[e][1];
        if (a == prev && r->node[b].type != NT_OUTPUT)
            return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[prev].name,
                          "the output layer feeds '%s' (%s); only Output nodes may follow it",
                          r->node[b].name, r->node[b].type_name);
        if (r->node[b].type == NT_OUTPUT) {
            if (a != prev)
                return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[b].name,
                              "Output fed by '%s', not by the output layer", r->node[a].name);
            r->node[b].used = 1;
        }
    }
    for (int k = 0; k < r->n_nodes; k++)
        if (!r->node[k].used)
            return r_fail(r, SBP_ERR_UNSUPPORTED, r->node[k].name,
                          "%s is not part of the chain of layers spikebp builds",
                          r->node[k].type_name);
    return SBP_OK;
}

/* Neuron constants of every layer, checked against nir.h's mapping; fills spec's. */
static sbp_status read_neurons(reader *r, sbp_net_spec *spec, const sbp_net *shape)
{
    const double dt = r->dt;
    double leak = NAN, vth = NAN, vth_pool = NAN;
    const char *leak_from = NULL;
    for (int i = 0; i < spec->n_layers; i++) {
        const rnode *n = &r->node[r->ln[i].neuron];
        const size_t cnt = shape->layers[i].n_out;
        double tau = 0, rr, vl = 0, th = 0, vr = 0, lam = 1;
        sbp_status st = SBP_OK;
        if (n->type != NT_IF)
            st = read_param(r, n, "tau", cnt, &tau, 0, 0);
        if (st == SBP_OK)
            st = read_param(r, n, "r", cnt, &rr, 0, 0);
        if (st == SBP_OK && n->type != NT_IF)
            st = read_param(r, n, "v_leak", cnt, &vl, 0, 0);
        if (st == SBP_OK && n->type != NT_LI)
            st = read_param(r, n, "v_threshold", cnt, &th, 0, 0);
        if (st == SBP_OK && n->type != NT_LI)
            st = read_param(r, n, "v_reset", cnt, &vr, 1, 0.0);
        if (st != SBP_OK)
            return st;
        if (n->type != NT_IF) {
            if (!(tau > 0) || !(tau >= dt))
                return r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                              "%s tau = %g; with dt = %g spikebp needs tau ≥ dt (0 ≤ leak < 1)",
                              n->type_name, tau, dt);
            lam = 1.0 - dt / tau;
            if (vl != 0)
                return r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                              "%s v_leak = %g; spikebp's neurons rest at 0", n->type_name, vl);
            /* r·dt/tau is the gain of the input in one Euler step: 1 for LIF, λ for LI */
            double want = n->type == NT_LI ? lam : 1.0, got = rr * dt / tau;
            if (fabs(got - want) > 1e-5 * fabs(want))
                return r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                              "%s r = %g with tau = %g, dt = %g scales the input by %g per step; "
                              "spikebp's %s scales it by %g (r = %g)", n->type_name, rr, tau, dt,
                              got, n->type == NT_LI ? "output integrator" : "LIF neuron", want,
                              want * tau / dt);
            if (!isnan(leak) && fabs(lam - leak) > 1e-6)
                return r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                              "leak %.9g per step differs from '%s' (%.9g); spikebp has one "
                              "leak per network", lam, leak_from, leak);
            if (isnan(leak))
                leak = lam, leak_from = n->name;
        } else {
            if (fabs(rr * dt - 1.0) > 1e-5)
                return r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                              "IF r = %g with dt = %g scales the input by %g per step; "
                              "spikebp's pooling neurons by 1 (r = 1/dt)", rr, dt, rr * dt);
        }
        if (n->type != NT_LI) {
            if (vr != 0)
                return r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                              "%s v_reset = %g; spikebp resets to 0", n->type_name, vr);
            if (!(th > 0) || th > 3.4e38)
                return r_fail(r, SBP_ERR_UNSUPPORTED, n->name, "%s v_threshold = %g; spikebp "
                              "needs a positive threshold", n->type_name, th);
            double *which = n->type == NT_IF ? &vth_pool : &vth;
            if (!isnan(*which) && (float)th != (float)*which)
                return r_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                              "v_threshold %g differs from the other %s nodes' (%g); spikebp has "
                              "one per network", th, n->type_name, *which);
            *which = th;
        }
    }
    /* exact float32 values from the metadata when they agree with the graph's */
    float mv;
    double *v;
    int rank;
    hsize_t dims[4];
#define META_F32(key, var, tol)                                                                 \
    do {                                                                                        \
        if (r->meta >= 0 && read_numbers(r->meta, key, &v, &rank, dims, 1) == 1 &&              \
            isfinite(v[0])) {                                                                   \
            mv = (float)v[0];                                                                   \
            if (isnan(var) || fabs((double)mv - (var)) <= (tol))                                \
                var = mv;                                                                       \
        }                                                                                       \
        free(v);                                                                                \
        v = NULL;                                                                               \
    } while (0)
    META_F32("spikebp_leak", leak, 1e-5);
    META_F32("spikebp_vth", vth, 0.0);
    META_F32("spikebp_vth_pool", vth_pool, 0.0);
    double gain = NAN;
    META_F32("spikebp_init_gain", gain, 0.0);
#undef META_F32
    spec->leak = isnan(leak) ? 0.99f : (float)leak;
    spec->vth = isnan(vth) ? 1.0f : (float)vth;
    spec->vth_pool = isnan(vth_pool) ? 0.75f : (float)vth_pool;
    spec->init_gain = isnan(gain) || !(gain > 0) ? 2.0f : (float)gain;
    /* dropout (training only; NIR has no such node) from the LIF nodes' metadata */
    for (int i = 0; i < spec->n_layers; i++) {
        const rnode *n = &r->node[r->ln[i].neuron];
        hid_t m = open_child(n->g, "metadata", H5I_GROUP);
        if (m >= 0 && read_numbers(m, "spikebp_dropout", &v, &rank, dims, 1) == 1) {
            if (!(v[0] >= 0 && v[0] < 1)) {
                free(v);
                h5_close(m);
                return r_fail(r, SBP_ERR_FORMAT, n->name, "metadata spikebp_dropout is not in "
                              "[0, 1)");
            }
            if (spec->layers[i].kind == SBP_LAYER_CONV || spec->layers[i].kind == SBP_LAYER_DENSE)
                spec->layers[i].dropout = (float)v[0];
        }
        free(v);
        v = NULL;
        h5_close(m);
    }
    return SBP_OK;
}

/* Reads a weight dataset into dst (count floats of shape want[rank]), finite, as float32. */
static sbp_status read_weights(reader *r, const rnode *n, float *dst, int rank,
                               const hsize_t *want)
{
    hid_t d = open_child(n->g, "weight", H5I_DATASET);
    if (d < 0)
        return r_fail(r, SBP_ERR_FORMAT, n->name, "%s lacks 'weight'", n->type_name);
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d);
    hsize_t dims[4] = {0};
    int rk = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    int ok = rk == rank && rk <= 4 && H5Sget_simple_extent_dims(sp, dims, NULL) >= 0;
    for (int k = 0; ok && k < rank; k++)
        ok = dims[k] == want[k];
    sbp_status st = SBP_OK;
    if (!ok) {
        char got[96], exp[96];
        dims_text(got, sizeof got, rk < 0 ? 0 : (rk > 4 ? 4 : rk), dims);
        dims_text(exp, sizeof exp, rank, want);
        st = r_fail(r, SBP_ERR_SHAPE, n->name, "%s 'weight' has shape %s, the network needs %s",
                    n->type_name, rk < 0 ? "unknown" : got, exp);
    } else if (ft < 0 || (H5Tget_class(ft) != H5T_FLOAT && H5Tget_class(ft) != H5T_INTEGER)) {
        st = r_fail(r, SBP_ERR_FORMAT, n->name, "%s 'weight' is not numeric", n->type_name);
    } else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        st = r_fail(r, SBP_ERR_FORMAT, n->name, "%s 'weight' cannot be read (corrupt data?)",
                    n->type_name);
    } else {
        size_t cnt = 1;
        for (int k = 0; k < rank; k++)
            cnt *= (size_t)want[k];
        for (size_t j = 0; j < cnt; j++)
            if (!isfinite(dst[j])) {
                st = r_fail(r, SBP_ERR_NUMERIC, n->name, "%s 'weight' element %zu is not finite",
                            n->type_name, j);
                break;
            }
    }
    h5_close(ft);
    h5_close(sp);
    h5_close(d);
    return st;
}

static sbp_status read_all_weights(reader *r, sbp_net *net)
{
    for (int i = 0; i < net->n_layers; i++) {
        const sbp_layer *L = &net->layers[i];
        const layer_nodes *ln = &r->ln[i];
        const rnode *S = &r->node[ln->syn];
        sbp_status st = SBP_OK;
        if (L->spec.kind == SBP_LAYER_CONV) {
            hsize_t want[4] = {(hsize_t)L->out_c, (hsize_t)L->in_c, (hsize_t)L->spec.kernel,
                               (hsize_t)L->spec.kernel};
            st = read_weights(r, S, net->params + L->w_offset, 4, want);
            if (st == SBP_OK && L->sc && L->sc->w_count) {
                hsize_t ws[4] = {(hsize_t)L->sc->out_c, (hsize_t)L->sc->in_c, 1, 1};
                st = read_weights(r, &r->node[ln->sc_syn], net->params + L->sc->w_offset, 4, ws);
            }
        } else if (L->spec.kind == SBP_LAYER_DENSE || L->spec.kind == SBP_LAYER_OUTPUT) {
            if (ln->flat >= 0) { /* the Flatten must flatten all of (C, H, W) */
                const rnode *F = &r->node[ln->flat];
                long long sd, ed;
                st = read_ints(r, F, "start_dim", &sd, 1, 0);
                if (st == SBP_OK)
                    st = read_ints(r, F, "end_dim", &ed, 1, 0);
                if (st == SBP_OK && !(sd == 0 && (ed == -1 || ed == 2)))
                    st = r_fail(r, SBP_ERR_UNSUPPORTED, F->name,
                                "Flatten start_dim %lld end_dim %lld; spikebp flattens (C, H, W) "
                                "whole (0, −1)", sd, ed);
            }
            hsize_t want[2] = {(hsize_t)L->n_out, (hsize_t)L->n_in};
            if (st == SBP_OK)
                st = read_weights(r, S, net->params + L->w_offset, 2, want);
            if (st == SBP_OK && S->type == NT_AFFINE) {
                double *v;
                int rank;
                hsize_t dims[4];
                long bc = read_numbers(S->g, "bias", &v, &rank, dims, L->n_out);
                if (bc != (long)L->n_out)
                    st = r_fail(r, SBP_ERR_SHAPE, S->name, "Affine 'bias' is missing or has not "
                                "%zu values", L->n_out);
                for (long j = 0; st == SBP_OK && j < bc; j++)
                    if (v[j] != 0.0)
                        st = r_fail(r, SBP_ERR_UNSUPPORTED, S->name, "Affine bias element %ld is "
                                    "%g; spikebp's layers have no bias", j, v[j]);
                free(v);
            }
        }
        if (st != SBP_OK)
            return st;
    }
    return SBP_OK;
}

static sbp_status read_meta(reader *r, sbp_net *net)
{
    if (r->meta < 0)
        return SBP_OK;
    H5G_info_t gi;
    if (H5Gget_info(r->meta, &gi) < 0)
        return SBP_OK;
    const char *prefix = "spikebp_meta_";
    for (hsize_t k = 0; k < gi.nlinks && k < 1024; k++) {
        char key[128], val[1024];
        ssize_t len = H5Lget_name_by_idx(r->meta, ".", H5_INDEX_NAME, H5_ITER_INC, k, key,
                                         sizeof key, H5P_DEFAULT);
        if (len < 0 || (size_t)len >= sizeof key || strncmp(key, prefix, strlen(prefix)) != 0)
            continue;
        if (!read_string(r->meta, key, val, sizeof val))
            return r_fail(r, SBP_ERR_FORMAT, NULL, "metadata '%s' is not a string", key);
        sbp_error e2 = {0};
        if (sbp_net_set_meta(net, key + strlen(prefix), val, &e2) != SBP_OK)
            return r_fail(r, SBP_ERR_FORMAT, NULL, "metadata '%s': %s", key, e2.msg);
    }
    return SBP_OK;
}

sbp_status sbp_net_import_nir(sbp_net **out, const char *path, sbp_error *err)
{
    *out = NULL;
    reader *r = calloc(1, sizeof *r);
    if (!r)
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory", path);
    r->path = path;
    r->err = err;
    r->graph = r->nodes_g = r->meta = -1;
    h5_quiet q;
    h5_quiet_begin(&q);
    sbp_status st = SBP_OK;
    sbp_net *net = NULL;
    if (access(path, R_OK) != 0)
        st = sbp_fail(err, SBP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    else if (H5Fis_hdf5(path) <= 0)
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: not a NIR file (not HDF5)", path);
    else if ((r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        st = sbp_fail(err, SBP_ERR_FORMAT, "%s: HDF5 cannot open it (corrupt?)", path);
    if (st == SBP_OK)
        st = read_nodes(r);
    if (st == SBP_OK)
        st = read_edges(r);
    r->dt = SBP_NIR_DT;
    if (st == SBP_OK && r->meta >= 0) {
        double *v;
        int rank;
        hsize_t dims[4];
        if (read_numbers(r->meta, "spikebp_dt", &v, &rank, dims, 1) == 1) {
            if (!(v[0] > 0) || !isfinite(v[0]))
                st = r_fail(r, SBP_ERR_FORMAT, NULL, "metadata spikebp_dt = %g is not a time step",
                            v[0]);
            else
                r->dt = v[0];
        }
        free(v);
    }
    sbp_net_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.leak = 0.99f, spec.vth = 1.0f, spec.vth_pool = 0.75f, spec.init_gain = 2.0f;
    if (st == SBP_OK)
        st = walk(r, &spec);
    if (st == SBP_OK) {
        /* shapes first (the neuron parameters are checked against the layers' sizes) */
        sbp_error e2 = {0};
        if (sbp_net_alloc(&net, &spec, &e2) != SBP_OK)
            st = sbp_fail(err, e2.status == SBP_ERR_NOMEM ? SBP_ERR_NOMEM : SBP_ERR_SHAPE,
                          "%s: the graph's layers do not fit together: %s", path, e2.msg);
    }
    if (st == SBP_OK)
        st = read_neurons(r, &spec, net);
    if (st == SBP_OK) {
        net->spec.leak = spec.leak, net->spec.vth = spec.vth, net->spec.vth_pool = spec.vth_pool;
        net->spec.init_gain = spec.init_gain;
        for (int i = 0; i < spec.n_layers; i++)
            net->spec.layers[i].dropout = net->layers[i].spec.dropout = spec.layers[i].dropout;
        /* the resolved layers carry the constants too: rebuild them from the final spec */
        sbp_net *again = NULL;
        sbp_error e2 = {0};
        if (sbp_net_alloc(&again, &net->spec, &e2) != SBP_OK)
            st = sbp_fail(err, e2.status, "%s: %s", path, e2.msg);
        sbp_net_free(net);
        net = again;
    }
    if (st == SBP_OK)
        st = read_all_weights(r, net);
    if (st == SBP_OK)
        st = read_meta(r, net);
    for (int k = 0; k < r->n_nodes; k++)
        h5_close(r->node[k].g);
    h5_close(r->meta);
    h5_close(r->nodes_g);
    h5_close(r->graph);
    h5_close(r->file);
    h5_quiet_end(&q);
    free(r);
    if (st != SBP_OK) {
        sbp_net_free(net);
        return st;
    }
    *out = net;
    return SBP_OK;
}

#endif /* SBP_HAVE_HDF5 */
