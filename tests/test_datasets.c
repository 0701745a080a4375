/*
 * test_datasets.c — the data set loaders beyond IDX: CIFAR-10 binary, SVHN .mat, N-MNIST
 * events, NumPy .npy/.npz (reading and writing), checked on real files where the project has
 * them and on hostile hand-made files, each of which must fail with the right status and a
 * message naming the file.
 *
 * Every expected number comes from outside the loaders under test:
 *   - CIFAR-10 slice (tests/data/cifar-10-slice: the first 200 training and 100 test records of
 *     the official files): labels, label counts and pixels computed by /usr/bin/python3 + NumPy
 *     from the raw bytes (tests/data/expected_values.py prints every number asserted here); the
 *     first labels are also the official ones (test: cat ship ship airplane frog …).
 *   - N-MNIST sample (tests/data/n-mnist): event fields decoded and binned by the same NumPy
 *     script, also quoted at test_nmnist_sample;
 *   - SVHN: .mat files written here with libmatio from a formula, in MATLAB's column-major
 *     order, so that the expected (n, c, h, w) placement is the formula itself;
 *   - NumPy: fixtures written by NumPy (tests/data/make_npy_fixtures.py) — the writer must
 *     reproduce np.save byte for byte — and, for the .npz writer, NumPy reading our file back.
 * A missing data file is a failure, not a skip.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <matio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data/dataset.h"
#include "formats/npy.h"
#include "spikebp.h"

/* ---------------------------------------------------------------- helpers */

static char tmpdir[256];

static const char *tmp_path(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
    return buf;
}

static const char *fixture(const char *name, char *buf, size_t size)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/%s", name);
    return check_source_path(rel, buf, size);
}

static void write_file(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        CHECK(0, "cannot create %s: %s", path, strerror(errno));
        return;
    }
    if (n)
        CHECK(fwrite(bytes, 1, n, f) == n, "short write to %s", path);
    CHECK(fclose(f) == 0, "cannot close %s", path);
}

