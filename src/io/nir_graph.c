/*
 * nir_graph.c — a NIR file read as a graph of typed nodes and edges, and the typed reads of a
 * node's keys (nir_graph.h); nir_read.c turns the graph into a spikebp network.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SBP_HAVE_HDF5

#include "io/nir_graph.h"

const char *const sbp_nir_type_names[NT_OTHER] = {
    "Input", "Output", "Conv2d", "AvgPool2d", "IF", "LIF", "LI", "I", "Linear", "Affine", "Flatten"};

sbp_status sbp_nir_fail(reader *r, sbp_status st, const char *node, const char *fmt, ...)
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
hid_t sbp_nir_open_child(hid_t loc, const char *name, H5I_type_t kind)
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
int sbp_nir_read_string(hid_t loc, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    hid_t d = sbp_nir_open_child(loc, name, H5I_DATASET);
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
long sbp_nir_read_numbers(hid_t loc, const char *name, double **data, int *rank, hsize_t dims[4],
                         size_t max)
{
    *data = NULL;
    *rank = 0;
    hid_t d = sbp_nir_open_child(loc, name, H5I_DATASET);
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

void sbp_nir_dims_text(char *buf, size_t size, int rank, const hsize_t *dims)
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
sbp_status sbp_nir_read_ints(reader *r, const rnode *n, const char *key, long long *out, int want,
                            int broadcast)
{
    double *v = NULL;
    int rank;
    hsize_t dims[4];
    long cnt = sbp_nir_read_numbers(n->g, key, &v, &rank, dims, 64);
    if (cnt < 0)
        return sbp_nir_fail(r, SBP_ERR_FORMAT, n->name, "%s '%s' %s", n->type_name, key,
                      cnt == -1 ? "is missing or not a number array" : "cannot be read");
    sbp_status st = SBP_OK;
    if (!(cnt == want || (broadcast && cnt == 1)) || rank > 1) {
        char got[64];
        sbp_nir_dims_text(got, sizeof got, rank, dims);
        st = sbp_nir_fail(r, SBP_ERR_SHAPE, n->name, "%s '%s' has shape %s, expected %d value%s",
                    n->type_name, key, got, want, want > 1 ? "s" : "");
    }
    for (int k = 0; st == SBP_OK && k < want; k++) {
        double x = v[cnt == 1 ? 0 : k];
        if (!(x == floor(x)) || fabs(x) > 1e9)
            st = sbp_nir_fail(r, SBP_ERR_FORMAT, n->name, "%s '%s' is not an integer", n->type_name,
                        key);
        else
            out[k] = (long long)x;
    }
    free(v);
    return st;
}

/* A neuron parameter: `count` values (the layer's neurons, any shape of that size), all
 * finite and equal — spikebp has one constant per network. */
sbp_status sbp_nir_read_param(reader *r, const rnode *n, const char *key, size_t count,
                             double *value, int optional, double dflt)
{
    double *v = NULL;
    int rank;
    hsize_t dims[4];
    long cnt = sbp_nir_read_numbers(n->g, key, &v, &rank, dims, count);
    if (cnt == -1 && optional && H5Lexists(n->g, key, H5P_DEFAULT) <= 0) {
        *value = dflt;
        return SBP_OK;
    }
    if (cnt < 0 || (size_t)cnt != count) {
        char got[64] = "not a number array";
        if (cnt >= 0 || (cnt == -1 && H5Lexists(n->g, key, H5P_DEFAULT) > 0))
            snprintf(got, sizeof got, "the wrong shape or type");
        if (cnt >= 0)
            sbp_nir_dims_text(got, sizeof got, rank, dims);
        free(v);
        if (cnt == -1 && H5Lexists(n->g, key, H5P_DEFAULT) <= 0)
            return sbp_nir_fail(r, SBP_ERR_FORMAT, n->name, "%s lacks '%s'", n->type_name, key);
        return sbp_nir_fail(r, SBP_ERR_SHAPE, n->name, "%s '%s' has %s; the layer has %zu neurons",
                      n->type_name, key, got, count);
    }
    sbp_status st = SBP_OK;
    for (size_t j = 0; j < count && st == SBP_OK; j++) {
        if (!isfinite(v[j]))
            st = sbp_nir_fail(r, SBP_ERR_NUMERIC, n->name, "%s '%s' element %zu is not finite",
                        n->type_name, key, j);
        else if (v[j] != v[0])
            st = sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                        "%s '%s' differs between neurons (%g and %g); spikebp has one value per "
                        "network", n->type_name, key, v[0], v[j]);
    }
    if (st == SBP_OK)
        *value = v[0];
    free(v);
    return st;
}

