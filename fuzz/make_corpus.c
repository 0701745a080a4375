/*
 * make_corpus.c — writes the seeds that need the library or libmatio: model files saved by
 * sbp_net_save (fuzz/corpus/model), the same networks as NIR graphs (fuzz/corpus/nir, when
 * built with HDF5), SVHN-style MAT files (fuzz/corpus/svhn) and an .npz archive holding both
 * a data set and the weights of fuzz_npz's network (fuzz/corpus/npz). The other seeds come
 * from fuzz/make_corpus.py. Deterministic.
 *
 *   gcc -std=c11 -O1 -D_XOPEN_SOURCE=700 -DSBP_HAVE_HDF5 -Iinclude -Isrc $(pkg-config --cflags \
 *       openblas matio libzip hdf5) fuzz/make_corpus.c $(find src -name '*.c') -fopenmp \
 *       $(pkg-config --libs openblas matio libzip hdf5) -lz -lm -o /tmp/make_corpus && \
 *       /tmp/make_corpus fuzz/corpus
 */
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/npy.h"
#include "net/net.h"
#include "spikebp.h"

static const char *root;

static void die(const char *what, const sbp_error *err)
{
    fprintf(stderr, "make_corpus: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static void path_of(char *buf, size_t size, const char *target, const char *name)
{
    snprintf(buf, size, "%s/%s", root, target);
    mkdir(buf, 0755);
    snprintf(buf, size, "%s/%s/%s", root, target, name);
}

static void model(const char *name, const char *text, int notation, int n_meta)
{
    sbp_error err = {0};
    sbp_net_spec spec;
    sbp_status st = notation ? sbp_net_spec_parse(&spec, text, &err)
                             : sbp_net_spec_parse_description(&spec, text, name, &err);
    sbp_net *net = NULL;
    if (st != SBP_OK || sbp_net_create(&net, &spec, 7, &err) != SBP_OK)
        die(name, &err);
    static const char *const keys[] = {"timesteps", "data", "epoch", "note"};
    static const char *const vals[] = {"100", "mnist", "3", "a value with  spaces"};
    for (int i = 0; i < n_meta; i++)
        if (sbp_net_set_meta(net, keys[i % 4], vals[i % 4], &err) != SBP_OK)
            die(name, &err);
    char p[1024];
    path_of(p, sizeof p, "model", name);
    if (sbp_net_save(net, p, &err) != SBP_OK)
        die(name, &err);
#ifdef SBP_HAVE_HDF5
    path_of(p, sizeof p, "nir", name);
    if (sbp_net_export_nir(net, p, &err) != SBP_OK)
        die(name, &err);
#endif
    sbp_net_free(net);
}

/* X 32×32×3×n uint8 (rank 3 when n == 0: a one-image file), y of class yc. */
static void svhn(const char *name, int n, enum matio_classes yc, enum matio_types yt,
                 double label, enum mat_ft ver, enum matio_compression z)
{
    char p[1024];
    path_of(p, sizeof p, "svhn", name);
    remove(p);
    const int images = n ? n : 1;
    uint8_t *X = malloc((size_t)images * 3072);
    double yd[8];
    uint8_t yu[8];
    for (int i = 0; i < images * 3072; i++)
        X[i] = (uint8_t)(i * 37 + 11);
    for (int i = 0; i < images; i++) {
        yd[i] = label + i;
        yu[i] = (uint8_t)(label + i);
    }
    mat_t *m = Mat_CreateVer(p, NULL, ver);
    if (!m)
        die(name, NULL);
    size_t xd[4] = {32, 32, 3, (size_t)images}, ydims[2] = {(size_t)images, 1};
    matvar_t *v = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, n ? 4 : 3, xd, X, 0);
    if (!v || Mat_VarWrite(m, v, z) != 0)
        die(name, NULL);
    Mat_VarFree(v);
    v = Mat_VarCreate("y", yc, yt, 2, ydims, yc == MAT_C_DOUBLE ? (void *)yd : (void *)yu, 0);
    if (!v || Mat_VarWrite(m, v, z) != 0)
        die(name, NULL);
    Mat_VarFree(v);
    Mat_Close(m);
    free(X);
}

int main(int argc, char **argv)
{
    root = argc > 1 ? argv[1] : "fuzz/corpus";
    mkdir(root, 0755);

    /* ---- models: a tiny conv net, a residual net with metadata, dense only */
    model("tiny_conv", "6x6x1-2C3-P2-3", 1, 0);
    model("dense_meta", "3x3x2-4FC-2", 1, 2);
    model("residual",
          "[input]\nshape = 4x4x2\n[neuron]\nleak = 0.95\ninit_gain = 1\n"
          "[conv]\nname = a\nfilters = 2\nkernel = 3\ndropout = 0.25\n"
          "[conv]\nfilters = 3\nkernel = 3\nstride = 2\nshortcut = conv\nfrom = a\nname = b\n"
          "[conv]\nfilters = 3\nkernel = 1\nshortcut = identity\nfrom = b\n"
          "[output]\nclasses = 2\n",
          0, 4);
    model("subsample",
          "[input]\nshape = 4x4x1\n[conv]\nfilters = 1\nkernel = 3\nstride = 2\n"
          "shortcut = subsample\nfrom = input\n[output]\nclasses = 2\n",
          0, 1);

    /* ---- SVHN MAT files */
    svhn("two_double_v5", 2, MAT_C_DOUBLE, MAT_T_DOUBLE, 9, MAT_FT_MAT5, MAT_COMPRESSION_NONE);
    svhn("two_uint8_zlib", 2, MAT_C_UINT8, MAT_T_UINT8, 1, MAT_FT_MAT5, MAT_COMPRESSION_ZLIB);
    svhn("one_rank3_v5", 0, MAT_C_DOUBLE, MAT_T_DOUBLE, 10, MAT_FT_MAT5, MAT_COMPRESSION_NONE);
    svhn("bad_label_v5", 1, MAT_C_DOUBLE, MAT_T_DOUBLE, 11, MAT_FT_MAT5, MAT_COMPRESSION_NONE);

    /* ---- npz: data set arrays x, y plus the weights of fuzz_npz's network */
    static const char npz_net_text[] =
        "[input]\nshape = 4x4x1\n"
        "[conv]\nfilters = 2\nkernel = 3\nname = a\n"
        "[conv]\nfilters = 3\nkernel = 3\nshortcut = conv\nfrom = a\n"
        "[output]\nclasses = 2\n";
    sbp_error err = {0};
    sbp_net_spec spec;
    sbp_net *net = NULL;
    if (sbp_net_spec_parse_description(&spec, npz_net_text, "npz net", &err) != SBP_OK ||
        sbp_net_create(&net, &spec, 3, &err) != SBP_OK)
        die("npz net", &err);
    char p[1024];
    path_of(p, sizeof p, "npz", "weights_only");
    if (sbp_net_export_npz(net, p, &err) != SBP_OK)
        die("npz export", &err);
    /* the same tensors beside a data set, as one archive */
    sbp_npz_member m[8];
    size_t nm = 0;
    char names[4][64];
    size_t shapes[4][4];
    for (int i = 0; i < net->n_layers; i++)
        for (int part = 0; part < 2; part++) {
            const sbp_layer *L = part ? net->layers[i].sc : &net->layers[i];
            if (!L || !L->w_count)
                continue;
            snprintf(names[nm], 64, part ? "layer%d.shortcut.weight" : "layer%d.%s.weight", i,
                     sbp_layer_kind_name(L->spec.kind));
            int conv = L->spec.kind == SBP_LAYER_CONV;
            size_t *s = shapes[nm];
            s[0] = conv ? (size_t)L->out_c : L->n_out;
            s[1] = conv ? (size_t)L->in_c : L->n_in;
            s[2] = s[3] = (size_t)L->spec.kernel;
            m[nm] = (sbp_npz_member){names[nm], "<f4", conv ? 4 : 2, s,
                                     net->params + L->w_offset};
            nm++;
        }
    uint8_t x[2 * 4 * 4];
    for (int i = 0; i < 32; i++)
        x[i] = (uint8_t)(i * 7);
    uint8_t y[2] = {1, 0};
    size_t xs[3] = {2, 4, 4}, ys[1] = {2};
    m[nm++] = (sbp_npz_member){"x", "|u1", 3, xs, x};
    m[nm++] = (sbp_npz_member){"y", "|u1", 1, ys, y};
    path_of(p, sizeof p, "npz", "weights_and_data");
    if (sbp_npz_write(p, m, nm, &err) != SBP_OK)
        die("npz write", &err);
    sbp_net_free(net);
    printf("make_corpus: wrote model, svhn and npz seeds under %s\n", root);
    return 0;
}