/* Whole file into a malloc'd buffer; NULL if unreadable. */
static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* A failure must carry status `want`, leave *ds NULL, and mention `needle` (and the path). */
static void expect_fail(sbp_status st, const sbp_error *err, sbp_status want, const sbp_dataset *ds,
                        const char *path, const char *needle, const char *what)
{
    CHECK(st == want, "%s: status %s, expected %s (%s)", what, sbp_status_string(st),
          sbp_status_string(want), err->msg);
    CHECK(ds == NULL, "%s: *out must stay NULL on failure", what);
    if (path)
        CHECK(strstr(err->msg, path) != NULL, "%s: message does not name the file: %s", what,
              err->msg);
    if (needle)
        CHECK(strstr(err->msg, needle) != NULL, "%s: message lacks '%s': %s", what, needle,
              err->msg);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* ---------------------------------------------------------------- CIFAR-10 */

static void test_cifar_real(void)
{
    char p1[1024], p2[1024];
    fixture("cifar-10-slice/data_batch_1.bin", p1, sizeof p1);
    fixture("cifar-10-slice/test_batch.bin", p2, sizeof p2);
    sbp_error err = {0};
    sbp_dataset *tr = NULL, *te = NULL, *both = NULL;
    sbp_status st = sbp_dataset_load_cifar10(&tr, p1, &err);
    CHECK(st == SBP_OK, "cifar train slice: %s", err.msg);
    st = sbp_dataset_load_cifar10(&te, p2, &err);
    CHECK(st == SBP_OK, "cifar test slice: %s", err.msg);
    if (!tr || !te) {
        sbp_dataset_free(tr);
        sbp_dataset_free(te);
        return;
    }
    int c, h, w;
    sbp_dataset_shape(tr, &c, &h, &w);
    CHECK(sbp_dataset_count(tr) == 200 && sbp_dataset_count(te) == 100, "counts %zu %zu",
          sbp_dataset_count(tr), sbp_dataset_count(te));
    CHECK(c == 3 && h == 32 && w == 32 && sbp_dataset_classes(tr) == 10, "shape %dx%dx%d", c, h, w);
    CHECK(sbp_dataset_timesteps(tr) == 0 && tr->crop_pad == 0 && tr->flip == 0,
          "a loader sets no augmentation and is an image set");
    /* NumPy on the raw bytes: first labels and label counts */
    static const int tr_first[10] = {6, 9, 9, 4, 1, 1, 2, 7, 8, 3};
    static const int te_first[10] = {3, 8, 8, 0, 6, 6, 1, 6, 3, 1};
    static const int tr_counts[10] = {14, 28, 22, 21, 19, 19, 18, 21, 15, 23};
    static const int te_counts[10] = {10, 6, 8, 10, 7, 8, 16, 11, 13, 11};
    for (int i = 0; i < 10; i++) {
        CHECK(sbp_dataset_label(tr, (size_t)i) == tr_first[i], "train label %d", i);
        CHECK(sbp_dataset_label(te, (size_t)i) == te_first[i], "test label %d", i);
    }
    int ctr[10] = {0}, cte[10] = {0};
    for (size_t i = 0; i < 200; i++)
        ctr[sbp_dataset_label(tr, i)]++;
    for (size_t i = 0; i < 100; i++)
        cte[sbp_dataset_label(te, i)]++;
    for (int k = 0; k < 10; k++)
        CHECK(ctr[k] == tr_counts[k] && cte[k] == te_counts[k], "class %d: %d/%d, %d/%d", k, ctr[k],
              tr_counts[k], cte[k], te_counts[k]);
    /* pixels (image, channel, y, x) from NumPy: px.reshape(-1, 3, 32, 32)[i, c, y, x] */
    static const struct {
        int i, c, y, x, tr, te;
    } px[] = {{0, 0, 0, 0, 59, 158},
              {0, 1, 5, 7, 77, 115},
              {0, 2, 31, 31, 72, 110},
              {-1, 0, 16, 3, 97, 127},
              {-1, 2, 0, 31, 195, 251}};
    for (size_t k = 0; k < sizeof px / sizeof px[0]; k++) {
        size_t itr = px[k].i < 0 ? 199 : (size_t)px[k].i,
               ite = px[k].i < 0 ? 99 : (size_t)px[k].i;
        size_t off = ((size_t)px[k].c * 32 + (size_t)px[k].y) * 32 + (size_t)px[k].x;
        CHECK(sbp_dataset_image(tr, itr)[off] == px[k].tr, "train pixel %zu", k);
        CHECK(sbp_dataset_image(te, ite)[off] == px[k].te, "test pixel %zu", k);
    }
    static const long tr_last_sum[3] = {134648, 142856, 156384},
                      te_last_sum[3] = {182095, 159746, 145813};
    for (int ch = 0; ch < 3; ch++) {
        long s1 = 0, s2 = 0;
        for (int i = 0; i < 1024; i++) {
            s1 += sbp_dataset_image(tr, 199)[ch * 1024 + i];
            s2 += sbp_dataset_image(te, 99)[ch * 1024 + i];
        }
        CHECK(s1 == tr_last_sum[ch] && s2 == te_last_sum[ch], "channel sums of the last images");
    }
    long long total = 0;
    for (size_t i = 0; i < 200; i++)
        for (int k = 0; k < 3072; k++)
            total += sbp_dataset_image(tr, i)[k];
    CHECK(total == 72865278LL, "sum of all train pixels %lld", total);
    /* §1 encoding */
    CHECK(fabsf(tr->mean[0] - 0.4914f) < 1e-7f && fabsf(tr->mean[1] - 0.4822f) < 1e-7f &&
              fabsf(tr->mean[2] - 0.4465f) < 1e-7f,
          "CIFAR-10 mean");
    CHECK(fabsf(tr->std[0] - 0.557f) < 1e-7f && fabsf(tr->std[1] - 0.549f) < 1e-7f &&
              fabsf(tr->std[2] - 0.5534f) < 1e-7f && tr->gain == 1.0f,
          "CIFAR-10 std and gain");

    /* several files into one set, in order */
    const char *paths[2] = {p1, p2};
    st = sbp_dataset_load_cifar10_files(&both, paths, 2, &err);
    CHECK(st == SBP_OK && both && sbp_dataset_count(both) == 300, "two files: %s", err.msg);
    if (both) {
        CHECK(sbp_dataset_label(both, 199) == 0 && sbp_dataset_label(both, 200) == 3,
              "labels across the file boundary");
        CHECK(sbp_dataset_image(both, 200)[0] == 158 && sbp_dataset_image(both, 0)[0] == 59,
              "pixels across the file boundary");
    }
    /* augmentation switch (training split only, set by the caller) */
    CHECK(sbp_dataset_set_augment(tr, 4, 1, &err) == SBP_OK && tr->crop_pad == 4 && tr->flip == 1,
          "set augment");
    sbp_dataset *v = NULL;
    CHECK(sbp_dataset_slice(&v, tr, 10, 20, &err) == SBP_OK && v->crop_pad == 4 && v->flip == 1,
          "a slice keeps the augmentation");
    sbp_dataset_free(v);
    CHECK(sbp_dataset_set_augment(tr, -1, 0, &err) == SBP_ERR_INVALID_ARG, "negative padding");
    CHECK(sbp_dataset_set_augment(tr, 40, 0, &err) == SBP_ERR_INVALID_ARG, "padding > image");
    sbp_dataset_free(tr);
    sbp_dataset_free(te);
    sbp_dataset_free(both);
}

static void test_cifar_malformed(void)
{
    char p[512], q[512];
    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    uint8_t *rec = calloc(3, 3073);
    /* a size that is not a multiple of 3,073 */
    tmp_path("short.bin", p, sizeof p);
    write_file(p, rec, 2 * 3073 + 1);
    sbp_status st = sbp_dataset_load_cifar10(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "whole number of CIFAR-10 records", "odd size");
    /* empty */
    tmp_path("empty.bin", p, sizeof p);
    write_file(p, rec, 0);
    st = sbp_dataset_load_cifar10(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "0 bytes", "empty file");
    /* CIFAR-100 records (3,074 bytes) are named as such */
    tmp_path("c100.bin", p, sizeof p);
    write_file(p, rec, 2 * 3074);
    st = sbp_dataset_load_cifar10(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "CIFAR-100", "CIFAR-100 file");
    /* gzip */
    uint8_t gz[3073 + 5] = {0x1f, 0x8b, 8, 0};
    tmp_path("gz.bin", p, sizeof p);
    write_file(p, gz, sizeof gz);
    st = sbp_dataset_load_cifar10(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "gzip", "gzipped file");
    /* label 10 in the second record */
    rec[3073] = 10;
    tmp_path("label10.bin", p, sizeof p);
    write_file(p, rec, 3 * 3073);
    st = sbp_dataset_load_cifar10(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "record 1 has label 10", "label 10");
    /* a good file followed by a bad one: the message names the bad one */
    rec[3073] = 9;
    tmp_path("good.bin", q, sizeof q);
    write_file(q, rec, 3 * 3073);
    const char *two[2] = {q, p};
    st = sbp_dataset_load_cifar10_files(&ds, two, 2, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "label 10", "bad second file");
    st = sbp_dataset_load_cifar10(&ds, q, &err);
    CHECK(st == SBP_OK && ds && sbp_dataset_count(ds) == 3 && sbp_dataset_label(ds, 1) == 9,
          "3-record file: %s", err.msg);
    sbp_dataset_free(ds);
    ds = NULL;
    /* missing file, no files */
    tmp_path("nope.bin", p, sizeof p);
    st = sbp_dataset_load_cifar10(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_IO, ds, p, "cannot open", "missing file");
    st = sbp_dataset_load_cifar10_files(&ds, two, 0, &err);
    expect_fail(st, &err, SBP_ERR_INVALID_ARG, ds, NULL, NULL, "no files");
    free(rec);
}

/* ---------------------------------------------------------------- SVHN */

/* The pixel formula of the generated files, 0-based (row, col, ch, n). */
static uint8_t svhn_px(int row, int col, int ch, int n)
{
    return (uint8_t)((row * 7 + col * 3 + ch * 50 + n * 11) % 240);
}

/* Writes a MAT5 file with X (if xdata) and y (if ydata). compress: zlib, as SVHN's files. */
static void write_mat(const char *path, int xrank, const size_t *xdims, enum matio_classes xc,
                      enum matio_types xt, void *xdata, const size_t *ydims, enum matio_classes yc,
                      enum matio_types yt, void *ydata, int compress)
{
    mat_t *m = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    CHECK(m != NULL, "matio cannot create %s", path);
    if (!m)
        return;
    enum matio_compression z = compress ? MAT_COMPRESSION_ZLIB : MAT_COMPRESSION_NONE;
    if (xdata) {
        matvar_t *v = Mat_VarCreate("X", xc, xt, xrank, (size_t *)xdims, xdata, 0);
        CHECK(v && Mat_VarWrite(m, v, z) == 0, "matio cannot write X");
        Mat_VarFree(v);
    }
    if (ydata) {
        matvar_t *v = Mat_VarCreate("y", yc, yt, 2, (size_t *)ydims, ydata, 0);
        CHECK(v && Mat_VarWrite(m, v, z) == 0, "matio cannot write y");
        Mat_VarFree(v);
    }
    Mat_Close(m);
}

static void test_svhn(void)
{
    enum { N = 3 };
    static uint8_t X[32 * 32 * 3 * N]; /* column-major X(row, col, ch, n) */
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < 3; ch++)
            for (int col = 0; col < 32; col++)
                for (int row = 0; row < 32; row++)
                    X[row + 32 * col + 1024 * ch + 3072 * n] = svhn_px(row, col, ch, n);
    /* MATLAB's X(3, 7, 2, 1) (1-based) is row 2, col 6, channel 1, image 0 */
    X[2 + 32 * 6 + 1024 * 1 + 3072 * 0] = 255;
    double y[N] = {10, 3, 1};
    size_t xd[4] = {32, 32, 3, N}, yd[2] = {N, 1};
    char p[512];
    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    for (int compress = 0; compress < 2; compress++) {
        tmp_path(compress ? "svhn_z.mat" : "svhn.mat", p, sizeof p);
        write_mat(p, 4, xd, MAT_C_UINT8, MAT_T_UINT8, X, yd, MAT_C_DOUBLE, MAT_T_DOUBLE, y,
                  compress);
        sbp_status st = sbp_dataset_load_svhn(&ds, p, &err);
        CHECK(st == SBP_OK && ds, "svhn (compressed %d): %s", compress, err.msg);
        if (!ds)
            continue;
        int c, h, w;
        sbp_dataset_shape(ds, &c, &h, &w);
        CHECK(sbp_dataset_count(ds) == N && c == 3 && h == 32 && w == 32 &&
                  sbp_dataset_classes(ds) == 10,
              "svhn shape");
        CHECK(sbp_dataset_label(ds, 0) == 0 && sbp_dataset_label(ds, 1) == 3 &&
                  sbp_dataset_label(ds, 2) == 1,
              "labels 10 3 1 → 0 3 1");
        CHECK(sbp_dataset_image(ds, 0)[(1 * 32 + 2) * 32 + 6] == 255,
              "X(3,7,2,1) lands at image 0, c = 1, y = 2, x = 6");
        int bad = 0;
        for (int n = 0; n < N; n++)
            for (int ch = 0; ch < 3; ch++)
                for (int row = 0; row < 32; row++)
                    for (int col = 0; col < 32; col++) {
                        if (n == 0 && ch == 1 && row == 2 && col == 6)
                            continue;
                        bad += sbp_dataset_image(ds, (size_t)n)[(ch * 32 + row) * 32 + col] !=
                               svhn_px(row, col, ch, n);
                    }
        CHECK(bad == 0, "%d pixels misplaced", bad);
        /* encoding: per-channel mean/std of pixel/255 over the file, gain 1 */
        for (int ch = 0; ch < 3; ch++) {
            double s = 0, q = 0;
            for (int n = 0; n < N; n++)
                for (int k = 0; k < 1024; k++) {
                    double v = X[k + 1024 * ch + 3072 * n] / 255.0;
                    s += v;
                    q += v * v;
                }
            double m = s / (N * 1024), sd = sqrt(q / (N * 1024) - m * m);
            CHECK_NEAR(ds->mean[ch], m, 1e-6, "svhn channel mean");
            CHECK_NEAR(ds->std[ch], sd, 1e-6, "svhn channel std");
        }
        CHECK(ds->gain == 1.0f && ds->crop_pad == 0 && ds->flip == 0, "svhn gain, no augmentation");
        sbp_dataset_free(ds);
        ds = NULL;
    }
    /* y as uint8 1×N and a one-image file (MATLAB drops the trailing 1: X is 32×32×3) */
    uint8_t y8[1] = {10};
    size_t xd1[3] = {32, 32, 3}, yd1[2] = {1, 1};
    tmp_path("svhn1.mat", p, sizeof p);
    write_mat(p, 3, xd1, MAT_C_UINT8, MAT_T_UINT8, X, yd1, MAT_C_UINT8, MAT_T_UINT8, y8, 0);
    sbp_status st = sbp_dataset_load_svhn(&ds, p, &err);
    CHECK(st == SBP_OK && ds && sbp_dataset_count(ds) == 1 && sbp_dataset_label(ds, 0) == 0,
          "one-image svhn file: %s", err.msg);
    sbp_dataset_free(ds);
    ds = NULL;

    /* malformed */
    size_t xbad[4] = {32, 32, 1, N};
    tmp_path("svhn_dims.mat", p, sizeof p);
    write_mat(p, 4, xbad, MAT_C_UINT8, MAT_T_UINT8, X, yd, MAT_C_DOUBLE, MAT_T_DOUBLE, y, 0);
    st = sbp_dataset_load_svhn(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "X has size 32×32×1×3", "wrong dims");
    size_t xd2[2] = {1024, 3 * N};
    tmp_path("svhn_rank.mat", p, sizeof p);
    write_mat(p, 2, xd2, MAT_C_UINT8, MAT_T_UINT8, X, yd, MAT_C_DOUBLE, MAT_T_DOUBLE, y, 0);
    st = sbp_dataset_load_svhn(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "32×32×3×N", "wrong rank");
    static double Xd[32 * 32 * 3 * N];
    tmp_path("svhn_class.mat", p, sizeof p);
    write_mat(p, 4, xd, MAT_C_DOUBLE, MAT_T_DOUBLE, Xd, yd, MAT_C_DOUBLE, MAT_T_DOUBLE, y, 0);
    st = sbp_dataset_load_svhn(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "X is double", "wrong class");
    tmp_path("svhn_noy.mat", p, sizeof p);
    write_mat(p, 4, xd, MAT_C_UINT8, MAT_T_UINT8, X, NULL, MAT_C_DOUBLE, MAT_T_DOUBLE, NULL, 0);
    st = sbp_dataset_load_svhn(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "no variable 'y'", "missing y");
    tmp_path("svhn_nox.mat", p, sizeof p);
    write_mat(p, 4, xd, MAT_C_UINT8, MAT_T_UINT8, NULL, yd, MAT_C_DOUBLE, MAT_T_DOUBLE, y, 0);
    st = sbp_dataset_load_svhn(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "no variable 'X'", "missing X");
    const double bad_labels[2] = {0, 11};
    for (int k = 0; k < 2; k++) {
        double yb[N] = {1, bad_labels[k], 2};
        tmp_path("svhn_label.mat", p, sizeof p);
        write_mat(p, 4, xd, MAT_C_UINT8, MAT_T_UINT8, X, yd, MAT_C_DOUBLE, MAT_T_DOUBLE, yb, 0);
        st = sbp_dataset_load_svhn(&ds, p, &err);
        expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, k ? "y(2) = 11" : "y(2) = 0", "bad label");
    }
    size_t ydn[2] = {N + 1, 1};
    double y4[N + 1] = {1, 2, 3, 4};
    tmp_path("svhn_ycount.mat", p, sizeof p);
    write_mat(p, 4, xd, MAT_C_UINT8, MAT_T_UINT8, X, ydn, MAT_C_DOUBLE, MAT_T_DOUBLE, y4, 0);
    st = sbp_dataset_load_svhn(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "X holds 3 images", "y count");
    /* a hand-made MAT5 header whose X claims 100,000 images in a few hundred bytes */
    {
        uint8_t mb[512] = {0};
        size_t at = 0;
        memset(mb, ' ', 116);
        memcpy(mb, "MATLAB 5.0 MAT-file", 19);
        at = 124;
        mb[at++] = 0x00; /* version 0x0100, little-endian */
        mb[at++] = 0x01;
        mb[at++] = 'I';
        mb[at++] = 'M';
        /* miMATRIX: flags (uint8 class), dims 32×32×3×100000, name "X" (padded to 8 bytes),
         * empty uint8 data; then y: double, 100000×1, empty */
        static const uint32_t xbody[] = {6, 8, 9, 0, 5, 16, 32, 32, 3, 100000, 1, 1, 'X', 0, 2, 0};
        static const uint32_t ybody[] = {6, 8, 6, 0, 5, 8, 100000, 1, 1, 1, 'y', 0, 9, 0};
        uint32_t tag[2] = {14, (uint32_t)sizeof xbody};
        memcpy(mb + at, tag, 8);
        memcpy(mb + at + 8, xbody, sizeof xbody);
        at += 8 + sizeof xbody;
        tag[1] = (uint32_t)sizeof ybody;
        memcpy(mb + at, tag, 8);
        memcpy(mb + at + 8, ybody, sizeof ybody);
        at += 8 + sizeof ybody;
        tmp_path("svhn_huge.mat", p, sizeof p);
        write_file(p, mb, at);
        st = sbp_dataset_load_svhn(&ds, p, &err);
        CHECK(st == SBP_ERR_FORMAT && ds == NULL && strstr(err.msg, p) &&
                  strstr(err.msg, "more than a"),
              "X claiming 100,000 images in a tiny file: %s", err.msg);
    }
    tmp_path("svhn_text.mat", p, sizeof p);
    write_file(p, "this is not a MAT file, just some text\n", 39);
    st = sbp_dataset_load_svhn(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "not a MATLAB", "text file");
    tmp_path("svhn_nope.mat", p, sizeof p);
    st = sbp_dataset_load_svhn(&ds, p, &err);
    expect_fail(st, &err, SBP_ERR_IO, ds, p, "cannot open", "missing file");
}

