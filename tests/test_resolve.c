/*
 * test_resolve.c — data sets by name through the library (sbp_dataset_open, src/data/resolve.c):
 * the npy:/npz: forms on the NumPy fixtures, a folder recognised by its files, the kind:DIR
 * form, a built-in name in the cache folder ($SBP_DATA_DIR), limits (a view that owns the set
 * it was cut from), and names that must fail with the right status and a message naming them.
 *
 * Expected values come from outside the resolver: the NumPy fixtures' formulas
 * (tests/data/make_npy_fixtures.py: img4 = arange(24)·10 mod 256 as (4, 1, 3, 2), img3 = 255 −
 * arange(24) as (4, 3, 2), labels 0 2 1 2) and IDX files written here byte by byte from a
 * formula (pixel j of image i = 7·i + j, label i mod 3).
 */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "spikebp.h"

static char tmpdir[256];

static const char *fixture(const char *name, char *buf, size_t size)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/%s", name);
    return check_source_path(rel, buf, size);
}

static void put_be32(FILE *f, uint32_t v)
{
    const uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    fwrite(b, 1, 4, f);
}

/* An IDX pair PREFIX-{images-idx3,labels-idx1}-ubyte of n 2×3 images in dir: pixel j of image
 * i is 7·i + j + base, label (i + base) mod 3. */
static void write_idx(const char *dir, const char *prefix, uint32_t n, int base)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte", dir, prefix);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL, "create %s: %s", p, strerror(errno));
    if (!f)
        return;
    put_be32(f, 0x803);
    put_be32(f, n);
    put_be32(f, 2);
    put_be32(f, 3);
    for (uint32_t i = 0; i < n; i++)
        for (int j = 0; j < 6; j++)
            fputc((int)(7 * i + (uint32_t)j + (uint32_t)base) & 255, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte", dir, prefix);
    f = fopen(p, "wb");
    CHECK(f != NULL, "create %s: %s", p, strerror(errno));
    if (!f)
        return;
    put_be32(f, 0x801);
    put_be32(f, n);
    for (uint32_t i = 0; i < n; i++)
        fputc((int)((i + (uint32_t)base) % 3), f);
    fclose(f);
}

/* Checks an IDX set written by write_idx: n images (of the first `n`), shape 1×2×3. */
static void check_idx_set(const char *what, const sbp_dataset *ds, size_t n, int base)
{
    CHECK(ds && sbp_dataset_count(ds) == n, "%s: %zu images, expected %zu", what,
          ds ? sbp_dataset_count(ds) : 0, n);
    if (!ds || sbp_dataset_count(ds) != n)
        return;
    int c, h, w;
    sbp_dataset_shape(ds, &c, &h, &w);
    CHECK(c == 1 && h == 2 && w == 3, "%s: shape %dx%dx%d, expected 1x2x3", what, c, h, w);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += sbp_dataset_label(ds, i) != (int)((i + (size_t)base) % 3);
        const uint8_t *px = sbp_dataset_image(ds, i);
        for (int j = 0; j < 6; j++)
            bad += px[j] != (uint8_t)(7 * i + (size_t)j + (size_t)base);
    }
    CHECK(bad == 0, "%s: %d labels or pixels differ from the files written", what, bad);
}

static sbp_dataset *open_ok(const char *name, sbp_split split, size_t limit)
{
    sbp_error err = {0};
    sbp_dataset *ds = NULL;
    sbp_status st = sbp_dataset_open(&ds, name, split, limit, &err);
    CHECK(st == SBP_OK && ds != NULL, "open '%s' (%s, limit %zu): %s", name,
          split == SBP_SPLIT_TRAIN ? "train" : "test", limit, err.msg);
    return ds;
}