int sbp_nir_find_node(const reader *r, const char *name)
{
    for (int k = 0; k < r->n_nodes; k++)
        if (!strcmp(r->node[k].name, name))
            return k;
    return -1;
}

sbp_status sbp_nir_read_nodes(reader *r)
{
    char type[32]; /* "version" is not read: NIR's reader does not need it either */
    r->graph = sbp_nir_open_child(r->file, "node", H5I_GROUP);
    if (r->graph < 0)
        return sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "not a NIR graph (no group 'node')");
    if (!sbp_nir_read_string(r->graph, "type", type, sizeof type))
        return sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "the graph 'node' has no 'type' string");
    if (strcmp(type, "NIRGraph") != 0)
        return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, NULL,
                      "the root node is a '%.31s', not a NIRGraph", type);
    r->nodes_g = sbp_nir_open_child(r->graph, "nodes", H5I_GROUP);
    if (r->nodes_g < 0)
        return sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "the graph has no group 'nodes'");
    r->meta = sbp_nir_open_child(r->graph, "metadata", H5I_GROUP);
    H5G_info_t gi;
    if (H5Gget_info(r->nodes_g, &gi) < 0)
        return sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "cannot list the graph's nodes");
    if (gi.nlinks > NIR_MAX_NODES)
        return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, NULL, "%llu nodes; spikebp reads at most %d",
                      (unsigned long long)gi.nlinks, NIR_MAX_NODES);
    for (hsize_t k = 0; k < gi.nlinks; k++) {
        rnode *n = &r->node[r->n_nodes];
        memset(n, 0, sizeof *n);
        n->g = -1;
        n->layer = -1;
        ssize_t len = H5Lget_name_by_idx(r->nodes_g, ".", H5_INDEX_NAME, H5_ITER_INC, k, n->name,
                                         sizeof n->name, H5P_DEFAULT);
        if (len < 0 || (size_t)len >= sizeof n->name)
            return sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "node %llu has no readable name (or one of "
                          "%d characters or more)", (unsigned long long)k, NIR_NAME);
        r->n_nodes++;
        n->g = sbp_nir_open_child(r->nodes_g, n->name, H5I_GROUP);
        if (n->g < 0)
            return sbp_nir_fail(r, SBP_ERR_FORMAT, n->name, "not a group");
        if (!sbp_nir_read_string(n->g, "type", n->type_name, sizeof n->type_name))
            return sbp_nir_fail(r, SBP_ERR_FORMAT, n->name, "no 'type' string");
        n->type = NT_OTHER;
        for (int t = 0; t < NT_OTHER; t++)
            if (!strcmp(n->type_name, sbp_nir_type_names[t]))
                n->type = (enum node_type)t;
        if (n->type == NT_OTHER)
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                          "node type '%s' is not supported (spikebp reads Input, Output, Conv2d, "
                          "AvgPool2d, IF, LIF, LI, I, Linear, Affine, Flatten)", n->type_name);
    }
    return SBP_OK;
}