/* ---------------------------------------------------------------- N-MNIST */

static int8_t nm_at(const sbp_dataset *ds, size_t i, int t, int p, int y, int x)
{
    size_t per = (size_t)ds->timesteps * 2 * 34 * 34;
    return ds->spikes[i * per + (((size_t)t * 2 + (size_t)p) * 34 + (size_t)y) * 34 + (size_t)x];
}

/* MAT variables whose data sub-element is shorter (or longer) than their declared dimensions,
 * or cut off by the end of the file, plain and zlib-compressed: refused before libmatio reads
 * them (it would leave the missing pixels uninitialised). */
static unsigned char *mat_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b = malloc(1 << 16);
    *n = f && b ? fread(b, 1, 1 << 16, f) : 0;
    if (f)
        fclose(f);
    return b;
}

static void put_u32le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The file with each top-level element zlib-compressed into an miCOMPRESSED element. */
static size_t mat_compress(const unsigned char *b, size_t n, unsigned char *out)
{
    memcpy(out, b, 128);
    size_t o = 128;
    for (size_t at = 128; at + 8 <= n;) {
        size_t len = get_u32le(b + at + 4), whole = 8 + len;
        uLongf cl = compressBound((uLong)whole);
        compress2(out + o + 8, &cl, b + at, (uLong)whole, 6);
        put_u32le(out + o, 15); /* miCOMPRESSED */
        put_u32le(out + o + 4, (uint32_t)cl);
        o += 8 + cl;
        at += whole;
    }
    return o;
}