static void test_numpy_names(void)
{
    char x[1024], y[1024], tx[1024], ty[1024], z[1024], name[4200];
    fixture("npy_img4_u1.npy", x, sizeof x);
    fixture("npy_lab_i8.npy", y, sizeof y);
    fixture("npy_img3_u1.npy", tx, sizeof tx);
    fixture("npy_lab_u1.npy", ty, sizeof ty);
    static const int lab[4] = {0, 2, 1, 2};

    /* npy:X,Y — both splits are the training arrays */
    snprintf(name, sizeof name, "npy:%s,%s", x, y);
    for (int s = 0; s < 2; s++) {
        sbp_dataset *ds = open_ok(name, s ? SBP_SPLIT_TEST : SBP_SPLIT_TRAIN, 0);
        if (!ds)
            continue;
        int c, h, w, bad = 0;
        sbp_dataset_shape(ds, &c, &h, &w);
        CHECK(sbp_dataset_count(ds) == 4 && c == 1 && h == 3 && w == 2,
              "npy:X,Y split %d: %zu images of %dx%dx%d, expected 4 of 1x3x2", s,
              sbp_dataset_count(ds), c, h, w);
        for (size_t i = 0; i < 4 && sbp_dataset_count(ds) == 4; i++) {
            bad += sbp_dataset_label(ds, i) != lab[i];
            for (int j = 0; j < 6; j++)
                bad += sbp_dataset_image(ds, i)[j] != (uint8_t)((i * 6 + (size_t)j) * 10 % 256);
        }
        CHECK(bad == 0, "npy:X,Y split %d: %d values differ from img4 / lab", s, bad);
        sbp_dataset_free(ds);
    }
    /* npy:X,Y,TX,TY — the test split is TX, TY (img3 = 255 − arange) */
    snprintf(name, sizeof name, "npy:%s,%s,%s,%s", x, y, tx, ty);
    sbp_dataset *ds = open_ok(name, SBP_SPLIT_TEST, 0);
    if (ds) {
        int bad = sbp_dataset_count(ds) != 4;
        for (size_t i = 0; i < 4 && !bad; i++) {
            bad += sbp_dataset_label(ds, i) != lab[i];
            for (int j = 0; j < 6; j++)
                bad += sbp_dataset_image(ds, i)[j] != (uint8_t)(255 - (i * 6 + (size_t)j));
        }
        CHECK(bad == 0, "npy:X,Y,TX,TY test split is not TX/TY (%d differences)", bad);
        sbp_dataset_free(ds);
    }
    /* a limit keeps the first images */
    ds = open_ok(name, SBP_SPLIT_TRAIN, 3);
    if (ds) {
        CHECK(sbp_dataset_count(ds) == 3 && sbp_dataset_label(ds, 1) == 2 &&
                  sbp_dataset_label(ds, 2) == 1 && sbp_dataset_image(ds, 2)[0] == 120,
              "npy limit 3: %zu images, labels %d %d, pixel %d", sbp_dataset_count(ds),
              sbp_dataset_label(ds, 1), sbp_dataset_label(ds, 2), sbp_dataset_image(ds, 2)[0]);
        sbp_dataset_free(ds);
    }
    /* npz:TRAIN.npz */
    fixture("npz_img.npz", z, sizeof z);
    snprintf(name, sizeof name, "npz:%s", z);
    ds = open_ok(name, SBP_SPLIT_TRAIN, 0);
    if (ds) {
        CHECK(sbp_dataset_count(ds) == 4 && sbp_dataset_label(ds, 1) == 2 &&
                  sbp_dataset_label(ds, 3) == 2 && sbp_dataset_image(ds, 3)[5] == 230,
              "npz: %zu images, labels %d %d, pixel %d", sbp_dataset_count(ds),
              sbp_dataset_label(ds, 1), sbp_dataset_label(ds, 3), sbp_dataset_image(ds, 3)[5]);
        sbp_dataset_free(ds);
    }
}

