/*
 * nir_read.c — a network in from a NIR graph (an HDF5 file, docs/nir.md), with libhdf5.
 *
 * The network is rebuilt from the graph: walk the chain of neuron nodes (LIF, IF, LI) from the
 * Input; take each layer's kind and geometry from the node feeding it (Conv2d, AvgPool2d,
 * Linear/Affine, with a Flatten before a dense layer), its shortcut from a second input edge,
 * the neuron constants from the neuron parameters (inverting nir.h's mapping, which must
 * hold; the metadata's exact float32 values are used where they agree); then read every
 * weight into the network spikebp builds from that description. Anything spikebp cannot run
 * is refused with the file and the node named. Reading the file as a graph of nodes and edges,
 * and the typed reads of their keys, are nir_graph.c's: only hard links and data stored inside
 * the file are followed, so a graph cannot make spikebp read other files.
 *
 * Built without HDF5 (CMake did not find it), the import says so and does nothing else.
 */
#include "io/nir.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "net/net.h"

#ifndef SBP_HAVE_HDF5

sbp_status sbp_net_import_nir(sbp_net **out, const char *path, sbp_error *err)
{
    *out = NULL;
    return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                    "%s: this build has no NIR support (HDF5 was not found at configure time)",
                    path);
}

#else

#include "io/nir_graph.h"

/* The spikebp_shortcut metadata of a node ("conv", "subsample"), or "" when it has none. */
static void shortcut_role(const rnode *n, char *role, size_t size)
{
    role[0] = '\0';
    hid_t m = sbp_nir_open_child(n->g, "metadata", H5I_GROUP);
    if (m >= 0 && !sbp_nir_read_string(m, "spikebp_shortcut", role, size))
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
    double *v = NULL;
    int rank;
    hsize_t dims[4];
    long cnt = sbp_nir_read_numbers(s->g, "groups", &v, &rank, dims, 1);
    int grouped = cnt == 1 && v[0] > 1.0; /* compared as a double: it may be NaN or huge */
    free(v);
    return grouped;
}