static void test_svhn_short(void)
{
    enum { N = 3 };
    static uint8_t X[N * 3072];
    for (size_t i = 0; i < sizeof X; i++)
        X[i] = (uint8_t)(i * 7);
    double y[N] = {1, 2, 3};
    size_t xd[4] = {32, 32, 3, N}, yd[2] = {N, 1};
    char p[512];
    tmp_path("svhn_short.mat", p, sizeof p);
    write_mat(p, 4, xd, MAT_C_UINT8, MAT_T_UINT8, X, yd, MAT_C_DOUBLE, MAT_T_DOUBLE, y, 0);
    size_t n;
    unsigned char *b = mat_bytes(p, &n), *c = malloc(1 << 17), *z = malloc(1 << 17);
    const size_t x_at = 128, y_at = x_at + 8 + get_u32le(b + x_at + 4);
    CHECK(n > y_at + 40 && get_u32le(b + x_at + 8 + 24 + 12) == N && get_u32le(b + y_at + 32) == N,
          "svhn_short: unexpected layout (X dims at %zu, y at %zu)", x_at + 32, y_at);
    static const struct {
        const char *what, *needle;
        int x_images, y_count;
        size_t cut; /* bytes cut off the end */
    } cases[] = {
        {"X and y declare 4 images, hold 3", "declares size 32×32×3×4", N + 1, N + 1, 0},
        {"X declares 2 images, holds 3", "declares size 32×32×3×2", N - 1, N, 0},
        {"y declares 4 labels, holds 3", "declares size 4×1", N, N + 1, 0},
        {"file cut in X's data", "holds only", N, N, 3072 + 200},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int compressed = 0; compressed < 2; compressed++) {
            memcpy(c, b, n);
            put_u32le(c + x_at + 8 + 24 + 12, (uint32_t)cases[k].x_images);
            put_u32le(c + y_at + 32, (uint32_t)cases[k].y_count);
            size_t m = n - cases[k].cut;
            if (cases[k].cut && compressed)
                continue; /* a cut zlib stream is matio's "cannot read"; not this check */
            const unsigned char *w = c;
            if (compressed) {
                m = mat_compress(c, m, z);
                w = z;
            }
            write_file(p, w, m);
            sbp_dataset *ds = NULL;
            sbp_error err = {0};
            sbp_status st = sbp_dataset_load_svhn(&ds, p, &err);
            char what[128];
            snprintf(what, sizeof what, "%s%s", cases[k].what, compressed ? " (zlib)" : "");
            expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, cases[k].needle, what);
        }
    /* the unmodified file, compressed by hand the same way, still loads */
    size_t m = mat_compress(b, n, z);
    write_file(p, z, m);
    sbp_dataset *ds = NULL;
    sbp_error err = {0};
    CHECK(sbp_dataset_load_svhn(&ds, p, &err) == SBP_OK && ds && ds->n == N,
          "svhn_short: the intact file (hand-compressed) does not load: %s", err.msg);
    sbp_dataset_free(ds);
    unlink(p);
    free(b);
    free(c);
    free(z);
}

static void test_nmnist_sample(void)
{
    char p[1024];
    fixture("n-mnist/sample_nmnist.bin", p, sizeof p);
    struct stat sb;
    CHECK(stat(p, &sb) == 0 && sb.st_size == 4325 * 5, "%s: 4,325 events of 5 bytes", p);
    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    const char *paths[1] = {p};
    const int label[1] = {7};
    sbp_status st = sbp_dataset_load_nmnist(&ds, paths, label, 1, 8, &err);
    CHECK(st == SBP_OK && ds, "n-mnist sample: %s", err.msg);
    if (!ds)
        return;
    int c, h, w;
    sbp_dataset_shape(ds, &c, &h, &w);
    CHECK(sbp_dataset_count(ds) == 1 && c == 2 && h == 34 && w == 34 && ds->timesteps == 8 &&
              sbp_dataset_timesteps(ds) == 8 && ds->pixels == NULL && ds->spikes != NULL &&
              sbp_dataset_image(ds, 0) == NULL && sbp_dataset_label(ds, 0) == 7 &&
              sbp_dataset_classes(ds) == 10,
          "n-mnist sample: layout");
    /*
     * Expected values from NumPy (tests/data/expected_values.py prints them):
     *   b = np.fromfile(path, np.uint8).reshape(-1, 5).astype(np.int64)
     *   x, y, p = b[:, 0], b[:, 1], b[:, 2] >> 7
     *   ts = ((b[:, 2] & 0x7f) << 16) | (b[:, 3] << 8) | b[:, 4]      # 654 … 311175 µs
     *   fr = (ts - ts.min()) * T // (ts.max() - ts.min() + 1)
     *   S = np.zeros((T, 2, 34, 34), np.int8); S[fr, p, y, x] = 1
     *   S.reshape(T, 2, -1).sum(2)      (T = 8)
     */
    static const int counts[8][2] = {{78, 96},  {150, 173}, {61, 77},   {118, 145},
                                     {96, 111}, {60, 86},   {162, 175}, {85, 106}};
    int bad = 0, nonbinary = 0;
    for (int t = 0; t < 8; t++)
        for (int pol = 0; pol < 2; pol++) {
            int s = 0;
            for (int yy = 0; yy < 34; yy++)
                for (int xx = 0; xx < 34; xx++) {
                    int8_t v = nm_at(ds, 0, t, pol, yy, xx);
                    s += v;
                    nonbinary += v != 0 && v != 1;
                }
            if (s != counts[t][pol]) {
                bad++;
                CHECK(0, "frame %d polarity %d: %d spikes, NumPy says %d", t, pol, s,
                      counts[t][pol]);
            }
        }
    CHECK(bad == 0 && nonbinary == 0, "binned frames are binary and match NumPy");
    /* single events (NumPy: event 0 x 7 y 15 ON frame 0; event 2000 x 25 y 19 OFF frame 3;
     * event 4324 x 21 y 14 ON frame 7) and empty bins */
    CHECK(nm_at(ds, 0, 0, 1, 15, 7) == 1, "event 0");
    CHECK(nm_at(ds, 0, 3, 0, 19, 25) == 1, "event 2000");
    CHECK(nm_at(ds, 0, 7, 1, 14, 21) == 1, "event 4324 (last) in the last frame");
    CHECK(nm_at(ds, 0, 0, 0, 0, 0) == 0 && nm_at(ds, 0, 3, 1, 10, 15) == 0 &&
              nm_at(ds, 0, 3, 1, 13, 15) == 0,
          "empty bins");
    /* slices of a spike data set keep T and point into the parent */
    sbp_dataset *v = NULL;
    CHECK(sbp_dataset_slice(&v, ds, 0, 1, &err) == SBP_OK && v->spikes == ds->spikes &&
              v->timesteps == 8,
          "slice of a spike set");
    sbp_dataset_free(v);
    CHECK(sbp_dataset_set_augment(ds, 4, 1, &err) == SBP_ERR_UNSUPPORTED,
          "no crop/flip on spike trains");
    sbp_dataset_free(ds);
    ds = NULL;
    /* NumPy: T = 1 → (356, 449) pixels per polarity; T = 100 → 4184 spikes in all */
    st = sbp_dataset_load_nmnist(&ds, paths, label, 1, 1, &err);
    if (st == SBP_OK) {
        int s0 = 0, s1 = 0;
        for (int k = 0; k < 34 * 34; k++) {
            s0 += ds->spikes[k];
            s1 += ds->spikes[34 * 34 + k];
        }
        CHECK(s0 == 356 && s1 == 449, "T = 1: %d %d", s0, s1);
    }
    CHECK(st == SBP_OK, "T = 1: %s", err.msg);
    sbp_dataset_free(ds);
    ds = NULL;
    st = sbp_dataset_load_nmnist(&ds, paths, label, 1, 100, &err);
    if (st == SBP_OK) {
        long s = 0;
        for (size_t k = 0; k < 100 * 2 * 34 * 34; k++)
            s += ds->spikes[k];
        CHECK(s == 4184, "T = 100: %ld spikes", s);
    }
    CHECK(st == SBP_OK, "T = 100: %s", err.msg);
    sbp_dataset_free(ds);
}

/* An event record. */
static void nm_event(uint8_t *e, int x, int y, int pol, uint32_t ts)
{
    e[0] = (uint8_t)x;
    e[1] = (uint8_t)y;
    e[2] = (uint8_t)((pol ? 0x80 : 0) | ((ts >> 16) & 0x7f));
    e[3] = (uint8_t)(ts >> 8);
    e[4] = (uint8_t)ts;
}