sbp_status sbp_nir_read_edges(reader *r)
{
    hid_t d = sbp_nir_open_child(r->graph, "edges", H5I_DATASET);
    if (d < 0)
        return sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "the graph has no dataset 'edges'");
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d), mt = -1;
    hsize_t dims[2] = {0, 0};
    sbp_status st = SBP_OK;
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING || rank != 2 ||
        H5Sget_simple_extent_dims(sp, dims, NULL) < 0 || dims[1] != 2)
        st = sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "'edges' is not an (E, 2) array of node names");
    else if (dims[0] > NIR_MAX_EDGES)
        st = sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, NULL, "%llu edges; spikebp reads at most %d",
                    (unsigned long long)dims[0], NIR_MAX_EDGES);
    char(*names)[NIR_NAME] = NULL;
    size_t n = st == SBP_OK ? (size_t)dims[0] * 2 : 0;
    if (st == SBP_OK && n > 0) {
        names = calloc(n, NIR_NAME);
        if (!names)
            st = sbp_nir_fail(r, SBP_ERR_NOMEM, NULL, "out of memory");
    }
    if (st == SBP_OK && n > 0) {
        mt = H5Tcopy(H5T_C_S1);
        if (H5Tis_variable_str(ft) > 0) {
            char **p = calloc(n, sizeof *p);
            if (!p || mt < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 ||
                H5Tset_cset(mt, H5Tget_cset(ft)) < 0 ||
                H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, p) < 0) {
                st = sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "'edges' cannot be read");
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
                st = sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "'edges' cannot be read");
            } else {
                for (size_t k = 0; k < n; k++)
                    snprintf(names[k], NIR_NAME, "%.*s", (int)(sz < NIR_NAME - 1 ? sz : NIR_NAME - 1),
                             buf + k * sz);
            }
            free(buf);
        }
    }
    for (size_t k = 0; st == SBP_OK && k < n; k++) {
        int idx = sbp_nir_find_node(r, names[k]);
        if (idx < 0)
            st = sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "edge %zu names node '%s', which does not exist",
                        k / 2, names[k]);
        else
            r->edge[k / 2][k % 2] = idx;
    }
    /* NIR adds the inputs of a node, so an edge listed twice would double a current */
    for (size_t k = 0; st == SBP_OK && k < n / 2; k++)
        for (size_t j = 0; j < k && st == SBP_OK; j++)
            if (r->edge[j][0] == r->edge[k][0] && r->edge[j][1] == r->edge[k][1])
                st = sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, NULL,
                            "edge %zu (%s → %s) is listed twice", k, names[2 * k],
                            names[2 * k + 1]);
    if (st == SBP_OK)
        r->n_edges = (int)dims[0];
    free(names);
    h5_close(mt);
    h5_close(sp);
    h5_close(ft);
    h5_close(d);
    return st;
}

int sbp_nir_is_source(enum node_type t)
{
    return t == NT_INPUT || t == NT_LIF || t == NT_IF;
}

int sbp_nir_is_synapse(enum node_type t)
{
    return t == NT_CONV2D || t == NT_AVGPOOL2D || t == NT_LINEAR || t == NT_AFFINE;
}

int sbp_nir_in_degree(const reader *r, int node, int *from)
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
sbp_status sbp_nir_in_paths(reader *r, int n, in_path *p, int *np)
{
    *np = 0;
    for (int e = 0; e < r->n_edges; e++) {
        if (r->edge[e][1] != n)
            continue;
        int x = r->edge[e][0];
        if (*np >= 4)
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[n].name,
                          "more than 4 inputs; a spikebp layer has its input and one shortcut");
        in_path *q = &p[(*np)++];
        q->syn = q->flat = -1;
        if (sbp_nir_is_source(r->node[x].type)) {
            q->src = x;
            continue;
        }
        if (!sbp_nir_is_synapse(r->node[x].type))
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[n].name,
                          "fed by '%s' (%s); spikebp layers are fed by Conv2d, AvgPool2d, Linear "
                          "or Affine nodes", r->node[x].name, r->node[x].type_name);
        q->syn = x;
        int y = -1;
        if (sbp_nir_in_degree(r, x, &y) != 1)
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[x].name,
                          "%s with %d inputs; spikebp's synapses have exactly one",
                          r->node[x].type_name, sbp_nir_in_degree(r, x, NULL));
        if (r->node[y].type == NT_FLATTEN) {
            q->flat = y;
            int z = -1;
            if (sbp_nir_in_degree(r, y, &z) != 1)
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[y].name,
                              "Flatten with %d inputs, expected one", sbp_nir_in_degree(r, y, NULL));
            y = z;
        }
        if (!sbp_nir_is_source(r->node[y].type))
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[x].name,
                          "fed by '%s' (%s); expected the Input or a LIF/IF neuron node",
                          r->node[y].name, r->node[y].type_name);
        q->src = y;
    }
    return SBP_OK;
}

#else
typedef int sbp_nir_graph_unused; /* ISO C wants a declaration in every translation unit */
#endif