/* Whether a (C, C, 1, 1) weight is the identity matrix (spikebp's subsample as a 1×1 conv). */
static int is_identity_matrix(const rnode *n, int c)
{
    double *v = NULL;
    int rank;
    hsize_t dims[4];
    if (c < 1 || c > 4096) /* a claim of more channels is not read (it would be ≥ 128 MiB) */
        return 0;
    long cnt = sbp_nir_read_numbers(n->g, "weight", &v, &rank, dims, (size_t)c * (size_t)c);
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
    double *v = NULL;
    int rank;
    hsize_t dims[4];
    hid_t d = sbp_nir_open_child(n->g, "weight", H5I_DATASET), sp = d >= 0 ? H5Dget_space(d) : -1;
    rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    int ok = rank == 4 && H5Sget_simple_extent_dims(sp, dims, NULL) >= 0;
    h5_close(sp);
    h5_close(d);
    if (!ok)
        return sbp_nir_fail(r, SBP_ERR_SHAPE, n->name, "Conv2d 'weight' is not a 4-d array");
    if (dims[2] != dims[3] || dims[2] < 1 || dims[2] > 64 || dims[0] < 1 || dims[0] > 1 << 20 ||
        dims[1] < 1 || dims[1] > 1 << 20)
        return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                      "Conv2d kernel %llu×%llu; spikebp's kernels are square (1 … 64)",
                      (unsigned long long)dims[2], (unsigned long long)dims[3]);
    *k = (int)dims[2];
    *cout = (int)dims[0];
    *cin_g = (int)dims[1];
    long long s2[2], p2[2], d2[2], g;
    sbp_status st = sbp_nir_read_ints(r, n, "stride", s2, 2, 1);
    if (st == SBP_OK) {
        char ps[16];
        if (sbp_nir_read_string(n->g, "padding", ps, sizeof ps))
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                          "Conv2d padding '%s' given as a word; spikebp reads numbers", ps);
        st = sbp_nir_read_ints(r, n, "padding", p2, 2, 1);
    }
    if (st == SBP_OK)
        st = sbp_nir_read_ints(r, n, "dilation", d2, 2, 1);
    if (st == SBP_OK)
        st = sbp_nir_read_ints(r, n, "groups", &g, 1, 0);
    if (st != SBP_OK)
        return st;
    if (s2[0] != s2[1] || s2[0] < 1 || s2[0] > 64)
        return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name, "Conv2d stride (%lld, %lld); spikebp "
                      "needs equal strides of 1 … 64", s2[0], s2[1]);
    if (p2[0] != p2[1] || p2[0] < 0 || p2[0] > 64)
        return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name, "Conv2d padding (%lld, %lld); spikebp "
                      "needs equal paddings of 0 … 64", p2[0], p2[1]);
    if (d2[0] != 1 || d2[1] != 1)
        return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                      "Conv2d dilation (%lld, %lld); spikebp has no dilation", d2[0], d2[1]);
    if (g < 1 || g > 1 << 20)
        return sbp_nir_fail(r, SBP_ERR_FORMAT, n->name, "Conv2d groups %lld", g);
    *stride = (int)s2[0];
    *pad = (int)p2[0];
    *groups = (int)g;
    /* bias: spikebp's layers have none, so only zeros can be read */
    long bc = sbp_nir_read_numbers(n->g, "bias", &v, &rank, dims, (size_t)*cout);
    if (bc >= 0)
        for (long j = 0; j < bc && st == SBP_OK; j++)
            if (v[j] != 0.0)
                st = sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                            "Conv2d bias element %ld is %g; spikebp's layers have no bias", j, v[j]);
    free(v);
    if (st == SBP_OK && bc != *cout)
        st = sbp_nir_fail(r, SBP_ERR_SHAPE, n->name, "Conv2d 'bias' is missing or has not %d values",
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
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[k].name,
                          "a second Input ('%s' is the first); spikebp has one input",
                          r->node[input].name);
        input = k;
    }
    if (input < 0)
        return sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "the graph has no Input node");
    {
        long long sh[3];
        double *v = NULL;
        int rank;
        hsize_t dims[4];
        long cnt = sbp_nir_read_numbers(r->node[input].g, "shape", &v, &rank, dims, 3);
        free(v);
        sbp_status st = SBP_OK;
        if (cnt == 2) {
            st = sbp_nir_read_ints(r, &r->node[input], "shape", sh + 1, 2, 0);
            sh[0] = 1;
        } else {
            st = sbp_nir_read_ints(r, &r->node[input], "shape", sh, 3, 0);
        }
        if (st != SBP_OK)
            return st;
        for (int k = 0; k < 3; k++)
            if (sh[k] < 1 || sh[k] > 1 << 16)
                return sbp_nir_fail(r, SBP_ERR_SHAPE, r->node[input].name,
                              "Input shape (%lld, %lld, %lld) is not an image shape (C, H, W)",
                              sh[0], sh[1], sh[2]);
        spec->in_c = (int)sh[0], spec->in_h = (int)sh[1], spec->in_w = (int)sh[2];
    }
    r->node[input].layer = -2;
    r->node[input].used = 1;
    int prev = input;
    for (;;) {
        int next = -1, nmain = -1, nsc = -1, blocked = -1, blocked_by = -1;
        in_path paths[4], pmain = {0}, psc = {0};
        for (int k = 0; k < r->n_nodes; k++) {
            enum node_type t = r->node[k].type;
            if (r->node[k].used || (t != NT_LIF && t != NT_IF && t != NT_LI && t != NT_I))
                continue;
            int np;
            sbp_status st = sbp_nir_in_paths(r, k, paths, &np);
            if (st != SBP_OK)
                return st;
            int ready = np > 0, from_prev = 0, later = -1;
            for (int j = 0; j < np; j++) {
                ready &= r->node[paths[j].src].used;
                if (!r->node[paths[j].src].used)
                    later = paths[j].src;
                from_prev += paths[j].src == prev;
            }
            if (from_prev && !ready && blocked < 0)
                blocked = k, blocked_by = later;
            if (!ready || !from_prev)
                continue;
            if (next >= 0)
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[prev].name,
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
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[k].name,
                              "%s with no synapse from '%s'", r->node[k].type_name,
                              r->node[prev].name);
            for (int j = 0; j < np; j++) {
                if (j == nmain)
                    continue;
                if (nsc >= 0)
                    return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[k].name,
                                  "%d inputs; a spikebp layer has its input and at most one "
                                  "shortcut", np);
                nsc = j;
            }
            pmain = paths[nmain];
            if (nsc >= 0)
                psc = paths[nsc];
            if (nsc >= 0 && psc.syn >= 0 && psc.syn == pmain.syn)
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[k].name,
                              "fed twice through '%s'", r->node[pmain.syn].name);
        }
        if (next < 0 && blocked >= 0)
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[blocked].name,
                          "also takes input from '%s', which does not come before it (a "
                          "recurrent connection? spikebp's networks are feed-forward)",
                          r->node[blocked_by].name);
        if (next < 0)
            break;
        if (spec->n_layers >= SBP_MAX_LAYERS)
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, NULL, "more than %d layers", SBP_MAX_LAYERS);
        const int i = spec->n_layers;
        rnode *N = &r->node[next];
        rnode *S = &r->node[pmain.syn];
        sbp_layer_spec *l = &spec->layers[i];
        memset(l, 0, sizeof *l);
        l->shortcut = SBP_SHORTCUT_NONE;
        layer_nodes *ln = &r->ln[i];
        ln->neuron = next, ln->syn = pmain.syn, ln->flat = pmain.flat, ln->sc_syn = -1;
        /* IF and I are the hidden and output neurons of a network without leak (λ = 1) */
        if ((N->type == NT_LIF || N->type == NT_IF) && S->type == NT_CONV2D) {
            int k, stride, pad, groups, cout, cin_g;
            sbp_status st = read_conv_geometry(r, S, &k, &stride, &pad, &groups, &cout, &cin_g);
            if (st != SBP_OK)
                return st;
            if (groups != 1)
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, S->name,
                              "Conv2d with groups = %d; spikebp's convolutions have one group",
                              groups);
            l->kind = SBP_LAYER_CONV;
            l->out = cout, l->kernel = k, l->stride = stride, l->pad = pad;
        } else if (N->type == NT_IF && S->type == NT_AVGPOOL2D) {
            long long ks[2], st2[2], p2[2];
            sbp_status st = sbp_nir_read_ints(r, S, "kernel_size", ks, 2, 1);
            if (st == SBP_OK)
                st = sbp_nir_read_ints(r, S, "stride", st2, 2, 1);
            if (st == SBP_OK)
                st = sbp_nir_read_ints(r, S, "padding", p2, 2, 1);
            if (st != SBP_OK)
                return st;
            if (ks[0] != 2 || ks[1] != 2 || st2[0] != 2 || st2[1] != 2 || p2[0] || p2[1])
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, S->name,
                              "AvgPool2d kernel (%lld, %lld) stride (%lld, %lld) padding (%lld, "
                              "%lld); spikebp pools 2×2 with stride 2 and no padding",
                              ks[0], ks[1], st2[0], st2[1], p2[0], p2[1]);
            l->kind = SBP_LAYER_POOL;
        } else if (N->type != NT_AVGPOOL2D && (S->type == NT_LINEAR || S->type == NT_AFFINE)) {
            hid_t d = sbp_nir_open_child(S->g, "weight", H5I_DATASET), sp = d >= 0 ? H5Dget_space(d) : -1;
            hsize_t dims[4];
            int ok = sp >= 0 && H5Sget_simple_extent_ndims(sp) == 2 &&
                     H5Sget_simple_extent_dims(sp, dims, NULL) >= 0 && dims[0] >= 1 &&
                     dims[0] <= 1 << 24;
            h5_close(sp);
            h5_close(d);
            if (!ok)
                return sbp_nir_fail(r, SBP_ERR_SHAPE, S->name, "%s 'weight' is missing or not a 2-d "
                              "array", S->type_name);
            l->kind = N->type == NT_LI || N->type == NT_I ? SBP_LAYER_OUTPUT : SBP_LAYER_DENSE;
            l->out = (int)dims[0];
        } else {
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, N->name,
                          "a %s fed by a %s ('%s') is not a spikebp layer (Conv2d → LIF or IF, "
                          "AvgPool2d → IF, Linear → LIF or IF, Linear → LI or I)",
                          N->type_name, S->type_name, S->name);
        }
        if (pmain.flat >= 0 && l->kind != SBP_LAYER_DENSE && l->kind != SBP_LAYER_OUTPUT)
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[pmain.flat].name,
                          "Flatten before a %s", S->type_name);
        if (nsc >= 0) {
            if (l->kind != SBP_LAYER_CONV)
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, N->name,
                              "a shortcut into a %s layer; spikebp's shortcuts feed convolution "
                              "layers", sbp_layer_kind_name(l->kind));
            l->shortcut_from = r->node[psc.src].layer == -2 ? -1 : r->node[psc.src].layer;
            ln->sc_syn = psc.syn;
            if (psc.flat >= 0)
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[psc.flat].name,
                              "Flatten on a shortcut");
            if (psc.syn < 0) {
                l->shortcut = SBP_SHORTCUT_IDENTITY;
            } else {
                rnode *C = &r->node[psc.syn];
                int k, stride, pad, groups, cout, cin_g;
                if (C->type != NT_CONV2D)
                    return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, C->name,
                                  "a %s shortcut; spikebp's shortcuts are 1×1 Conv2d or direct "
                                  "edges", C->type_name);
                sbp_status st = read_conv_geometry(r, C, &k, &stride, &pad, &groups, &cout, &cin_g);
                if (st != SBP_OK)
                    return st;
                if (k != 1 || pad != 0)
                    return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, C->name,
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
                        return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, C->name,
                                      "shortcut stride %d differs from its layer's (%d)", stride,
                                      l->stride);
                    l->shortcut = SBP_SHORTCUT_CONV;
                } else {
                    /* depthwise 1×1 with weight 1: the subsample (stride 2) or the identity */
                    double *v = NULL;
                    int rank;
                    hsize_t dims[4];
                    long cnt = sbp_nir_read_numbers(C->g, "weight", &v, &rank, dims, (size_t)cout);
                    int ones = cnt == cout && groups == cout && cin_g == 1;
                    for (long j = 0; ones && j < cnt; j++)
                        ones = v[j] == 1.0;
                    free(v);
                    if (!ones || (stride != 1 && stride != 2))
                        return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, C->name,
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
        return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[prev].name,
                      "the chain of layers ends here, not in a Linear → LI output layer");
    /* the output layer feeds Output nodes (or nothing); every node must have been used */
    for (int e = 0; e < r->n_edges; e++) {
        int a = r->edge[e][0], b = r->edge[e][1];
        if (a == prev && r->node[b].type != NT_OUTPUT)
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[prev].name,
                          "the output layer feeds '%s' (%s); only Output nodes may follow it",
                          r->node[b].name, r->node[b].type_name);
        if (r->node[b].type == NT_OUTPUT) {
            if (a != prev)
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[b].name,
                              "Output fed by '%s', not by the output layer", r->node[a].name);
            r->node[b].used = 1;
        }
    }
    for (int k = 0; k < r->n_nodes; k++)
        if (!r->node[k].used)
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, r->node[k].name,
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
        const int pool = spec->layers[i].kind == SBP_LAYER_POOL;
        const int has_tau = n->type == NT_LIF || n->type == NT_LI;
        const int fires = n->type == NT_LIF || n->type == NT_IF;
        double tau = 0, rr, vl = 0, th = 0, vr = 0, lam = 1, want, got;
        sbp_status st = SBP_OK;
        if (has_tau)
            st = sbp_nir_read_param(r, n, "tau", cnt, &tau, 0, 0);
        if (st == SBP_OK)
            st = sbp_nir_read_param(r, n, "r", cnt, &rr, 0, 0);
        if (st == SBP_OK && has_tau)
            st = sbp_nir_read_param(r, n, "v_leak", cnt, &vl, 0, 0);
        if (st == SBP_OK && fires)
            st = sbp_nir_read_param(r, n, "v_threshold", cnt, &th, 0, 0);
        if (st == SBP_OK && fires)
            st = sbp_nir_read_param(r, n, "v_reset", cnt, &vr, 1, 0.0);
        if (st != SBP_OK)
            return st;
        if (has_tau) {
            if (!(tau > 0) || !(tau > dt))
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                              "%s tau = %g; with dt = %g spikebp needs tau > dt (0 < leak < 1)",
                              n->type_name, tau, dt);
            lam = 1.0 - dt / tau;
            if (vl != 0)
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                              "%s v_leak = %g; spikebp's neurons rest at 0", n->type_name, vl);
            /* r·dt/tau is the gain of the input in one Euler step: 1 for LIF, λ for LI */
            want = n->type == NT_LI ? lam : 1.0, got = rr * dt / tau;
        } else { /* IF, I: dv/dt = r·I, gain r·dt; spikebp's gain is 1 (pool) or λ = 1 */
            want = 1.0, got = rr * dt;
        }
        if (!(fabs(got - want) <= 1e-5 * fabs(want)))
            return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                          "%s r = %g (tau = %g, dt = %g) scales the input by %g per step; "
                          "spikebp's neuron scales it by %g", n->type_name, rr, tau, dt, got,
                          want);
        if (!pool) { /* one leak for every LIF layer and the output (λ = 1 for IF and I) */
            if (!isnan(leak) && fabs(lam - leak) > 1e-6)
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                              "leak %.9g per step differs from '%s' (%.9g); spikebp has one "
                              "leak per network", lam, leak_from, leak);
            if (isnan(leak))
                leak = lam, leak_from = n->name;
        }
        if (fires) {
            if (vr != 0)
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                              "%s v_reset = %g; spikebp resets to 0", n->type_name, vr);
            if (!(th > 0) || th > 3.4e38)
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name, "%s v_threshold = %g; spikebp "
                              "needs a positive threshold", n->type_name, th);
            double *which = pool ? &vth_pool : &vth;
            if (!isnan(*which) && (float)th != (float)*which)
                return sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, n->name,
                              "v_threshold %g differs from another %s layer's (%g); spikebp has "
                              "one per network", th, pool ? "pooling" : "spiking", *which);
            *which = th;
        }
    }
    /* exact float32 values from the metadata when they agree with the graph's */
    float mv;
    double *v = NULL;
    int rank;
    hsize_t dims[4];