static void test_nmnist_malformed(void)
{
    char p[512], src[1024];
    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    const int label[1] = {0};
    const char *paths[1] = {p};
    /* truncated copy of the sample */
    size_t n = 0;
    uint8_t *b =
        read_all(fixture("n-mnist/sample_nmnist.bin", src, sizeof src), &n);
    CHECK(b != NULL && n == 21625, "sample readable");
    if (b) {
        tmp_path("trunc.bin", p, sizeof p);
        write_file(p, b, n - 2);
        sbp_status st = sbp_dataset_load_nmnist(&ds, paths, label, 1, 8, &err);
        expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "whole number of events", "truncated");
        free(b);
    }
    /* x = 34, then y = 34 */
    uint8_t ev[15];
    for (int k = 0; k < 2; k++) {
        nm_event(ev, 1, 2, 0, 10);
        nm_event(ev + 5, k ? 5 : 34, k ? 34 : 5, 1, 20);
        nm_event(ev + 10, 3, 3, 0, 30);
        tmp_path("outside.bin", p, sizeof p);
        write_file(p, ev, sizeof ev);
        sbp_status st = sbp_dataset_load_nmnist(&ds, paths, label, 1, 8, &err);
        expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, k ? "y = 34" : "x = 34", "outside sensor");
    }
    tmp_path("empty.bin", p, sizeof p);
    write_file(p, ev, 0);
    sbp_status st = sbp_dataset_load_nmnist(&ds, paths, label, 1, 8, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "empty", "empty recording");
    /* arguments */
    const int bad_label[1] = {10};
    st = sbp_dataset_load_nmnist(&ds, paths, bad_label, 1, 8, &err);
    expect_fail(st, &err, SBP_ERR_INVALID_ARG, ds, NULL, "label 10", "label 10");
    st = sbp_dataset_load_nmnist(&ds, paths, label, 1, 0, &err);
    expect_fail(st, &err, SBP_ERR_INVALID_ARG, ds, NULL, "time steps", "T = 0");
    /* binning of a hand-made recording: ts 100, 150, 199 → span 100 µs, T = 4: frames 0, 2, 3;
     * two events on one pixel in one frame still give 1 */
    uint8_t ev4[20];
    nm_event(ev4, 0, 0, 1, 100);
    nm_event(ev4 + 5, 33, 1, 0, 150);
    nm_event(ev4 + 10, 2, 33, 1, 199);
    nm_event(ev4 + 15, 0, 0, 1, 101);
    tmp_path("four.bin", p, sizeof p);
    write_file(p, ev4, sizeof ev4);
    st = sbp_dataset_load_nmnist(&ds, paths, label, 1, 4, &err);
    CHECK(st == SBP_OK && ds, "hand-made recording: %s", err.msg);
    if (ds) {
        long s = 0;
        for (size_t k = 0; k < 4 * 2 * 34 * 34; k++)
            s += ds->spikes[k];
        CHECK(s == 3 && nm_at(ds, 0, 0, 1, 0, 0) == 1 && nm_at(ds, 0, 2, 0, 1, 33) == 1 &&
                  nm_at(ds, 0, 3, 1, 33, 2) == 1,
              "binning: frames 0, 2, 3 and clipping");
    }
    sbp_dataset_free(ds);
    ds = NULL;

    /* folder form: DIR/<digit>/NAME.bin, interleaved digits, limit */
    char d[512], f[600];
    tmp_path("nm", d, sizeof d);
    mkdir(d, 0755);
    static const int digits[3] = {1, 4, 9};
    static const int per_digit[3] = {2, 3, 1};
    for (int k = 0; k < 3; k++) {
        snprintf(f, sizeof f, "%s/%d", d, digits[k]);
        mkdir(f, 0755);
        for (int j = 0; j < per_digit[k]; j++) {
            /* the recording of digit D, file j, has one event at x = D, y = j, in frame 0 … */
            uint8_t e2[10];
            nm_event(e2, digits[k], j, 1, 0);
            nm_event(e2 + 5, 33, 33, 0, 1000);
            snprintf(f, sizeof f, "%s/%d/%05d.bin", d, digits[k], 10 - j); /* name order ≠ j */
            write_file(f, e2, sizeof e2);
        }
    }
    snprintf(f, sizeof f, "%s/4/notes.txt", d);
    write_file(f, "ignored", 7);
    st = sbp_dataset_load_nmnist_dir(&ds, d, 2, 0, &err);
    CHECK(st == SBP_OK && ds && sbp_dataset_count(ds) == 6, "folder form: %s", err.msg);
    if (ds) {
        /* interleaved: 1, 4, 9, 1, 4, 4; within a digit in name order (j descending) */
        static const int want_label[6] = {1, 4, 9, 1, 4, 4};
        static const int want_j[6] = {1, 2, 0, 0, 1, 0};
        for (int i = 0; i < 6; i++) {
            CHECK(sbp_dataset_label(ds, (size_t)i) == want_label[i], "folder label %d", i);
            CHECK(nm_at(ds, (size_t)i, 0, 1, want_j[i], want_label[i]) == 1,
                  "folder sample %d is the file expected", i);
        }
    }
    sbp_dataset_free(ds);
    ds = NULL;
    st = sbp_dataset_load_nmnist_dir(&ds, d, 2, 4, &err);
    CHECK(st == SBP_OK && ds && sbp_dataset_count(ds) == 4 && sbp_dataset_label(ds, 3) == 1,
          "folder form with limit: %s", err.msg);
    sbp_dataset_free(ds);
    ds = NULL;
    snprintf(f, sizeof f, "%s/9/00010.bin", d);
    write_file(f, ev4, 7); /* a broken recording inside the folder */
    st = sbp_dataset_load_nmnist_dir(&ds, d, 2, 0, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, f, "whole number", "broken file in folder");
    st = sbp_dataset_load_nmnist_dir(&ds, tmpdir, 2, 0, &err);
    expect_fail(st, &err, SBP_ERR_IO, ds, tmpdir, "no digit folders", "folder without digits");
}

/* ---------------------------------------------------------------- NumPy: reading */