static void test_folders(void)
{
    char dir[512], name[600];
    snprintf(dir, sizeof dir, "%s/mnist", tmpdir);
    CHECK(mkdir(dir, 0700) == 0, "mkdir %s: %s", dir, strerror(errno));
    write_idx(dir, "train", 5, 0);
    write_idx(dir, "t10k", 3, 100);

    /* a folder, recognised by its files */
    sbp_dataset *ds = open_ok(dir, SBP_SPLIT_TRAIN, 0);
    check_idx_set("folder, train", ds, 5, 0);
    sbp_dataset_free(ds);
    ds = open_ok(dir, SBP_SPLIT_TEST, 0);
    check_idx_set("folder, test", ds, 3, 100);
    sbp_dataset_free(ds);
    /* the kind named */
    snprintf(name, sizeof name, "idx:%s", dir);
    ds = open_ok(name, SBP_SPLIT_TRAIN, 0);
    check_idx_set("idx:DIR, train", ds, 5, 0);
    sbp_dataset_free(ds);
    /* a built-in name: the folder of that name in $SBP_DATA_DIR */
    const char *old = getenv("SBP_DATA_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("SBP_DATA_DIR", tmpdir, 1);
    ds = open_ok("mnist", SBP_SPLIT_TEST, 0);
    check_idx_set("mnist from $SBP_DATA_DIR, test", ds, 3, 100);
    sbp_dataset_free(ds);

    /* a limited view owns the full set (freed with it: the sanitizer build checks no leak),
     * and a slice of that view reads the same memory */
    ds = open_ok("mnist", SBP_SPLIT_TRAIN, 4);
    check_idx_set("mnist, limit 4", ds, 4, 0);
    if (ds) {
        sbp_error err = {0};
        sbp_dataset *part = NULL;
        CHECK(sbp_dataset_slice(&part, ds, 1, 3, &err) == SBP_OK, "slice of a view: %s",
              err.msg);
        if (part)
            CHECK(sbp_dataset_label(part, 0) == 1 && sbp_dataset_image(part, 2)[0] == 21,
                  "slice of a limited view: label %d, pixel %d", sbp_dataset_label(part, 0),
                  sbp_dataset_image(part, 2)[0]);
        sbp_dataset_free(part);
        sbp_dataset_free(ds);
    }
    ds = open_ok("mnist", SBP_SPLIT_TRAIN, 99); /* a limit above the count keeps all */
    check_idx_set("mnist, limit 99", ds, 5, 0);
    sbp_dataset_free(ds);

    /* a built-in name whose folder is missing names the folder and the fetch script */
    sbp_error err = {0};
    ds = NULL;
    sbp_status st = sbp_dataset_open(&ds, "svhn", SBP_SPLIT_TRAIN, 0, &err);
    CHECK(st == SBP_ERR_IO && ds == NULL && strstr(err.msg, tmpdir) &&
              strstr(err.msg, "scripts/get-data svhn"),
          "svhn without its folder: status %d, message '%s'", st, err.msg);
    if (saved)
        setenv("SBP_DATA_DIR", saved, 1);
    else
        unsetenv("SBP_DATA_DIR");
    free(saved);
}

/* A name that must fail: the status, and a message holding `needle`. */
static void expect_fail(const char *name, sbp_split split, sbp_status want, const char *needle)
{
    sbp_error err = {0};
    sbp_dataset *ds = (sbp_dataset *)&err; /* must come back NULL */
    sbp_status st = sbp_dataset_open(&ds, name, split, 0, &err);
    CHECK(st == want && err.status == want && ds == NULL && strstr(err.msg, needle) != NULL,
          "'%s': status %d (%s), expected %d; message '%s' should hold '%s'", name ? name : "NULL",
          st, sbp_status_string(st), want, err.msg, needle);
    printf("  %-28.28s -> %s\n", name ? name : "(NULL)", err.msg);
    sbp_dataset_free(ds == (sbp_dataset *)&err ? NULL : ds);
}

static void test_bad_names(void)
{
    char missing[600], name[1400], x[1024];
    expect_fail("imagenet", SBP_SPLIT_TRAIN, SBP_ERR_INVALID_ARG,
                "unknown data set 'imagenet' (use mnist, fashion-mnist");
    expect_fail("npy:only.npy", SBP_SPLIT_TRAIN, SBP_ERR_INVALID_ARG,
                "npy: 'only.npy': expected npy:X.npy,Y.npy[,TEST_X.npy,TEST_Y.npy]");
    expect_fail("npz:a.npz,b.npz,c.npz", SBP_SPLIT_TEST, SBP_ERR_INVALID_ARG,
                "expected npz:TRAIN.npz[,TEST.npz]");
    expect_fail("cifar10:", SBP_SPLIT_TRAIN, SBP_ERR_INVALID_ARG,
                "--data cifar10:: a path must follow the colon");
    expect_fail("nmnist@0", SBP_SPLIT_TRAIN, SBP_ERR_INVALID_ARG,
                "the suffix @T needs T in 1 … 100000");
    expect_fail("nmnist:nofile.bin:x", SBP_SPLIT_TRAIN, SBP_ERR_INVALID_ARG,
                "is neither a folder nor FILE.bin:LABEL");
    snprintf(missing, sizeof missing, "%s/no-such-folder", tmpdir);
    snprintf(name, sizeof name, "svhn:%s", missing);
    expect_fail(name, SBP_SPLIT_TRAIN, SBP_ERR_IO, "no-such-folder: no such folder");
    /* a missing file of a well-formed name: the loader's error, naming the file */
    fixture("npy_img4_u1.npy", x, sizeof x);
    snprintf(name, sizeof name, "npy:%s,%s/missing-labels.npy", x, tmpdir);
    expect_fail(name, SBP_SPLIT_TRAIN, SBP_ERR_IO, "missing-labels.npy: cannot open");
    /* a folder with no recognised files is taken as IDX, and the missing image file is named */
    expect_fail(tmpdir, SBP_SPLIT_TEST, SBP_ERR_IO, "t10k-images-idx3-ubyte");
    expect_fail(NULL, SBP_SPLIT_TRAIN, SBP_ERR_INVALID_ARG, "no data set name");
    expect_fail("mnist", (sbp_split)7, SBP_ERR_INVALID_ARG, "split 7");
    sbp_error err = {0};
    CHECK(sbp_dataset_open(NULL, "mnist", SBP_SPLIT_TRAIN, 0, &err) == SBP_ERR_INVALID_ARG,
          "NULL out pointer: %s", err.msg);
}

static void test_help(void)
{
    const char *h = sbp_dataset_names_help();
    CHECK(h && strstr(h, "npy:X.npy,Y.npy[,TEST_X.npy,TEST_Y.npy]") &&
              strstr(h, "nmnist:FILE.bin:LABEL[@T]") && strstr(h, "$SBP_DATA_DIR") &&
              h == sbp_dataset_names_help(),
          "names help text: '%.60s…'", h ? h : "(NULL)");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sbp-test-resolve-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "cannot create a temporary folder: %s\n", strerror(errno));
        return 1;
    }
    test_numpy_names();
    test_folders();
    test_bad_names();
    test_help();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish("resolve");
}
