/*
 * interchange.c — weights in and out as NumPy .npz archives, in PyTorch's layout
 * (conv (out, in, kh, kw), dense (out, in)), so that results can be cross-checked against other
 * implementations. Names: "layer<i>.<kind>.weight" and "layer<i>.shortcut.weight" (i 0-based,
 * as in `spikebp info` minus one). Import is strict about what the network needs — every weight
 * tensor present, exact shape, finite — and all-or-nothing; other arrays in the archive are
 * ignored (a wrong network still fails, on its first missing or misshapen tensor).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/npy.h"
#include "net/kinds/kind.h"
#include "net/net.h"

typedef struct tensor_ref {
    char name[64];
    int ndim;
    size_t shape[4];
    float *data;
    size_t count;
} tensor_ref;

/* Lists the weight tensors of net into refs (capacity 2·SBP_MAX_LAYERS); returns the count. */
static size_t list_tensors(sbp_net *net, tensor_ref *refs)
{
    size_t n = 0;
    for (int i = 0; i < net->n_layers; i++) {
        for (int part = 0; part < 2; part++) {
            const sbp_layer *L = part ? net->layers[i].sc : &net->layers[i];
            if (!L || !L->w_count)
                continue;
            tensor_ref *r = &refs[n++];
            if (part)
                snprintf(r->name, sizeof r->name, "layer%d.shortcut.weight", i);
            else
                snprintf(r->name, sizeof r->name, "layer%d.%s.weight", i,
                         sbp_layer_kind_name(L->spec.kind));
            r->ndim = sbp_kind_of(L->spec.kind)->param_shape(L, r->shape);
            r->data = net->params + L->w_offset;
            r->count = L->w_count;
        }
    }
    return n;
}

sbp_status sbp_net_export_npz(const sbp_net *cnet, const char *path, sbp_error *err)
{
    sbp_net *net = (sbp_net *)cnet; /* list_tensors only reads through these pointers */
    tensor_ref refs[2 * SBP_MAX_LAYERS];
    sbp_npz_member members[2 * SBP_MAX_LAYERS];
    size_t n = list_tensors(net, refs);
    for (size_t i = 0; i < n; i++) {
        members[i].name = refs[i].name;
        members[i].dtype = "<f4";
        members[i].ndim = refs[i].ndim;
        members[i].shape = refs[i].shape;
        members[i].data = refs[i].data;
    }
    return sbp_npz_write(path, members, n, err);
}

sbp_status sbp_net_import_npz(sbp_net *net, const char *path, sbp_error *err)
{
    tensor_ref refs[2 * SBP_MAX_LAYERS];
    size_t n = list_tensors(net, refs);
    float *staged = malloc(net->n_params * sizeof(float));
    if (!staged)
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory", path);
    /* Stage everything first: a failure half-way must leave the network untouched. */
    memcpy(staged, net->params, net->n_params * sizeof(float));
    sbp_status st = SBP_OK;
    for (size_t i = 0; i < n && st == SBP_OK; i++) {
        sbp_npy_array a;
        st = sbp_npz_read(&a, path, refs[i].name, err);
        if (st != SBP_OK)
            break;
        int ok = a.ndim == refs[i].ndim && a.count == refs[i].count;
        for (int d = 0; ok && d < a.ndim; d++)
            ok = a.shape[d] == refs[i].shape[d];
        if (!ok) {
            char got[200] = "", want[96] = "";
            for (int d = 0; d < a.ndim; d++) /* every dimension: a 5-D array is not 4-D */
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%zu", d ? "×" : "",
                         a.shape[d]);
            for (int d = 0; d < refs[i].ndim; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%zu", d ? "×" : "",
                         refs[i].shape[d]);
            st = sbp_fail(err, SBP_ERR_SHAPE, "%s: '%s' has shape %s, the network needs %s", path,
                          refs[i].name, got[0] ? got : "()", want);
        } else if (a.dtype != SBP_NPY_F4 && a.dtype != SBP_NPY_F8) {
            st = sbp_fail(err, SBP_ERR_FORMAT, "%s: '%s' is %s, expected float32 or float64",
                          path, refs[i].name, sbp_npy_dtype_descr(a.dtype));
        } else {
            float *dst = staged + (refs[i].data - net->params);
            for (size_t j = 0; j < a.count; j++) {
                float v = a.dtype == SBP_NPY_F4 ? ((const float *)a.data)[j]
                                                : (float)((const double *)a.data)[j];
                if (!(v == v) || v > 3.4e38f || v < -3.4e38f) {
                    st = sbp_fail(err, SBP_ERR_NUMERIC, "%s: '%s' element %zu is not finite",
                                  path, refs[i].name, j);
                    break;
                }
                dst[j] = v;
            }
        }
        sbp_npy_array_free(&a);
    }
    if (st == SBP_OK)
        memcpy(net->params, staged, net->n_params * sizeof(float));
    free(staged);
    return st;
}