static void test_npy_fixtures(void)
{
    char a[1024], b[1024];
    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    static const int lab[4] = {0, 2, 1, 2};
    /* (N, C, H, W) uint8 + int64 labels */
    sbp_status st = sbp_dataset_load_npy(&ds, fixture("npy_img4_u1.npy", a, sizeof a),
                                         fixture("npy_lab_i8.npy", b, sizeof b), &err);
    CHECK(st == SBP_OK && ds, "npy images: %s", err.msg);
    if (ds) {
        int c, h, w;
        sbp_dataset_shape(ds, &c, &h, &w);
        CHECK(sbp_dataset_count(ds) == 4 && c == 1 && h == 3 && w == 2 &&
                  sbp_dataset_classes(ds) == 3 && sbp_dataset_timesteps(ds) == 0,
              "npy images: shape");
        int bad = 0;
        for (int i = 0; i < 24; i++)
            bad += ds->pixels[i] != (uint8_t)(i * 10 % 256);
        for (int i = 0; i < 4; i++)
            bad += sbp_dataset_label(ds, (size_t)i) != lab[i];
        CHECK(bad == 0, "npy images: values");
        CHECK(ds->mean[0] == 0.0f && ds->std[0] == 1.0f && ds->gain == 0.5f,
              "npy images: default encoding mean 0, std 1, gain 1/2");
    }
    sbp_dataset_free(ds);
    ds = NULL;
    /* (N, H, W) → C = 1, uint8 labels; v2.0 data with v3.0 labels; int32 labels */
    st = sbp_dataset_load_npy(&ds, fixture("npy_img3_u1.npy", a, sizeof a),
                              fixture("npy_lab_u1.npy", b, sizeof b), &err);
    CHECK(st == SBP_OK && ds && ds->c == 1 && ds->h == 3 && ds->w == 2 && ds->n == 4 &&
              ds->pixels[5] == 250 && sbp_dataset_label(ds, 1) == 2,
          "npy (N, H, W): %s", err.msg);
    sbp_dataset_free(ds);
    ds = NULL;
    st = sbp_dataset_load_npy(&ds, fixture("npy_v2_u1.npy", a, sizeof a),
                              fixture("npy_v3_i8.npy", b, sizeof b), &err);
    CHECK(st == SBP_OK && ds && ds->n == 4 && ds->pixels[23] == 230 &&
              sbp_dataset_label(ds, 3) == 2,
          "npy versions 2.0 and 3.0: %s", err.msg);
    sbp_dataset_free(ds);
    ds = NULL;
    st = sbp_dataset_load_npy(&ds, fixture("npy_img4_u1.npy", a, sizeof a),
                              fixture("npy_lab_i4.npy", b, sizeof b), &err);
    CHECK(st == SBP_OK && ds && sbp_dataset_label(ds, 1) == 2, "int32 labels: %s", err.msg);
    sbp_dataset_free(ds);
    ds = NULL;
    /* spike trains (N, T, C, H, W) int8 and bool */
    for (int k = 0; k < 2; k++) {
        st =
            sbp_dataset_load_npy(&ds, fixture(k ? "npy_spk_b1.npy" : "npy_spk_i1.npy", a, sizeof a),
                                 fixture("npy_lab3_i8.npy", b, sizeof b), &err);
        CHECK(st == SBP_OK && ds, "npy spikes %d: %s", k, err.msg);
        if (!ds)
            continue;
        CHECK(ds->n == 3 && ds->timesteps == 2 && ds->c == 1 && ds->h == 2 && ds->w == 2 &&
                  ds->pixels == NULL && ds->classes == 2 && sbp_dataset_label(ds, 0) == 1,
              "npy spikes %d: shape", k);
        int bad = 0;
        for (int i = 0; i < 24; i++)
            bad += ds->spikes[i] != (k ? (i % 2 == 1) : (i % 3) - 1);
        CHECK(bad == 0, "npy spikes %d: values", k);
        sbp_dataset_free(ds);
        ds = NULL;
    }
    /* .npz: stored (savez) and deflated (savez_compressed) */
    st = sbp_dataset_load_npz(&ds, fixture("npz_img.npz", a, sizeof a), NULL, NULL, &err);
    CHECK(st == SBP_OK && ds && ds->n == 4 && ds->h == 3 && ds->pixels[7] == 70 &&
              sbp_dataset_label(ds, 3) == 2,
          "npz images: %s", err.msg);
    sbp_dataset_free(ds);
    ds = NULL;
    st = sbp_dataset_load_npz(&ds, fixture("npz_spk_deflate.npz", a, sizeof a), "x", "y", &err);
    CHECK(st == SBP_OK && ds && ds->timesteps == 2 && ds->spikes[4] == 0 && ds->spikes[5] == 1 &&
              ds->spikes[6] == -1,
          "npz deflated spikes: %s", err.msg);
    sbp_dataset_free(ds);
    ds = NULL;

    /* refused by NumPy-written files */
    st = sbp_dataset_load_npy(&ds, fixture("npy_img4_u1.npy", a, sizeof a),
                              fixture("npy_be_i4.npy", b, sizeof b), &err);
    expect_fail(st, &err, SBP_ERR_UNSUPPORTED, ds, b, "big-endian", "big-endian labels");
    st = sbp_dataset_load_npy(&ds, fixture("npy_fortran_u1.npy", a, sizeof a),
                              fixture("npy_lab_i8.npy", b, sizeof b), &err);
    expect_fail(st, &err, SBP_ERR_UNSUPPORTED, ds, a, "Fortran", "fortran order");
    st = sbp_dataset_load_npy(&ds, fixture("npy_img4_u1.npy", a, sizeof a),
                              fixture("npy_lab_f8.npy", b, sizeof b), &err);
    expect_fail(st, &err, SBP_ERR_SHAPE, ds, b, "integer", "float labels");
    st = sbp_dataset_load_npy(&ds, fixture("npy_img4_u1.npy", a, sizeof a),
                              fixture("npy_lab3_i8.npy", b, sizeof b), &err);
    expect_fail(st, &err, SBP_ERR_SHAPE, ds, b, "holds 4 samples", "count mismatch");
    st = sbp_dataset_load_npy(&ds, fixture("npy_lab_i8.npy", a, sizeof a),
                              fixture("npy_lab_i8.npy", b, sizeof b), &err);
    expect_fail(st, &err, SBP_ERR_SHAPE, ds, a, "1 dimensions", "1-d data");
    sbp_npy_array arr;
    st = sbp_npz_read(&arr, fixture("npz_img.npz", a, sizeof a), "z", &err);
    CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "x.npy, y.npy") && arr.data == NULL,
          "missing npz member lists the members: %s", err.msg);
    st = sbp_npz_read(&arr, fixture("npz_img.npz", a, sizeof a), "y", &err);
    CHECK(st == SBP_OK && arr.ndim == 1 && arr.shape[0] == 4 && arr.dtype == SBP_NPY_I8 &&
              sbp_npy_get_int(&arr, 1) == 2,
          "npz member y: %s", err.msg);
    sbp_npy_array_free(&arr);
    st = sbp_npy_read(&arr, fixture("npy_f4_0d.npy", a, sizeof a), &err);
    CHECK(st == SBP_OK && arr.ndim == 0 && arr.count == 1 && ((float *)arr.data)[0] == 7.5f,
          "0-d array: %s", err.msg);
    sbp_npy_array_free(&arr);
}

/* Writes an NPY file with the given version, header dict (a '\n' is appended unless
 * no_newline) and `ndata` data bytes of value 1. */
