/*
 * test_idx.c — the data layer: the IDX loader on the real MNIST and Fashion-MNIST files (known
 * counts, labels and pixel statistics from DATA.md), on hostile hand-made files (each must fail
 * with the right status and a message naming the file), and dataset slices and encodings.
 *
 * The real files come from scripts/get-data (`make test` runs it first). A missing data folder
 * is a failure, not a skip: a suite that silently skips its data checks proves nothing.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "spikebp.h"

/* ---------------------------------------------------------------- helpers */

/* Same rule as scripts/data-dir: $SBP_DATA_DIR, else $XDG_CACHE_HOME/spikebp, else
 * ~/.cache/spikebp. */
static void data_dir(char *buf, size_t size)
{
    const char *d = getenv("SBP_DATA_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (d && *d)
        snprintf(buf, size, "%s", d);
    else if (xdg && *xdg)
        snprintf(buf, size, "%s/spikebp", xdg);
    else
        snprintf(buf, size, "%s/.cache/spikebp", home ? home : ".");
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* get-data stores each file as it came: NAME (raw) or NAME.gz. */
static int find_data_file(const char *dir, const char *ds, const char *name, char *buf,
                          size_t size)
{
    snprintf(buf, size, "%s/%s/%s", dir, ds, name);
    if (file_exists(buf))
        return 1;
    snprintf(buf, size, "%s/%s/%s.gz", dir, ds, name);
    return file_exists(buf);
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

/* gzip-compresses bytes into a malloc'd buffer (a whole gzip file) via zlib. */
static uint8_t *gzip_bytes(const uint8_t *bytes, size_t n, size_t *out_n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)bytes;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, Z_FINISH);
    *out_n = z.total_out;
    deflateEnd(&z);
    if (r != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static void put_be32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* Builds an IDX file image: magic, dims, then `ndata` bytes of data. Caller frees. */
static uint8_t *make_idx(uint32_t magic, const uint32_t *dims, int ndim, const uint8_t *data,
                         size_t ndata, size_t *out_n)
{
    size_t n = 4 + 4 * (size_t)ndim + ndata;
    uint8_t *b = malloc(n);
    put_be32(b, magic);
    for (int i = 0; i < ndim; i++)
        put_be32(b + 4 + 4 * i, dims[i]);
    if (ndata)
        memcpy(b + 4 + 4 * ndim, data, ndata);
    *out_n = n;
    return b;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Loads (images, labels), expecting failure with `status`, a message naming `blame` and, if
 * given, containing `phrase`. */
static void expect_fail(const char *what, const char *images, const char *labels,
                        sbp_status status, const char *blame, const char *phrase)
{
    sbp_error err = {0};
    sbp_dataset *ds = (sbp_dataset *)(uintptr_t)1; /* must be reset to NULL */
    sbp_status st = sbp_dataset_load_idx(&ds, images, labels, &err);
    CHECK(st == status, "%s: status %d (%s), expected %d (%s); msg: %s", what, st,
          sbp_status_string(st), status, sbp_status_string(status), err.msg);
    CHECK(err.status == st, "%s: err.status %d disagrees with returned %d", what, err.status, st);
    CHECK(ds == NULL, "%s: *out not NULL after failure", what);
    CHECK(strstr(err.msg, base_name(blame)) != NULL, "%s: message does not name %s: %s", what,
          base_name(blame), err.msg);
    if (phrase)
        CHECK(strstr(err.msg, phrase) != NULL, "%s: message lacks \"%s\": %s", what, phrase,
              err.msg);
    if (st == SBP_OK)
        sbp_dataset_free(ds);
    printf("  %-28s -> %s\n", what, err.msg);
}

/* ---------------------------------------------------------------- real data */

static void check_real(const char *dir, const char *ds_name, const char *split, size_t n,
                       double mean_want, double std_want, const int *counts_want,
                       const int *first_labels)
{
    char img[4096], lab[4096], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", split);
    int have_img = find_data_file(dir, ds_name, name, img, sizeof img);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", split);
    int have_lab = find_data_file(dir, ds_name, name, lab, sizeof lab);
    CHECK(have_img && have_lab,
          "%s %s files missing in %s/%s — run scripts/get-data (make test does it first)",
          ds_name, split, dir, ds_name);
    if (!have_img || !have_lab)
        return;

    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    sbp_status st = sbp_dataset_load_idx(&ds, img, lab, &err);
    CHECK(st == SBP_OK, "%s %s: load failed: %s", ds_name, split, err.msg);
    if (st != SBP_OK)
        return;
    int c = 0, h = 0, w = 0;
    sbp_dataset_shape(ds, &c, &h, &w);
    CHECK(sbp_dataset_count(ds) == n, "%s %s: %zu images, expected %zu", ds_name, split,
          sbp_dataset_count(ds), n);
    CHECK(c == 1 && h == 28 && w == 28, "%s %s: shape %dx%dx%d, expected 1x28x28", ds_name,
          split, c, h, w);
    CHECK(sbp_dataset_classes(ds) == 10, "%s: %d classes", ds_name, sbp_dataset_classes(ds));
    CHECK(ds->gain == 0.5f && ds->mean[0] == 0.0f && ds->std[0] == 1.0f,
          "%s: encoding mean %g std %g gain %g, expected 0 1 0.5", ds_name, ds->mean[0],
          ds->std[0], ds->gain);

    if (first_labels)
        for (int i = 0; i < 10; i++)
            CHECK(sbp_dataset_label(ds, (size_t)i) == first_labels[i],
                  "%s %s: label[%d] = %d, expected %d", ds_name, split, i,
                  sbp_dataset_label(ds, (size_t)i), first_labels[i]);
    if (counts_want) {
        int counts[10] = {0};
        for (size_t i = 0; i < sbp_dataset_count(ds); i++)
            counts[sbp_dataset_label(ds, i)]++;
        for (int k = 0; k < 10; k++)
            CHECK(counts[k] == counts_want[k], "%s %s: class %d has %d images, expected %d",
                  ds_name, split, k, counts[k], counts_want[k]);
    }
    if (mean_want >= 0) {
        double s = 0, s2 = 0;
        size_t per = (size_t)c * h * w, total = per * sbp_dataset_count(ds);
        for (size_t i = 0; i < sbp_dataset_count(ds); i++) {
            const uint8_t *p = sbp_dataset_image(ds, i);
            uint64_t a = 0, a2 = 0;
            for (size_t j = 0; j < per; j++) {
                a += p[j];
                a2 += (uint64_t)p[j] * p[j];
            }
            s += (double)a;
            s2 += (double)a2;
        }
        double mean = s / total / 255.0;
        double var = s2 / total / (255.0 * 255.0) - mean * mean;
        char what[128];
        snprintf(what, sizeof what, "%s %s pixel mean", ds_name, split);
        CHECK_NEAR(mean, mean_want, 1e-4, what);
        snprintf(what, sizeof what, "%s %s pixel std", ds_name, split);
        CHECK_NEAR(sqrt(var), std_want, 1e-4, what);
        printf("  %s %s: %zu images, mean %.5f std %.5f\n", ds_name, split,
               sbp_dataset_count(ds), mean, sqrt(var));
    }
    sbp_dataset_free(ds);
}

static void test_real_data(void)
{
    char dir[2048];
    data_dir(dir, sizeof dir);
    struct stat sb;
    CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode),
          "data folder %s is missing — run scripts/get-data (make test runs it first)", dir);
    if (stat(dir, &sb) != 0)
        return;
    static const int mnist_counts[10] = {5923, 6742, 5958, 6131, 5842,
                                         5421, 5918, 6265, 5851, 5949};
    static const int mnist_first[10] = {5, 0, 4, 1, 9, 2, 1, 3, 1, 4};
    static const int fashion_counts[10] = {6000, 6000, 6000, 6000, 6000,
                                           6000, 6000, 6000, 6000, 6000};
    check_real(dir, "mnist", "train", 60000, 0.1307, 0.3081, mnist_counts, mnist_first);
    check_real(dir, "mnist", "t10k", 10000, -1, -1, NULL, NULL);
    check_real(dir, "fashion-mnist", "train", 60000, 0.2860, 0.3530, fashion_counts, NULL);
    check_real(dir, "fashion-mnist", "t10k", 10000, -1, -1, NULL, NULL);
}

/* ---------------------------------------------------------------- hand-made files */

/* 3 images of 2×3 and their labels. */
static const uint8_t tiny_pixels[18] = {
    0,   1,   2,  3,  4,  5, /* image 0 */
    255, 128, 64, 32, 16, 8, /* image 1 */
    9,   9,   9,  7,  7,  7, /* image 2 */
};
static const uint8_t tiny_labels[3] = {7, 0, 9};

static void test_valid_tiny(const char *tmp, char *img_raw, char *lab_raw, size_t size)
{
    const uint32_t idims[3] = {3, 2, 3}, ldims[1] = {3};
    size_t ni, nl, ngi, ngl;
    uint8_t *bi = make_idx(SBP_IDX_MAGIC_IMAGES, idims, 3, tiny_pixels, 18, &ni);
    uint8_t *bl = make_idx(SBP_IDX_MAGIC_LABELS, ldims, 1, tiny_labels, 3, &nl);
    char img_gz[4096], lab_gz[4096];
    snprintf(img_raw, size, "%s/tiny-images-idx3-ubyte", tmp);
    snprintf(lab_raw, size, "%s/tiny-labels-idx1-ubyte", tmp);
    /* named without .gz on purpose: gzip is detected by content */
    snprintf(img_gz, sizeof img_gz, "%s/tiny-images-gz", tmp);
    snprintf(lab_gz, sizeof lab_gz, "%s/tiny-labels-gz", tmp);
    write_file(img_raw, bi, ni);
    write_file(lab_raw, bl, nl);
    uint8_t *gi = gzip_bytes(bi, ni, &ngi), *gl = gzip_bytes(bl, nl, &ngl);
    CHECK(gi && gl, "zlib compression failed");
    write_file(img_gz, gi, ngi);
    write_file(lab_gz, gl, ngl);

    const char *pairs[3][2] = {{img_raw, lab_raw}, {img_gz, lab_gz}, {img_gz, lab_raw}};
    for (int p = 0; p < 3; p++) {
        sbp_error err = {0};
        sbp_dataset *ds = NULL;
        sbp_status st = sbp_dataset_load_idx(&ds, pairs[p][0], pairs[p][1], &err);
        CHECK(st == SBP_OK, "tiny pair %d: %s", p, err.msg);
        if (st != SBP_OK)
            continue;
        int c, h, w;
        sbp_dataset_shape(ds, &c, &h, &w);
        CHECK(sbp_dataset_count(ds) == 3 && c == 1 && h == 2 && w == 3,
              "tiny pair %d: %zu images of %dx%dx%d", p, sbp_dataset_count(ds), c, h, w);
        CHECK(sbp_dataset_classes(ds) == 10, "tiny: classes %d", sbp_dataset_classes(ds));
        for (size_t i = 0; i < 3; i++) {
            CHECK(sbp_dataset_label(ds, i) == tiny_labels[i], "tiny pair %d: label %zu", p, i);
            CHECK(memcmp(sbp_dataset_image(ds, i), tiny_pixels + 6 * i, 6) == 0,
                  "tiny pair %d: pixels of image %zu", p, i);
        }
        CHECK(sbp_dataset_label(ds, 3) == -1 && sbp_dataset_image(ds, 3) == NULL,
              "tiny: out-of-range index must give -1 / NULL");
        CHECK(ds->gain == 0.5f, "tiny: gain %g", ds->gain);
        sbp_dataset_free(ds);
    }

    /* the low-level reader */
    uint32_t dims[SBP_IDX_MAX_DIMS] = {0};
    int ndim = 0;
    uint8_t *data = NULL;
    size_t n = 0;
    sbp_error err = {0};
    sbp_status st = sbp_idx_read(img_gz, SBP_IDX_MAGIC_IMAGES, dims, &ndim, &data, &n, &err);
    CHECK(st == SBP_OK && ndim == 3 && dims[0] == 3 && dims[1] == 2 && dims[2] == 3 && n == 18 &&
              data && memcmp(data, tiny_pixels, 18) == 0,
          "sbp_idx_read on gzip: st %d ndim %d n %zu: %s", st, ndim, n, err.msg);
    free(data);

    /* hostile variants of the gzip file */
    char path[4096];
    snprintf(path, sizeof path, "%s/cut-gz-images", tmp);
    write_file(path, gi, ngi / 2);
    expect_fail("gzip stream cut in half", path, lab_raw, SBP_ERR_FORMAT, path, "gzip");
    snprintf(path, sizeof path, "%s/no-trailer-gz-images", tmp);
    write_file(path, gi, ngi - 8);
    expect_fail("gzip without trailer", path, lab_raw, SBP_ERR_FORMAT, path, "gzip");
    snprintf(path, sizeof path, "%s/header-only-gz-images", tmp);
    write_file(path, gi, 12);
    expect_fail("gzip header only", path, lab_raw, SBP_ERR_FORMAT, path, NULL);
    uint8_t *bad = malloc(ngi);
    memcpy(bad, gi, ngi);
    bad[ngi - 6] ^= 0xff; /* CRC-32/length trailer: data inflates but fails the check */
    snprintf(path, sizeof path, "%s/bad-crc-gz-images", tmp);
    write_file(path, bad, ngi);
    expect_fail("gzip with bad trailer", path, lab_raw, SBP_ERR_FORMAT, path, "gzip");
    memcpy(bad, gi, ngi);
    for (size_t i = 10; i < ngi - 8; i++)
        bad[i] = 0xff; /* garbage deflate data */
    snprintf(path, sizeof path, "%s/garbage-gz-images", tmp);
    write_file(path, bad, ngi);
    expect_fail("gzip with garbage data", path, lab_raw, SBP_ERR_FORMAT, path, "gzip");
    free(bad);

    /* a gzip file inside gzip */
    size_t ngg;
    uint8_t *gg = gzip_bytes(gi, ngi, &ngg);
    snprintf(path, sizeof path, "%s/double-gz-images", tmp);
    write_file(path, gg, ngg);
    expect_fail("gzip inside gzip", path, lab_raw, SBP_ERR_FORMAT, path, "not an IDX file");
    free(gg);

    /* complete gzip streams around IDX data that is too short or too long */
    {
        const uint32_t d5[3] = {5, 2, 3}, d2[3] = {2, 2, 3};
        size_t nb, ng;
        uint8_t *b = make_idx(SBP_IDX_MAGIC_IMAGES, d5, 3, tiny_pixels, 18, &nb);
        uint8_t *g = gzip_bytes(b, nb, &ng);
        snprintf(path, sizeof path, "%s/truncated-gz-images", tmp);
        write_file(path, g, ng);
        free(b);
        free(g);
        expect_fail("gzip, truncated data", path, lab_raw, SBP_ERR_FORMAT, path,
                    "truncated: expected 30 bytes of pixel data, got 18");
        b = make_idx(SBP_IDX_MAGIC_IMAGES, d2, 3, tiny_pixels, 18, &nb);
        g = gzip_bytes(b, nb, &ng);
        snprintf(path, sizeof path, "%s/trailing-gz-images", tmp);
        write_file(path, g, ng);
        free(b);
        free(g);
        expect_fail("gzip, trailing bytes", path, lab_raw, SBP_ERR_FORMAT, path,
                    "6 trailing bytes");
    }

    free(gi);
    free(gl);
    free(bi);
    free(bl);
}

static void test_malformed(const char *tmp, const char *img_ok, const char *lab_ok)
{
    char path[4096];
    size_t n;
    uint8_t *b;

    snprintf(path, sizeof path, "%s/empty-images", tmp);
    write_file(path, "", 0);
    expect_fail("empty file", path, lab_ok, SBP_ERR_FORMAT, path, "empty");

    snprintf(path, sizeof path, "%s/short-header-images", tmp);
    write_file(path, "\0\0\x08\x03\0\0", 6);
    expect_fail("header cut short", path, lab_ok, SBP_ERR_FORMAT, path, "truncated");

    snprintf(path, sizeof path, "%s/nonexistent-images", tmp);
    expect_fail("nonexistent path", path, lab_ok, SBP_ERR_IO, path, NULL);
    expect_fail("nonexistent labels", img_ok, path, SBP_ERR_IO, path, NULL);
    expect_fail("directory", tmp, lab_ok, SBP_ERR_IO, tmp, NULL);

    /* wrong magic: a labels file given as images, and an int32 IDX */
    expect_fail("labels as images", lab_ok, img_ok, SBP_ERR_FORMAT, lab_ok, "magic");
    {
        const uint32_t d[3] = {1, 1, 1};
        const uint8_t px[4] = {0};
        b = make_idx(0x00000c03u, d, 3, px, 4, &n);
        snprintf(path, sizeof path, "%s/int32-images", tmp);
        write_file(path, b, n);
        free(b);
        expect_fail("int32 element type", path, lab_ok, SBP_ERR_FORMAT, path, "0x0c");
    }

    /* foreign files */
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                  'I', 'H', 'D', 'R', 0, 0, 0, 28, 0, 0, 0, 28};
    snprintf(path, sizeof path, "%s/digit.png", tmp);
    write_file(path, png, sizeof png);
    expect_fail("PNG file", path, lab_ok, SBP_ERR_FORMAT, path, "not an IDX file (magic 0x");
    static const char html[] = "<html><body>404 Not Found</body></html>\n";
    snprintf(path, sizeof path, "%s/error-page.html", tmp);
    write_file(path, html, sizeof html - 1);
    expect_fail("text file", path, lab_ok, SBP_ERR_FORMAT, path, "not an IDX file");

    /* header claims more images than present */
    {
        const uint32_t d[3] = {5, 2, 3};
        b = make_idx(SBP_IDX_MAGIC_IMAGES, d, 3, tiny_pixels, 18, &n);
        snprintf(path, sizeof path, "%s/truncated-images", tmp);
        write_file(path, b, n);
        free(b);
        expect_fail("truncated data", path, lab_ok, SBP_ERR_FORMAT, path,
                    "truncated: expected 30 bytes of pixel data, got 18");
    }
    /* trailing bytes */
    {
        const uint32_t d[3] = {2, 2, 3};
        b = make_idx(SBP_IDX_MAGIC_IMAGES, d, 3, tiny_pixels, 18, &n);
        snprintf(path, sizeof path, "%s/trailing-images", tmp);
        write_file(path, b, n);
        free(b);
        expect_fail("trailing bytes", path, lab_ok, SBP_ERR_FORMAT, path, "6 trailing bytes");
    }
    /* zero and absurd dimensions: refused before any allocation */
    {
        const uint32_t d[3] = {3, 0, 3};
        b = make_idx(SBP_IDX_MAGIC_IMAGES, d, 3, NULL, 0, &n);
        snprintf(path, sizeof path, "%s/zero-dim-images", tmp);
        write_file(path, b, n);
        free(b);
        expect_fail("zero dimension", path, lab_ok, SBP_ERR_FORMAT, path, "is 0");
        const uint32_t big[3] = {0xffffffffu, 28, 28};
        b = make_idx(SBP_IDX_MAGIC_IMAGES, big, 3, tiny_pixels, 18, &n);
        snprintf(path, sizeof path, "%s/absurd-images", tmp);
        write_file(path, b, n);
        free(b);
        expect_fail("absurd header", path, lab_ok, SBP_ERR_FORMAT, path, "absurd");
        /* below the cap but far beyond the file: must not allocate the claimed size upfront */
        const uint32_t large[3] = {10000000, 28, 28};
        b = make_idx(SBP_IDX_MAGIC_IMAGES, large, 3, tiny_pixels, 18, &n);
        snprintf(path, sizeof path, "%s/large-claim-images", tmp);
        write_file(path, b, n);
        free(b);
        expect_fail("7.8 GB claim, 18 B data", path, lab_ok, SBP_ERR_FORMAT, path, "truncated");
    }
    /* label count differs from image count */
    {
        const uint32_t d[1] = {2};
        b = make_idx(SBP_IDX_MAGIC_LABELS, d, 1, tiny_labels, 2, &n);
        snprintf(path, sizeof path, "%s/two-labels", tmp);
        write_file(path, b, n);
        free(b);
        expect_fail("label count mismatch", img_ok, path, SBP_ERR_FORMAT, path, "3 images");
    }
    /* a label outside 0 … 9 */
    {
        const uint32_t d[1] = {3};
        const uint8_t lab[3] = {1, 2, 11};
        b = make_idx(SBP_IDX_MAGIC_LABELS, d, 1, lab, 3, &n);
        snprintf(path, sizeof path, "%s/label-eleven", tmp);
        write_file(path, b, n);
        free(b);
        expect_fail("label value 11", img_ok, path, SBP_ERR_FORMAT, path, "label 11 at index 2");
    }
    /* bad arguments */
    {
        sbp_error err = {0};
        sbp_dataset *ds = NULL;
        CHECK(sbp_dataset_load_idx(&ds, NULL, lab_ok, &err) == SBP_ERR_INVALID_ARG,
              "NULL images path must be INVALID_ARG");
        CHECK(sbp_dataset_load_idx(NULL, img_ok, lab_ok, &err) == SBP_ERR_INVALID_ARG,
              "NULL out must be INVALID_ARG");
        CHECK(sbp_dataset_load_idx(&ds, "/nonexistent/x", lab_ok, NULL) == SBP_ERR_IO,
              "a NULL err must be allowed");
    }
}

/* ---------------------------------------------------------------- slices and encodings */

static void test_slice_and_encoding(const char *img, const char *lab)
{
    sbp_error err = {0};
    sbp_dataset *ds = NULL, *s = NULL, *ss = NULL;
    if (sbp_dataset_load_idx(&ds, img, lab, &err) != SBP_OK) {
        CHECK(0, "slice test: cannot load the tiny pair: %s", err.msg);
        return;
    }
    const float m[1] = {0.25f}, sd[1] = {0.5f};
    CHECK(sbp_dataset_set_encoding(ds, m, sd, 0.75f, &err) == SBP_OK, "set_encoding: %s", err.msg);

    CHECK(sbp_dataset_slice(&s, ds, 1, 2, &err) == SBP_OK, "slice [1,3): %s", err.msg);
    if (s) {
        int c, h, w;
        sbp_dataset_shape(s, &c, &h, &w);
        CHECK(sbp_dataset_count(s) == 2 && c == 1 && h == 2 && w == 3, "slice shape");
        CHECK(sbp_dataset_label(s, 0) == 0 && sbp_dataset_label(s, 1) == 9, "slice labels");
        CHECK(sbp_dataset_image(s, 0) == sbp_dataset_image(ds, 1), "slice shares memory");
        CHECK(sbp_dataset_image(s, 2) == NULL && sbp_dataset_label(s, 2) == -1,
              "slice index 2 is out of range");
        CHECK(s->mean[0] == 0.25f && s->std[0] == 0.5f && s->gain == 0.75f &&
                  sbp_dataset_classes(s) == 10,
              "slice keeps encoding and classes");
        CHECK(sbp_dataset_slice(&ss, s, 1, 1, &err) == SBP_OK, "slice of slice: %s", err.msg);
        if (ss)
            CHECK(sbp_dataset_label(ss, 0) == 9 &&
                      sbp_dataset_image(ss, 0) == sbp_dataset_image(ds, 2),
                  "slice of slice points at image 2");
        sbp_dataset_free(ss);
        sbp_dataset_free(s);
    }
    s = NULL;
    CHECK(sbp_dataset_slice(&s, ds, 0, 3, &err) == SBP_OK, "whole slice: %s", err.msg);
    sbp_dataset_free(s);

    const size_t bad[][2] = {{0, 0}, {3, 1}, {2, 2}, {0, 4}, {SIZE_MAX, 2}, {1, SIZE_MAX}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = (sbp_dataset *)(uintptr_t)1;
        memset(&err, 0, sizeof err);
        sbp_status st = sbp_dataset_slice(&s, ds, bad[i][0], bad[i][1], &err);
        CHECK(st == SBP_ERR_INVALID_ARG && s == NULL && err.msg[0],
              "slice (%zu, %zu) of 3 must fail: st %d", bad[i][0], bad[i][1], st);
        if (i == 3)
            printf("  slice out of range        -> %s\n", err.msg);
    }

    /* encoding validation: each bad call fails and leaves the encoding untouched */
    const float one[1] = {1.0f}, zero[1] = {0.0f}, neg[1] = {-1.0f}, nan1[1] = {NAN},
                inf1[1] = {INFINITY};
    struct {
        const float *mean, *std;
        float gain;
        const char *what;
    } cases[] = {
        {zero, zero, 0.5f, "std 0"},       {zero, neg, 0.5f, "std < 0"},
        {zero, nan1, 0.5f, "std NaN"},     {zero, inf1, 0.5f, "std inf"},
        {zero, one, 0.0f, "gain 0"},       {zero, one, -1.0f, "gain < 0"},
        {zero, one, NAN, "gain NaN"},      {zero, one, INFINITY, "gain inf"},
        {nan1, one, 0.5f, "mean NaN"},     {inf1, one, 0.5f, "mean inf"},
        {NULL, one, 0.5f, "mean NULL"},    {zero, NULL, 0.5f, "std NULL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&err, 0, sizeof err);
        sbp_status st =
            sbp_dataset_set_encoding(ds, cases[i].mean, cases[i].std, cases[i].gain, &err);
        CHECK(st == SBP_ERR_INVALID_ARG && err.msg[0], "set_encoding %s must fail: %d",
              cases[i].what, st);
        CHECK(ds->mean[0] == 0.25f && ds->std[0] == 0.5f && ds->gain == 0.75f,
              "set_encoding %s changed the encoding", cases[i].what);
    }
    CHECK(sbp_dataset_set_encoding(NULL, zero, one, 0.5f, &err) == SBP_ERR_INVALID_ARG,
          "set_encoding on NULL");
    ds->c = SBP_DATASET_MAX_CH + 1; /* a corrupted record: more channels than mean/std hold */
    CHECK(sbp_dataset_set_encoding(ds, zero, one, 0.5f, &err) == SBP_ERR_INVALID_ARG,
          "set_encoding with %d channels must fail", ds->c);
    ds->c = 1;
    sbp_dataset_free(ds);

    /* sbp_dataset_alloc */
    sbp_dataset *a = (sbp_dataset *)(uintptr_t)1;
    CHECK(sbp_dataset_alloc(&a, 2, SBP_DATASET_MAX_CH + 1, 4, 4, 10, &err) == SBP_ERR_INVALID_ARG &&
              a == NULL,
          "alloc with too many channels must fail");
    CHECK(sbp_dataset_alloc(&a, 0, 1, 4, 4, 10, &err) == SBP_ERR_INVALID_ARG, "alloc n = 0");
    CHECK(sbp_dataset_alloc(&a, 2, 1, 0, 4, 10, &err) == SBP_ERR_INVALID_ARG, "alloc h = 0");
    CHECK(sbp_dataset_alloc(&a, SIZE_MAX / 2, 3, 32, 32, 10, &err) != SBP_OK && a == NULL,
          "alloc of an impossible size must fail");
    CHECK(sbp_dataset_alloc(&a, 2, 3, 4, 5, 10, &err) == SBP_OK, "alloc: %s", err.msg);
    if (a) {
        int c, h, w;
        sbp_dataset_shape(a, &c, &h, &w);
        int zeros = 1;
        for (size_t i = 0; i < 2; i++)
            for (int j = 0; j < 60; j++)
                zeros &= sbp_dataset_image(a, i)[j] == 0;
        CHECK(sbp_dataset_count(a) == 2 && c == 3 && h == 4 && w == 5 && zeros &&
                  sbp_dataset_label(a, 1) == 0 && a->gain == 1.0f && a->std[2] == 1.0f &&
                  a->mean[2] == 0.0f && a->parent == NULL,
              "alloc: fields");
        CHECK(sbp_dataset_image(a, 1) - sbp_dataset_image(a, 0) == 60, "alloc: image stride");
        const float m3[3] = {0.4914f, 0.4822f, 0.4465f}, s3[3] = {0.247f, 0.243f, 0.261f};
        CHECK(sbp_dataset_set_encoding(a, m3, s3, 1.0f, &err) == SBP_OK && a->std[2] == 0.261f,
              "set_encoding with 3 channels: %s", err.msg);
        sbp_dataset_free(a);
    }
    sbp_dataset_free(NULL);
    CHECK(sbp_dataset_count(NULL) == 0 && sbp_dataset_classes(NULL) == 0, "NULL accessors");
}

/* ---------------------------------------------------------------- main */

static void remove_tree(const char *dir)
{
    static const char *names[] = {
        "tiny-images-idx3-ubyte", "tiny-labels-idx1-ubyte", "tiny-images-gz", "tiny-labels-gz",
        "cut-gz-images", "no-trailer-gz-images", "header-only-gz-images", "bad-crc-gz-images",
        "garbage-gz-images", "double-gz-images", "truncated-gz-images", "trailing-gz-images",
        "empty-images", "short-header-images",
        "int32-images", "digit.png", "error-page.html", "truncated-images", "trailing-images",
        "zero-dim-images", "absurd-images", "large-claim-images", "two-labels", "label-eleven"};
    char path[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    CHECK(rmdir(dir) == 0, "cannot remove %s: %s", dir, strerror(errno));
}

int main(void)
{
    test_real_data();

    const char *t = getenv("TMPDIR");
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/test_idx.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp)) {
        CHECK(0, "mkdtemp %s: %s", tmp, strerror(errno));
        return check_finish("idx");
    }
    char img[4096], lab[4096];
    test_valid_tiny(tmp, img, lab, sizeof img);
    test_malformed(tmp, img, lab);
    test_slice_and_encoding(img, lab);
    remove_tree(tmp);
    return check_finish("idx");
}