#define META_F32(key, var, tol)                                                                 \
    do {                                                                                        \
        if (r->meta >= 0 && sbp_nir_read_numbers(r->meta, key, &v, &rank, dims, 1) == 1 &&              \
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
        hid_t m = sbp_nir_open_child(n->g, "metadata", H5I_GROUP);
        if (m >= 0 && sbp_nir_read_numbers(m, "spikebp_dropout", &v, &rank, dims, 1) == 1) {
            if (!(v[0] >= 0 && v[0] < 1)) {
                free(v);
                h5_close(m);
                return sbp_nir_fail(r, SBP_ERR_FORMAT, n->name, "metadata spikebp_dropout is not in "
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
    hid_t d = sbp_nir_open_child(n->g, "weight", H5I_DATASET);
    if (d < 0)
        return sbp_nir_fail(r, SBP_ERR_FORMAT, n->name, "%s lacks 'weight'", n->type_name);
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d);
    hsize_t dims[4] = {0};
    int rk = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    int ok = rk == rank && rk <= 4 && H5Sget_simple_extent_dims(sp, dims, NULL) >= 0;
    for (int k = 0; ok && k < rank; k++)
        ok = dims[k] == want[k];
    sbp_status st = SBP_OK;
    if (!ok) {
        char got[96], exp[96];
        sbp_nir_dims_text(got, sizeof got, rk < 0 ? 0 : (rk > 4 ? 4 : rk), dims);
        sbp_nir_dims_text(exp, sizeof exp, rank, want);
        st = sbp_nir_fail(r, SBP_ERR_SHAPE, n->name, "%s 'weight' has shape %s, the network needs %s",
                    n->type_name, rk < 0 ? "unknown" : got, exp);
    } else if (ft < 0 || (H5Tget_class(ft) != H5T_FLOAT && H5Tget_class(ft) != H5T_INTEGER)) {
        st = sbp_nir_fail(r, SBP_ERR_FORMAT, n->name, "%s 'weight' is not numeric", n->type_name);
    } else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        st = sbp_nir_fail(r, SBP_ERR_FORMAT, n->name, "%s 'weight' cannot be read (corrupt data?)",
                    n->type_name);
    } else {
        size_t cnt = 1;
        for (int k = 0; k < rank; k++)
            cnt *= (size_t)want[k];
        for (size_t j = 0; j < cnt; j++)
            if (!isfinite(dst[j])) {
                st = sbp_nir_fail(r, SBP_ERR_NUMERIC, n->name, "%s 'weight' element %zu is not finite",
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
                st = sbp_nir_read_ints(r, F, "start_dim", &sd, 1, 0);
                if (st == SBP_OK)
                    st = sbp_nir_read_ints(r, F, "end_dim", &ed, 1, 0);
                if (st == SBP_OK && !(sd == 0 && (ed == -1 || ed == 2)))
                    st = sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, F->name,
                                "Flatten start_dim %lld end_dim %lld; spikebp flattens (C, H, W) "
                                "whole (0, −1)", sd, ed);
            }
            hsize_t want[2] = {(hsize_t)L->n_out, (hsize_t)L->n_in};
            if (st == SBP_OK)
                st = read_weights(r, S, net->params + L->w_offset, 2, want);
            if (st == SBP_OK && S->type == NT_AFFINE) {
                double *v = NULL;
                int rank;
                hsize_t dims[4];
                long bc = sbp_nir_read_numbers(S->g, "bias", &v, &rank, dims, L->n_out);
                if (bc != (long)L->n_out)
                    st = sbp_nir_fail(r, SBP_ERR_SHAPE, S->name, "Affine 'bias' is missing or has not "
                                "%zu values", L->n_out);
                for (long j = 0; st == SBP_OK && j < bc; j++)
                    if (v[j] != 0.0)
                        st = sbp_nir_fail(r, SBP_ERR_UNSUPPORTED, S->name, "Affine bias element %ld is "
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
        if (!sbp_nir_read_string(r->meta, key, val, sizeof val))
            return sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "metadata '%s' is not a string", key);
        sbp_error e2 = {0};
        if (sbp_net_set_meta(net, key + strlen(prefix), val, &e2) != SBP_OK)
            return sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "metadata '%s': %s", key, e2.msg);
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
        st = sbp_nir_read_nodes(r);
    if (st == SBP_OK)
        st = sbp_nir_read_edges(r);
    r->dt = SBP_NIR_DT;
    if (st == SBP_OK && r->meta >= 0) {
        double *v = NULL;
        int rank;
        hsize_t dims[4];
        if (sbp_nir_read_numbers(r->meta, "spikebp_dt", &v, &rank, dims, 1) == 1) {
            if (!(v[0] > 0) || !isfinite(v[0]))
                st = sbp_nir_fail(r, SBP_ERR_FORMAT, NULL, "metadata spikebp_dt = %g is not a time step",
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