static void write_npy_raw(const char *path, int major, const char *dict, size_t ndata,
                          int no_newline)
{
    size_t hl = strlen(dict) + (no_newline ? 0 : 1);
    size_t pre = major == 1 ? 10 : 12;
    uint8_t *b = malloc(pre + hl + ndata + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[7] = 0;
    for (size_t k = 0; k < pre - 8; k++)
        b[8 + k] = (uint8_t)(hl >> (8 * k));
    memcpy(b + pre, dict, strlen(dict));
    if (!no_newline)
        b[pre + hl - 1] = '\n';
    memset(b + pre + hl, 1, ndata);
    write_file(path, b, pre + hl + ndata);
    free(b);
}

static void test_npy_hostile(void)
{
    char p[512];
    sbp_error err = {0};
    sbp_npy_array arr;
    static const struct {
        const char *name;
        int major;
        const char *dict;
        size_t ndata;
        sbp_status want;
        const char *needle;
    } cases[] = {
        {"ok", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 24, SBP_OK, NULL},
        {"ok2", 2, "{\"shape\": (3, 2), \"descr\": \"|u1\", \"fortran_order\": False}", 6, SBP_OK,
         NULL},
        {"fortran", 1, "{'descr': '<i8', 'fortran_order': True, 'shape': (3,), }", 24,
         SBP_ERR_UNSUPPORTED, "Fortran"},
        {"bigend", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", 12,
         SBP_ERR_UNSUPPORTED, "big-endian"},
        {"short", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 16,
         SBP_ERR_FORMAT, "truncated"},
        {"long", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 32, SBP_ERR_FORMAT,
         "trailing bytes"},
        {"mismatch", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 5), }", 79,
         SBP_ERR_FORMAT, "shape (4, 5) of <f4 = 80 bytes"},
        {"v4", 4, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 24,
         SBP_ERR_UNSUPPORTED, "version 4.0"},
        {"unknown", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), 'x': 1}", 24,
         SBP_ERR_FORMAT, "unknown key 'x'"},
        {"noshape", 1, "{'descr': '<i8', 'fortran_order': False, }", 8, SBP_ERR_FORMAT,
         "lacks the key 'shape'"},
        {"dup", 1, "{'descr': '<i8', 'descr': '<i8', 'fortran_order': False, 'shape': (3,)}", 24,
         SBP_ERR_FORMAT, "repeats"},
        {"notuple", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3), }", 24,
         SBP_ERR_FORMAT, "not a tuple"},
        {"negative", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (-3,), }", 24,
         SBP_ERR_FORMAT, "non-negative"},
        {"unicode", 1, "{'descr': '<U5', 'fortran_order': False, 'shape': (3,), }", 60,
         SBP_ERR_UNSUPPORTED, "not supported"},
        {"half", 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", 6,
         SBP_ERR_UNSUPPORTED, "not supported"},
        {"struct", 1, "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (3,), }", 12,
         SBP_ERR_UNSUPPORTED, "structured"},
        {"absurd", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000, 100000000), }",
         8, SBP_ERR_FORMAT, "absurd"},
        {"notdict", 1, "['descr', '<i8']", 8, SBP_ERR_FORMAT, "not a dict"},
        {"fortranjunk", 1, "{'descr': '<i8', 'fortran_order': 0, 'shape': (3,), }", 24,
         SBP_ERR_FORMAT, "neither True nor False"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char name[64];
        snprintf(name, sizeof name, "h_%s.npy", cases[k].name);
        tmp_path(name, p, sizeof p);
        write_npy_raw(p, cases[k].major, cases[k].dict, cases[k].ndata, 0);
        sbp_status st = sbp_npy_read(&arr, p, &err);
        if (cases[k].want == SBP_OK) {
            CHECK(st == SBP_OK && arr.data, "%s: %s", cases[k].name, err.msg);
            sbp_npy_array_free(&arr);
        } else {
            CHECK(st == cases[k].want && arr.data == NULL, "%s: status %s (%s)", cases[k].name,
                  sbp_status_string(st), err.msg);
            CHECK(strstr(err.msg, p) && strstr(err.msg, cases[k].needle), "%s: message '%s'",
                  cases[k].name, err.msg);
        }
    }
    /* header without its newline; header length beyond the file; wrong magic; text; empty */
    tmp_path("h_nonl.npy", p, sizeof p);
    write_npy_raw(p, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 24, 1);
    sbp_status st = sbp_npy_read(&arr, p, &err);
    CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "newline"), "no newline: %s", err.msg);
    uint8_t hdr[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 200, 0, '{', '}'};
    tmp_path("h_hlen.npy", p, sizeof p);
    write_file(p, hdr, sizeof hdr);
    st = sbp_npy_read(&arr, p, &err);
    CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "truncated"), "header beyond file: %s", err.msg);
    tmp_path("h_short.npy", p, sizeof p);
    write_file(p, hdr, 8);
    st = sbp_npy_read(&arr, p, &err);
    CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "truncated"), "8-byte file: %s", err.msg);
    hdr[5] = 'Z';
    tmp_path("h_magic.npy", p, sizeof p);
    write_file(p, hdr, sizeof hdr);
    st = sbp_npy_read(&arr, p, &err);
    CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "not an NPY file") && strstr(err.msg, p),
          "wrong magic: %s", err.msg);
    tmp_path("h_text.npy", p, sizeof p);
    write_file(p, "1,2,3\n4,5,6\n", 12);
    st = sbp_npy_read(&arr, p, &err);
    CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "text"), "csv file: %s", err.msg);
    tmp_path("h_empty.npy", p, sizeof p);
    write_file(p, "", 0);
    st = sbp_npy_read(&arr, p, &err);
    CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "empty"), "empty file: %s", err.msg);
    tmp_path("h_missing.npy", p, sizeof p);
    st = sbp_npy_read(&arr, p, &err);
    CHECK(st == SBP_ERR_IO && strstr(err.msg, p), "missing file: %s", err.msg);

    /* data-set level: spike value 2, int8 images, negative label, single class */
    sbp_dataset *ds = NULL;
    char q[512];
    tmp_path("d_spk2.npy", p, sizeof p);
    write_npy_raw(p, 1, "{'descr': '|i1', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1), }", 1,
                  0);
    {
        size_t n = 0;
        uint8_t *b = read_all(p, &n);
        if (b) {
            b[n - 1] = 2;
            write_file(p, b, n);
            free(b);
        }
    }
    int64_t one_label = 0;
    size_t shape1[1] = {1};
    tmp_path("d_lab1.npy", q, sizeof q);
    CHECK(sbp_npy_write(q, "<i8", 1, shape1, &one_label, &err) == SBP_OK, "write: %s", err.msg);
    st = sbp_dataset_load_npy(&ds, p, q, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, p, "spike value 2", "spike value 2");
    tmp_path("d_img_i1.npy", p, sizeof p);
    write_npy_raw(p, 1, "{'descr': '|i1', 'fortran_order': False, 'shape': (1, 1, 2, 2), }", 4, 0);
    st = sbp_dataset_load_npy(&ds, p, q, &err);
    expect_fail(st, &err, SBP_ERR_UNSUPPORTED, ds, p, "must be uint8", "int8 images");
    tmp_path("d_img_u1.npy", p, sizeof p);
    write_npy_raw(p, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 2), }", 4, 0);
    int64_t neg = -1;
    CHECK(sbp_npy_write(q, "<i8", 1, shape1, &neg, &err) == SBP_OK, "write: %s", err.msg);
    st = sbp_dataset_load_npy(&ds, p, q, &err);
    expect_fail(st, &err, SBP_ERR_FORMAT, ds, q, "label -1", "negative label");
    CHECK(sbp_npy_write(q, "<i8", 1, shape1, &one_label, &err) == SBP_OK, "write: %s", err.msg);
    st = sbp_dataset_load_npy(&ds, p, q, &err);
    CHECK(st == SBP_OK && ds && ds->classes == 2, "all-zero labels give 2 classes: %s", err.msg);
    sbp_dataset_free(ds);

    /* hostile .npz: not a zip, truncated, corrupted deflate data */
    sbp_npy_array x;
    tmp_path("z_text.npz", p, sizeof p);
    write_file(p, "not a zip archive at all\n", 25);
    st = sbp_npz_read(&x, p, "x", &err);
    CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, p) && strstr(err.msg, "zip"), "text npz: %s",
          err.msg);
    char src[1024];
    size_t n = 0;
    uint8_t *b = read_all(fixture("npz_spk_deflate.npz", src, sizeof src), &n);
    CHECK(b != NULL, "fixture readable");
    if (b) {
        tmp_path("z_trunc.npz", p, sizeof p);
        write_file(p, b, n / 2);
        st = sbp_npz_read(&x, p, "x", &err);
        CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, p), "truncated npz: %s", err.msg);
        /* flip bytes inside the first member's deflated data (after its 30 + 5-byte local
         * header: "x.npy"); zlib or the CRC check must notice */
        for (size_t k = 40; k < 60 && k < n; k++)
            b[k] ^= 0x5a;
        tmp_path("z_corrupt.npz", p, sizeof p);
        write_file(p, b, n);
        st = sbp_npz_read(&x, p, "x", &err);
        CHECK(st != SBP_OK && x.data == NULL && strstr(err.msg, p), "corrupt npz: %s", err.msg);
        free(b);
    }
}

/* ---------------------------------------------------------------- NumPy: writing */

static int no_temp_files(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '\\.tmp\\.'", tmpdir);
    return system(cmd) != 0;
}

static void test_npy_write(void)
{
    char p[512], ref[1024];
    sbp_error err = {0};
    /* byte-identical to np.save */
    static const float m[6] = {0.5f, -1.25f, 3.0f, 1e-3f, 1048576.0f, -0.0f};
    static const float r5[5] = {0, 1, 2, 3, 4};
    static const float s0 = 7.5f;
    static const size_t sh23[2] = {2, 3}, sh5[1] = {5};
    static const struct {
        const char *fix;
        int ndim;
        const size_t *shape;
        const float *data;
    } same[] = {{"npy_f4_ref.npy", 2, sh23, m},
                {"npy_f4_1d.npy", 1, sh5, r5},
                {"npy_f4_0d.npy", 0, NULL, &s0}};
    for (size_t k = 0; k < 3; k++) {
        tmp_path("w.npy", p, sizeof p);
        sbp_status st = sbp_npy_write(p, "<f4", same[k].ndim, same[k].shape, same[k].data, &err);
        CHECK(st == SBP_OK, "write %s: %s", same[k].fix, err.msg);
        size_t n1 = 0, n2 = 0;
        uint8_t *a = read_all(p, &n1), *b = read_all(fixture(same[k].fix, ref, sizeof ref), &n2);
        CHECK(a && b && n1 == n2 && !memcmp(a, b, n1), "%s: our bytes differ from np.save's",
              same[k].fix);
        free(a);
        free(b);
    }
    /* round trip and overwrite */
    float big[3 * 4 * 5];
    for (int i = 0; i < 60; i++)
        big[i] = (float)i * 0.25f - 3.0f;
    const size_t sh345[3] = {3, 4, 5};
    tmp_path("w.npy", p, sizeof p);
    CHECK(sbp_npy_write(p, "<f4", 3, sh345, big, &err) == SBP_OK, "overwrite: %s", err.msg);
    sbp_npy_array arr;
    sbp_status st = sbp_npy_read(&arr, p, &err);
    CHECK(st == SBP_OK && arr.dtype == SBP_NPY_F4 && arr.ndim == 3 && arr.shape[0] == 3 &&
              arr.shape[1] == 4 && arr.shape[2] == 5 && arr.count == 60 &&
              !memcmp(arr.data, big, sizeof big),
          "npy round trip: %s", err.msg);
    sbp_npy_array_free(&arr);
    struct stat sb;
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0644, "written file mode 0644");
    CHECK(no_temp_files(), "no temporary file left behind");
    /* refusals */
    st = sbp_npy_write(p, ">f4", 3, sh345, big, &err);
    CHECK(st == SBP_ERR_UNSUPPORTED && strstr(err.msg, "big-endian"), "writer: >f4: %s", err.msg);
    st = sbp_npy_write(p, "<f3", 3, sh345, big, &err);
    CHECK(st == SBP_ERR_UNSUPPORTED, "writer: <f3: %s", err.msg);
    tmp_path("nodir/w.npy", p, sizeof p);
    st = sbp_npy_write(p, "<f4", 3, sh345, big, &err);
    CHECK(st == SBP_ERR_IO && strstr(err.msg, p), "writer: missing folder: %s", err.msg);

    /* .npz: several float32 arrays, read back here and by NumPy */
    const size_t sh4[1] = {4};
    static const float v4[4] = {1.5f, -2.0f, 0.0f, 1e10f};
    sbp_npz_member mem[3] = {{"conv1.weight", "<f4", 3, sh345, big},
                             {"fc.weight", "<f4", 1, sh4, v4},
                             {"scalar", "<f4", 0, NULL, &s0}};
    tmp_path("w.npz", p, sizeof p);
    st = sbp_npz_write(p, mem, 3, &err);
    CHECK(st == SBP_OK, "npz write: %s", err.msg);
    st = sbp_npz_write(p, mem, 3, &err); /* replaces the file */
    CHECK(st == SBP_OK, "npz rewrite: %s", err.msg);
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0644, "npz file mode 0644");
    st = sbp_npz_read(&arr, p, "conv1.weight", &err);
    CHECK(st == SBP_OK && arr.ndim == 3 && arr.count == 60 && !memcmp(arr.data, big, sizeof big),
          "npz round trip conv1.weight: %s", err.msg);
    sbp_npy_array_free(&arr);
    st = sbp_npz_read(&arr, p, "fc.weight", &err);
    CHECK(st == SBP_OK && arr.ndim == 1 && arr.count == 4 && !memcmp(arr.data, v4, sizeof v4),
          "npz round trip fc.weight: %s", err.msg);
    sbp_npy_array_free(&arr);
    CHECK(no_temp_files(), "no temporary file left behind by the npz writer");
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np, sys; z = np.load(sys.argv[1]); "
             "assert sorted(z.files) == ['conv1.weight', 'fc.weight', 'scalar']; "
             "w = z['conv1.weight']; assert w.dtype == np.float32 and w.shape == (3, 4, 5); "
             "assert (w.ravel() == np.arange(60, dtype=np.float32) * 0.25 - 3).all(); "
             "assert z['fc.weight'].tolist() == [1.5, -2.0, 0.0, 1e10]; "
             "assert z['scalar'].shape == () and float(z['scalar']) == 7.5\" %s",
             p);
    CHECK(system(cmd) == 0, "NumPy reads our .npz back (%s)", cmd);
    /* two writes of the same arrays give the same bytes (fixed member times) */
    size_t n1 = 0, n2 = 0;
    uint8_t *a = read_all(p, &n1);
    char p2[512];
    tmp_path("w2.npz", p2, sizeof p2);
    CHECK(sbp_npz_write(p2, mem, 3, &err) == SBP_OK, "npz write 2: %s", err.msg);
    uint8_t *b = read_all(p2, &n2);
    CHECK(a && b && n1 == n2 && !memcmp(a, b, n1), "npz output is reproducible");
    free(a);
    free(b);
    /* refusals */
    sbp_npz_member dup[2] = {mem[1], mem[1]};
    st = sbp_npz_write(p, dup, 2, &err);
    CHECK(st == SBP_ERR_INVALID_ARG && strstr(err.msg, "twice"), "duplicate name: %s", err.msg);
    sbp_npz_member slash = {"a/b", "<f4", 1, sh4, v4};
    st = sbp_npz_write(p, &slash, 1, &err);
    CHECK(st == SBP_ERR_INVALID_ARG, "name with a slash: %s", err.msg);
    st = sbp_npz_write(p, mem, 0, &err);
    CHECK(st == SBP_ERR_INVALID_ARG, "no members: %s", err.msg);
    st = sbp_npz_read(&arr, p, "fc.weight", &err); /* the failed writes left the file alone */
    CHECK(st == SBP_OK && arr.count == 4, "file intact after failed writes: %s", err.msg);
    sbp_npy_array_free(&arr);
}

/* sbp_dataset_from_memory: a copy is independent of the caller's arrays; a borrowed set reads
 * them in place and its free leaves them alone (they live on this stack frame: freeing them
 * would abort, under the sanitizers and in glibc alike); bad values fail with a message. */
static void test_from_memory(void)
{
    sbp_error err = {0};
    uint8_t px[3 * 2 * 2], lab[3] = {0, 4, 1};
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(10 * i);
    sbp_dataset *cp = NULL, *bw = NULL, *sl = NULL;
    CHECK(sbp_dataset_from_memory(&cp, px, lab, 3, 0, 1, 2, 2, 0, SBP_MEMORY_COPY, &err) == SBP_OK,
          "copy: %s", err.msg);
    CHECK(sbp_dataset_from_memory(&bw, px, lab, 3, 0, 1, 2, 2, 0, SBP_MEMORY_BORROW, &err) ==
              SBP_OK,
          "borrow: %s", err.msg);
    if (cp && bw) {
        CHECK(sbp_dataset_classes(cp) == 5 && sbp_dataset_count(cp) == 3, "classes from labels");
        CHECK(sbp_dataset_image(bw, 0) == px && sbp_dataset_labels(bw) == lab, "borrowed in place");
        CHECK(sbp_dataset_image(cp, 0) != px && memcmp(sbp_dataset_image(cp, 0), px, 12) == 0,
              "copied pixels");
        px[5] = 255;
        lab[2] = 3;
        CHECK(sbp_dataset_image(cp, 1)[1] == 50 && sbp_dataset_label(cp, 2) == 1,
              "the copy does not see later writes");
        CHECK(sbp_dataset_image(bw, 1)[1] == 255 && sbp_dataset_label(bw, 2) == 3,
              "the borrowed set reads the caller's arrays");
        CHECK(sbp_dataset_spikes(bw, 0) == NULL, "an image set has no spike trains");
        CHECK(sbp_dataset_slice(&sl, bw, 1, 2, &err) == SBP_OK && sbp_dataset_labels(sl) == lab + 1,
              "slice of a borrowed set");
    }
    sbp_dataset_free(sl);
    sbp_dataset_free(bw);
    sbp_dataset_free(cp);

    int8_t sp[2 * 3 * 1 * 1 * 2] = {1, 0, -1, 0, 0, 1, 0, 0, 1, 1, -1, -1};
    uint8_t sl2[2] = {1, 0};
    sbp_dataset *st = NULL;
    CHECK(sbp_dataset_from_memory(&st, sp, sl2, 2, 3, 1, 1, 2, 2, SBP_MEMORY_BORROW, &err) ==
              SBP_OK,
          "spikes: %s", err.msg);
    if (st) {
        CHECK(sbp_dataset_timesteps(st) == 3 && sbp_dataset_image(st, 0) == NULL, "spike set");
        CHECK(sbp_dataset_spikes(st, 1) == sp + 6, "sample 1 starts after T·C·H·W values");
    }
    sbp_dataset_free(st);
    sp[4] = 2;
    st = NULL;
    CHECK(sbp_dataset_from_memory(&st, sp, sl2, 2, 3, 1, 1, 2, 2, SBP_MEMORY_COPY, &err) ==
                  SBP_ERR_INVALID_ARG &&
              !st && strstr(err.msg, "spike value 2 at flat index 4"),
          "spike value 2: %s", err.msg);
    CHECK(sbp_dataset_from_memory(&st, sp, sl2, 2, 0, 1, 1, 2, 1, SBP_MEMORY_COPY, &err) ==
                  SBP_ERR_INVALID_ARG &&
              strstr(err.msg, "label 1 at index 0"),
          "label beyond classes: %s", err.msg);
    CHECK(sbp_dataset_from_memory(&st, sp, sl2, 2, 0, 5, 1, 2, 0, SBP_MEMORY_COPY, &err) ==
              SBP_ERR_UNSUPPORTED,
          "5 channels: %s", err.msg);
    CHECK(sbp_dataset_from_memory(&st, NULL, sl2, 2, 0, 1, 1, 2, 0, SBP_MEMORY_COPY, &err) ==
              SBP_ERR_INVALID_ARG,
          "NULL data: %s", err.msg);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/sbp-datasets-XXXXXX",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "cannot create a temporary folder: %s\n", strerror(errno));
        return 1;
    }
    test_cifar_real();
    test_cifar_malformed();
    test_svhn();
    test_svhn_short();
    test_nmnist_sample();
    test_nmnist_malformed();
    test_npy_fixtures();
    test_npy_hostile();
    test_npy_write();
    test_from_memory();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish("datasets");
}
