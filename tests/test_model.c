/*
 * test_model.c — the model file (src/io/model.c) and the network description around it:
 *
 *   - save → load round trip: spec, neuron constants, dropout, metadata and every weight
 *     bit for bit;
 *   - the atomic write: replacing a file, no temporary left behind, failures (missing folder,
 *     a path under a regular file, a write that fails half-way) reported as SBP_ERR_IO with the
 *     path and leaving the previous file untouched;
 *   - hostile files: empty, magic only, truncated at many lengths, a flipped byte anywhere
 *     (the CRC), a valid CRC over a corrupted description or tensor header, foreign files, a
 *     folder, a missing path — each must fail with SBP_ERR_FORMAT or SBP_ERR_IO, a message
 *     naming the file, and no crash (run it under valgrind);
 *   - sbp_net_set_meta validation, sbp_net_spec_parse errors, sbp_net_spec_format round trip.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "spikebp.h"

#define SMALL_NET "12x12x1-6C5-P2-8C3/2-16FC-4"
#define SMALL_NET_PARAMS (6 * 1 * 5 * 5 + 8 * 6 * 3 * 3 + 16 * 8 * 3 * 3 + 4 * 16)

static char g_dir[256]; /* the test's temporary folder */

/* ---------------------------------------------------------------- helpers */

static const char *tpath(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", g_dir, name);
    return buf;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    unsigned char *p = malloc(cap);
    size_t r;
    while (p && (r = fread(p + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            unsigned char *q = realloc(p, cap *= 2);
            if (!q)
                free(p);
            p = q;
        }
    }
    fclose(f);
    *n = len;
    return p;
}

static void write_bytes(const char *path, const void *bytes, size_t n)
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

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* Rewrites the trailing CRC-32 so that it matches the bytes before it. */
static void fix_crc(unsigned char *b, size_t n)
{
    wr32(b + n - 4, (uint32_t)crc32(0L, b, (uInt)(n - 4)));
}

/* Number of entries in g_dir whose name contains ".tmp.". */
static int count_tmp_files(void)
{
    DIR *d = opendir(g_dir);
    int n = 0;
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

static int files_equal(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *pa = read_all(a, &na), *pb = read_all(b, &nb);
    int eq = pa && pb && na == nb && memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return eq;
}

static int g_quiet_fail_print; /* print each hostile-file message only for named cases */

/* Loading `path` must fail with FORMAT or IO, leave *out NULL and name the path. Returns 1 if
 * it (correctly) failed. */
static int expect_load_fail(const char *what, const char *path)
{
    sbp_error err = {0};
    sbp_net *net = (sbp_net *)(uintptr_t)1; /* must be reset to NULL */
    sbp_status st = sbp_net_load(&net, path, &err);
    int ok = (st == SBP_ERR_FORMAT || st == SBP_ERR_IO);
    if (st == SBP_OK) {
        CHECK(0, "%s: %s was loaded without error", what, path);
        if (net != (sbp_net *)(uintptr_t)1)
            sbp_net_free(net);
        if (!g_quiet_fail_print)
            printf("  %-34s -> (accepted!)\n", what);
        return 0;
    }
    CHECK(ok, "%s: load returned %d (%s), expected a format or I/O error; msg: %s", what, st,
          sbp_status_string(st), err.msg);
    CHECK(err.status == st, "%s: err.status %d (%s) disagrees with the returned %d (%s)", what,
          err.status, sbp_status_string(err.status), st, sbp_status_string(st));
    CHECK(net == NULL, "%s: *out not NULL after failure", what);
    CHECK(strstr(err.msg, path) != NULL, "%s: message does not name %s: %s", what, path, err.msg);
    if (!g_quiet_fail_print)
        printf("  %-34s -> %s\n", what, err.msg);
    return ok;
}

static sbp_net *make_small_net(uint64_t seed)
{
    sbp_error err = {0};
    sbp_net_spec spec;
    sbp_net *net = NULL;
    sbp_status st = sbp_net_spec_parse(&spec, SMALL_NET, &err);
    CHECK(st == SBP_OK, "parse %s: %s", SMALL_NET, err.msg);
    if (st != SBP_OK)
        return NULL;
    CHECK(spec.n_layers == 5, "%s: %d layers, expected 5", SMALL_NET, spec.n_layers);
    spec.layers[2].dropout = 0.25f; /* the strided conv */
    spec.layers[3].dropout = 0.1f;  /* the dense layer */
    spec.leak = 0.95f;              /* non-default constants must survive too */
    spec.init_gain = 1.0f;
    st = sbp_net_create(&net, &spec, seed, &err);
    CHECK(st == SBP_OK, "create %s: %s", SMALL_NET, err.msg);
    if (st != SBP_OK)
        return NULL;
    static const char *const meta[][2] = {
        {"timesteps", "20"},
        {"data", "mnist"},
        {"note", "hello, world: spaces, = signs and \xc3\xbcnicode"},
        {"k_9", "x"},
    };
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
        CHECK(sbp_net_set_meta(net, meta[i][0], meta[i][1], &err) == SBP_OK, "set_meta %s: %s",
              meta[i][0], err.msg);
    return net;
}

/* Everything that defines the network must agree; weights bit for bit. */
static void compare_nets(const char *what, sbp_net *a, sbp_net *b)
{
    const sbp_net_spec *sa = sbp_net_get_spec(a), *sb = sbp_net_get_spec(b);
    CHECK(sa->in_c == sb->in_c && sa->in_h == sb->in_h && sa->in_w == sb->in_w,
          "%s: input %dx%dx%d vs %dx%dx%d", what, sa->in_c, sa->in_h, sa->in_w, sb->in_c,
          sb->in_h, sb->in_w);
    CHECK(sa->n_layers == sb->n_layers, "%s: %d vs %d layers", what, sa->n_layers, sb->n_layers);
    CHECK(sa->leak == sb->leak && sa->vth == sb->vth && sa->vth_pool == sb->vth_pool &&
              sa->init_gain == sb->init_gain,
          "%s: neuron constants (%g %g %g %g) vs (%g %g %g %g)", what, sa->leak, sa->vth,
          sa->vth_pool, sa->init_gain, sb->leak, sb->vth, sb->vth_pool, sb->init_gain);
    CHECK(sbp_net_param_count(a) == sbp_net_param_count(b), "%s: %zu vs %zu parameters", what,
          sbp_net_param_count(a), sbp_net_param_count(b));
    for (int i = 0; i < sa->n_layers && i < sb->n_layers; i++) {
        const sbp_layer_spec *la = &sa->layers[i], *lb = &sb->layers[i];
        CHECK(la->kind == lb->kind && la->out == lb->out && la->kernel == lb->kernel &&
                  la->stride == lb->stride && la->pad == lb->pad && la->dropout == lb->dropout,
              "%s: layer %d: %s out=%d k=%d s=%d p=%d d=%g vs %s out=%d k=%d s=%d p=%d d=%g",
              what, i, sbp_layer_kind_name(la->kind), la->out, la->kernel, la->stride, la->pad,
              la->dropout, sbp_layer_kind_name(lb->kind), lb->out, lb->kernel, lb->stride,
              lb->pad, lb->dropout);
        int ca, ha, wa, cb, hb, wb;
        sbp_net_layer_shape(a, i, &ca, &ha, &wa);
        sbp_net_layer_shape(b, i, &cb, &hb, &wb);
        CHECK(ca == cb && ha == hb && wa == wb, "%s: layer %d shape differs", what, i);
        size_t na = 0, nb = 0;
        float *wa_ = sbp_net_layer_weights(a, i, &na), *wb_ = sbp_net_layer_weights(b, i, &nb);
        CHECK(na == nb, "%s: layer %d: %zu vs %zu weights", what, i, na, nb);
        CHECK((wa_ == NULL) == (wb_ == NULL), "%s: layer %d: weights present in one only", what,
              i);
        if (wa_ && wb_ && na == nb)
            CHECK(memcmp(wa_, wb_, na * sizeof(float)) == 0,
                  "%s: layer %d: weights differ bit-wise", what, i);
    }
}

/* ---------------------------------------------------------------- round trip */

static void test_round_trip(void)
{
    char path[512];
    sbp_error err = {0};
    sbp_net *net = make_small_net(7);
    if (!net)
        return;
    CHECK(sbp_net_param_count(net) == SMALL_NET_PARAMS, "%s: %zu parameters, expected %d",
          SMALL_NET, sbp_net_param_count(net), SMALL_NET_PARAMS);
    int c, h, w;
    sbp_net_layer_shape(net, 2, &c, &h, &w);
    CHECK(c == 8 && h == 3 && w == 3, "8C3/2 on 6x6: output %dx%dx%d, expected 8x3x3", c, h, w);
    size_t nw = 0;
    CHECK(sbp_net_layer_weights(net, 1, &nw) == NULL && nw == 0, "pool layer has weights");

    tpath(path, sizeof path, "small.sbp");
    sbp_status st = sbp_net_save(net, path, &err);
    CHECK(st == SBP_OK, "save %s: %s", path, err.msg);
    sbp_net *back = NULL;
    st = sbp_net_load(&back, path, &err);
    CHECK(st == SBP_OK, "load %s: %s", path, err.msg);
    if (st == SBP_OK) {
        compare_nets("round trip", net, back);
        static const char *const keys[] = {"timesteps", "data", "note", "k_9"};
        for (size_t i = 0; i < 4; i++) {
            const char *va = sbp_net_get_meta(net, keys[i]), *vb = sbp_net_get_meta(back, keys[i]);
            CHECK(va && vb && strcmp(va, vb) == 0, "meta %s: '%s' vs '%s'", keys[i],
                  va ? va : "(null)", vb ? vb : "(null)");
        }
        CHECK(sbp_net_get_meta(back, "missing") == NULL, "a missing meta key is not NULL");
        CHECK(sbp_net_get_spec(back)->layers[2].dropout == 0.25f, "dropout not kept");

        /* load → save again gives the very same bytes */
        char path2[512];
        tpath(path2, sizeof path2, "small-again.sbp");
        CHECK(sbp_net_save(back, path2, &err) == SBP_OK, "save %s: %s", path2, err.msg);
        CHECK(files_equal(path, path2), "save(load(f)) is not byte-identical to f");
        unlink(path2);
    }
    sbp_net_free(back);
    unlink(path);

    /* the longest allowed meta value (1023 bytes) and SBP_NET_MAX_META (48) entries survive */
    char longv[1024];
    memset(longv, 'v', 1023);
    longv[1023] = '\0';
    longv[0] = '~';
    CHECK(sbp_net_set_meta(net, "long", longv, &err) == SBP_OK, "1023-byte value: %s", err.msg);
    char key[32];
    int n_extra = 0;
    for (int i = 0; i < 60; i++) {
        snprintf(key, sizeof key, "extra_%d", i);
        if (sbp_net_set_meta(net, key, "1", &err) != SBP_OK)
            break;
        n_extra++;
    }
    CHECK(n_extra == 48 - 5, "net held %d extra entries after 5, expected %d", n_extra, 48 - 5);
    CHECK(sbp_net_set_meta(net, "long", longv, &err) == SBP_OK,
          "overwriting a key when full must work: %s", err.msg);
    tpath(path, sizeof path, "full-meta.sbp");
    CHECK(sbp_net_save(net, path, &err) == SBP_OK, "save %s: %s", path, err.msg);
    back = NULL;
    st = sbp_net_load(&back, path, &err);
    CHECK(st == SBP_OK, "load %s: %s", path, err.msg);
    if (st == SBP_OK) {
        const char *v = sbp_net_get_meta(back, "long");
        CHECK(v && strcmp(v, longv) == 0, "1023-byte meta value did not survive");
        snprintf(key, sizeof key, "extra_%d", n_extra - 1);
        CHECK(sbp_net_get_meta(back, key) != NULL, "48th meta entry lost");
        compare_nets("round trip, full meta", net, back);
    }
    sbp_net_free(back);
    unlink(path);

    /* LeNet: the real network, 517 500 weights */
    sbp_net_spec spec;
    sbp_net *lenet = NULL;
    CHECK(sbp_net_spec_builtin(&spec, "lenet", &err) == SBP_OK, "builtin lenet: %s", err.msg);
    CHECK(sbp_net_create(&lenet, &spec, 3, &err) == SBP_OK, "create lenet: %s", err.msg);
    if (lenet) {
        CHECK(sbp_net_param_count(lenet) == 517500, "lenet: %zu parameters",
              sbp_net_param_count(lenet));
        tpath(path, sizeof path, "lenet.sbp");
        CHECK(sbp_net_save(lenet, path, &err) == SBP_OK, "save %s: %s", path, err.msg);
        back = NULL;
        st = sbp_net_load(&back, path, &err);
        CHECK(st == SBP_OK, "load %s: %s", path, err.msg);
        if (st == SBP_OK)
            compare_nets("lenet round trip", lenet, back);
        sbp_net_free(back);
        unlink(path);
    }
    sbp_net_free(lenet);
    sbp_net_free(net);
}

/* ---------------------------------------------------------------- atomic write */

static void test_atomic(void)
{
    char path[512], bad[512], blocker[512];
    sbp_error err = {0};
    sbp_net *a = make_small_net(1), *b = make_small_net(2);
    if (!a || !b) {
        sbp_net_free(a);
        sbp_net_free(b);
        return;
    }
    tpath(path, sizeof path, "atomic.sbp");
    CHECK(sbp_net_save(a, path, &err) == SBP_OK, "save a: %s", err.msg);
    CHECK(sbp_net_save(b, path, &err) == SBP_OK, "save b over a: %s", err.msg);
    sbp_net *back = NULL;
    CHECK(sbp_net_load(&back, path, &err) == SBP_OK, "load: %s", err.msg);
    if (back)
        compare_nets("save over an existing file", b, back);
    sbp_net_free(back);
    CHECK(count_tmp_files() == 0, "%d '*.tmp.*' files left in %s", count_tmp_files(), g_dir);
    size_t good_n;
    unsigned char *good = read_all(path, &good_n);
    CHECK(good != NULL && good_n > 0, "cannot read back %s", path);

    /* a folder that does not exist */
    tpath(bad, sizeof bad, "no/such/folder/model.sbp");
    memset(&err, 0, sizeof err);
    sbp_status st = sbp_net_save(a, bad, &err);
    CHECK(st == SBP_ERR_IO, "save into a missing folder: %d (%s), expected SBP_ERR_IO", st,
          sbp_status_string(st));
    CHECK(strstr(err.msg, bad) != NULL, "missing folder: message lacks the path: %s", err.msg);
    printf("  %-34s -> %s\n", "save into a missing folder", err.msg);

    /* a path under a regular file (ENOTDIR; chmod does not stop root) */
    tpath(blocker, sizeof blocker, "somefile");
    write_bytes(blocker, "not a folder\n", 13);
    snprintf(bad, sizeof bad, "%s/model.sbp", blocker);
    memset(&err, 0, sizeof err);
    st = sbp_net_save(a, bad, &err);
    CHECK(st == SBP_ERR_IO, "save under a regular file: %d (%s), expected SBP_ERR_IO", st,
          sbp_status_string(st));
    CHECK(strstr(err.msg, bad) != NULL, "under a file: message lacks the path: %s", err.msg);
    printf("  %-34s -> %s\n", "save under a regular file", err.msg);

    /* the target is a folder: the rename fails, the temporary must be removed */
    char folder[512];
    tpath(folder, sizeof folder, "a-folder");
    CHECK(mkdir(folder, 0700) == 0, "mkdir %s: %s", folder, strerror(errno));
    char inside[512];
    snprintf(inside, sizeof inside, "%s/keep", folder);
    write_bytes(inside, "x", 1); /* non-empty, so rename(2) cannot replace it */
    memset(&err, 0, sizeof err);
    st = sbp_net_save(a, folder, &err);
    CHECK(st == SBP_ERR_IO, "save over a folder: %d (%s), expected SBP_ERR_IO", st,
          sbp_status_string(st));
    CHECK(strstr(err.msg, folder) != NULL, "over a folder: message lacks the path: %s", err.msg);
    printf("  %-34s -> %s\n", "save over a folder", err.msg);
    unlink(inside);
    rmdir(folder);

    /* a write that fails half-way over an existing file (file size limit → EFBIG): the old
     * file must be untouched and no temporary left */
    struct rlimit old_lim, lim;
    if (getrlimit(RLIMIT_FSIZE, &old_lim) == 0) {
        void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
        lim = old_lim;
        lim.rlim_cur = 1000; /* the model is ~7.6 kB */
        if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
            memset(&err, 0, sizeof err);
            st = sbp_net_save(a, path, &err);
            setrlimit(RLIMIT_FSIZE, &old_lim);
            CHECK(st == SBP_ERR_IO, "save hitting EFBIG: %d (%s), expected SBP_ERR_IO", st,
                  sbp_status_string(st));
            CHECK(strstr(err.msg, path) != NULL, "EFBIG: message lacks the path: %s", err.msg);
            printf("  %-34s -> %s\n", "save that fails half-way", err.msg);
        } else {
            CHECK(0, "setrlimit(RLIMIT_FSIZE): %s", strerror(errno));
        }
        signal(SIGXFSZ, old_sig);
    }
    size_t now_n;
    unsigned char *now = read_all(path, &now_n);
    CHECK(good && now && now_n == good_n && memcmp(now, good, good_n) == 0,
          "a failed save changed the previous file %s", path);
    back = NULL;
    CHECK(sbp_net_load(&back, path, &err) == SBP_OK, "old file no longer loads: %s", err.msg);
    if (back)
        compare_nets("old file after failed saves", b, back);
    sbp_net_free(back);
    CHECK(count_tmp_files() == 0, "%d '*.tmp.*' files left after failed saves",
          count_tmp_files());
    free(now);
    free(good);
    unlink(blocker);
    unlink(path);
    sbp_net_free(a);
    sbp_net_free(b);
}

/* ---------------------------------------------------------------- hostile files */

/* Offsets inside a saved model file: magic (8), u32 version, u32 kind, u32 description
 * length, description, u32 tensor count, tensors, u32 CRC. */
typedef struct layout {
    size_t desc_off, desc_len; /* description text */
    size_t count_off;          /* u32 tensor count */
    size_t t0_off;             /* first tensor: u32 name length */
} layout;

static layout parse_layout(const unsigned char *b)
{
    layout L;
    L.desc_len = rd32(b + 16);
    L.desc_off = 20;
    L.count_off = L.desc_off + L.desc_len;
    L.t0_off = L.count_off + 4;
    return L;
}

/* A copy of the model `b` (n bytes) with `from` replaced by `to` (first occurrence) in its
 * description, and a valid CRC. NULL if the description lacks `from`. */
static unsigned char *edit_description(const unsigned char *b, size_t n, const char *from,
                                       const char *to, size_t *out_n)
{
    layout L = parse_layout(b);
    char *d = malloc(L.desc_len + 1);
    memcpy(d, b + L.desc_off, L.desc_len);
    d[L.desc_len] = '\0';
    char *at = strstr(d, from);
    if (!at) {
        free(d);
        return NULL;
    }
    size_t fl = strlen(from), tl = strlen(to), pre = (size_t)(at - d);
    size_t ndl = L.desc_len - fl + tl, rest = n - L.count_off;
    unsigned char *o = malloc(20 + ndl + rest);
    memcpy(o, b, 16);
    wr32(o + 16, (uint32_t)ndl);
    memcpy(o + 20, d, pre);
    memcpy(o + 20 + pre, to, tl);
    memcpy(o + 20 + pre + tl, at + fl, L.desc_len - pre - fl);
    memcpy(o + 20 + ndl, b + L.count_off, rest);
    *out_n = 20 + ndl + rest;
    fix_crc(o, *out_n);
    free(d);
    return o;
}

/* A whole model file from a description and the tensor section (count included). */
static unsigned char *build_file(const char *desc, const unsigned char *tensors, size_t tn,
                                 size_t *out_n)
{
    size_t dl = strlen(desc), n = 20 + dl + tn + 4;
    unsigned char *o = malloc(n);
    memcpy(o, "SPIKEBP\n", 8);
    wr32(o + 8, 1);
    wr32(o + 12, 1);
    wr32(o + 16, (uint32_t)dl);
    memcpy(o + 20, desc, dl);
    memcpy(o + 20 + dl, tensors, tn);
    *out_n = n;
    fix_crc(o, n);
    return o;
}

static void test_hostile(void)
{
    char src[512], path[512];
    sbp_error err = {0};
    sbp_net *net = make_small_net(11);
    if (!net)
        return;
    tpath(src, sizeof src, "good.sbp");
    CHECK(sbp_net_save(net, src, &err) == SBP_OK, "save %s: %s", src, err.msg);
    size_t n;
    unsigned char *b = read_all(src, &n);
    CHECK(b && n > 100, "cannot read %s", src);
    if (!b || n <= 100) {
        free(b);
        sbp_net_free(net);
        return;
    }
    CHECK(memcmp(b, "SPIKEBP\n", 8) == 0, "magic is not SPIKEBP\\n");
    layout L = parse_layout(b);
    CHECK(rd32(b + 8) == 1 && rd32(b + 12) == 1, "version %u kind %u, expected 1 1",
          rd32(b + 8), rd32(b + 12));
    CHECK(L.count_off + 4 <= n && rd32(b + L.count_off) == 4, "tensor count %u, expected 4",
          L.count_off + 4 <= n ? rd32(b + L.count_off) : 0);
    CHECK(rd32(b + n - 4) == (uint32_t)crc32(0L, b, (uInt)(n - 4)),
          "stored CRC does not match zlib's crc32 of the preceding bytes");

    tpath(path, sizeof path, "hostile.sbp");

    write_bytes(path, "", 0);
    expect_load_fail("empty file", path);
    write_bytes(path, "SPIKEBP\n", 8);
    expect_load_fail("only the magic", path);
    write_bytes(path, "SPIKEBP", 7);
    expect_load_fail("7 bytes of the magic", path);

    /* truncated copies: the first 40 lengths, then 97 lengths spread over the file */
    g_quiet_fail_print = 1;
    int trunc_ok = 0, trunc_n = 0;
    for (size_t len = 0; len < 40; len++, trunc_n++) {
        write_bytes(path, b, len);
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu bytes", len);
        trunc_ok += expect_load_fail(what, path);
    }
    for (int k = 0; k < 97; k++, trunc_n++) {
        size_t len = 40 + (size_t)((double)k / 97.0 * (double)(n - 40));
        if (k == 96)
            len = n - 1;
        write_bytes(path, b, len);
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", len, n);
        trunc_ok += expect_load_fail(what, path);
    }
    g_quiet_fail_print = 0;
    printf("  %-34s -> %d/%d rejected\n", "truncated copies", trunc_ok, trunc_n);

    /* every single-byte flip at ~200 positions (including the CRC itself) */
    g_quiet_fail_print = 1;
    unsigned char *c = malloc(n);
    int flip_ok = 0, flip_n = 0;
    for (int k = 0; k < 200; k++) {
        size_t pos = (size_t)((double)k / 199.0 * (double)(n - 1));
        static const unsigned char masks[] = {0x01, 0x80, 0xff, 0x10, 0x24};
        memcpy(c, b, n);
        c[pos] ^= masks[k % 5];
        write_bytes(path, c, n);
        char what[64];
        snprintf(what, sizeof what, "byte %zu xor 0x%02x", pos, masks[k % 5]);
        flip_ok += expect_load_fail(what, path);
        flip_n++;
    }
    g_quiet_fail_print = 0;
    printf("  %-34s -> %d/%d rejected\n", "single-byte flips", flip_ok, flip_n);

    /* a trailing byte appended (CRC then no longer last) */
    memcpy(c, b, n);
    {
        unsigned char *e = malloc(n + 1);
        memcpy(e, b, n);
        e[n] = 0;
        write_bytes(path, e, n + 1);
        expect_load_fail("one byte appended", path);
        free(e);
    }

    /* valid CRC, wrong version / kind */
    memcpy(c, b, n);
    wr32(c + 8, 2);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("version 2 (valid CRC)", path);
    memcpy(c, b, n);
    wr32(c + 12, 7);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("kind 7 (valid CRC)", path);
    /* description length beyond the file, and zero */
    memcpy(c, b, n);
    wr32(c + 16, (uint32_t)n);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("description length > file", path);
    memcpy(c, b, n);
    wr32(c + 16, 0xffffffffu);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("description length 2^32-1", path);
    /* a NUL inside the description */
    memcpy(c, b, n);
    c[L.desc_off + 3] = 0;
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("NUL in the description", path);

    /* valid CRC over a corrupted description */
    {
        char *d = malloc(L.desc_len + 1);
        memcpy(d, b + L.desc_off, L.desc_len);
        d[L.desc_len] = '\0';
        printf("  description of the small net:\n");
        for (char *s = d; *s;) {
            char *e = strchr(s, '\n');
            printf("    | %.*s\n", (int)(e ? e - s : (long)strlen(s)), s);
            s = e ? e + 1 : s + strlen(s);
        }
        static const struct {
            const char *what, *from, *to;
        } edits[] = {
            {"unknown layer kind", "layer pool", "layer blend"},
            {"conv out=-3", "layer conv out=6", "layer conv out=-3"},
            {"conv kernel=0", "kernel=5", "kernel=0"},
            {"conv stride=0", "stride=2", "stride=0"},
            {"conv pad >= kernel", "pad=2", "pad=9"},
            {"dense out=0", "layer dense out=16", "layer dense out=0"},
            {"output not last", "layer output", "layer dense"},
            {"dropout 1", "dropout=0.25", "dropout=1"},
            {"dropout nan", "dropout=0.25", "dropout=nan"},
            {"dropout on pool", "layer pool out=0 kernel=0 stride=0 pad=0 dropout=0",
             "layer pool out=0 kernel=0 stride=0 pad=0 dropout=0.5"},
            {"extra field", "dropout=0.25", "dropout=0.25 bias=1"},
            {"missing field", " dropout=0.25", ""},
            {"missing input line", "input 1 12 12\n", ""},
            {"missing neuron line", "neuron ", "neutron "},
            {"input with 2 numbers", "input 1 12 12", "input 12 12"},
            {"input 0 channels", "input 1 12 12", "input 0 12 12"},
            {"input trailing junk", "input 1 12 12", "input 1 12 12 x"},
            {"leak 0", "leak=0.949999988", "leak=0"},
            {"leak nan", "leak=0.949999988", "leak=nan"},
            {"vth -1", "vth=1 ", "vth=-1 "},
            {"unknown line", "input 1 12 12\n", "input 1 12 12\nbias yes\n"},
            {"bad meta key", "meta k_9 x", "meta K-9 x"},
            {"input shape changes tensors", "input 1 12 12", "input 1 14 14"},
            {"wider conv (tensor shape)", "layer conv out=8", "layer conv out=9"},
            {"one layer fewer", "layer dense out=16 kernel=0 stride=0 pad=0 dropout=0.100000001\n",
             ""},
        };
        for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
            size_t on;
            unsigned char *o = edit_description(b, n, edits[i].from, edits[i].to, &on);
            CHECK(o != NULL, "%s: the description lacks '%s'", edits[i].what, edits[i].from);
            if (!o)
                continue;
            write_bytes(path, o, on);
            char what[96];
            snprintf(what, sizeof what, "desc: %s", edits[i].what);
            expect_load_fail(what, path);
            free(o);
        }
        free(d);
    }

    /* trailing bytes after the last tensor (CRC rebuilt) */
    {
        unsigned char *e = malloc(n + 8);
        memcpy(e, b, n - 4);
        memset(e + n - 4, 0, 8);
        fix_crc(e, n + 4);
        write_bytes(path, e, n + 4);
        expect_load_fail("8 bytes after the last tensor", path);
        /* a tensor missing at the end (last tensor cut, CRC rebuilt) */
        size_t cut = 4 * 64 + 4; /* part of the output layer's data */
        memcpy(e, b, n - 4 - cut);
        fix_crc(e, n - cut);
        write_bytes(path, e, n - cut);
        expect_load_fail("last tensor short (valid CRC)", path);
        free(e);
    }

    /* tensor header: name, dtype, rank, shape (CRC rebuilt each time) */
    size_t t0 = L.t0_off;
    uint32_t nl = rd32(b + t0);
    CHECK(nl == strlen("layer0.conv.weight") && memcmp(b + t0 + 4, "layer0.conv.weight", nl) == 0,
          "first tensor is not 'layer0.conv.weight' (name length %u)", nl);
    size_t dtype_off = t0 + 4 + nl, ndim_off = dtype_off + 4, dims_off = ndim_off + 4;
    CHECK(rd32(b + dtype_off) == 0 && rd32(b + ndim_off) == 4 && rd32(b + dims_off) == 6 &&
              rd32(b + dims_off + 4) == 1 && rd32(b + dims_off + 8) == 5 &&
              rd32(b + dims_off + 12) == 5,
          "first tensor header is not f32 (6,1,5,5)");
    memcpy(c, b, n);
    c[t0 + 4 + 6] = '9'; /* layer0 → layer9 */
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor name layer9.conv.weight", path);
    memcpy(c, b, n);
    wr32(c + t0, 200);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor name length 200", path);
    memcpy(c, b, n);
    wr32(c + t0, 0xffffffffu);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor name length 2^32-1", path);
    memcpy(c, b, n);
    wr32(c + dtype_off, 1);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor dtype 1", path);
    memcpy(c, b, n);
    wr32(c + ndim_off, 0);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor rank 0", path);
    memcpy(c, b, n);
    wr32(c + ndim_off, 9);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor rank 9", path);
    memcpy(c, b, n);
    wr32(c + dims_off, 5); /* (5,1,5,5): 25 weights fewer */
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor shape (5,1,5,5)", path);
    memcpy(c, b, n);
    wr32(c + dims_off + 8, 3); /* (6,1,3,5) */
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor shape (6,1,3,5)", path);
    memcpy(c, b, n);
    wr32(c + dims_off + 8, 0x80000001u); /* elems overflow tricks */
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor dim 2^31+1", path);
    /* same element count, wrong shape: (6,5,5,1) and (6,25,1,1) instead of (6,1,5,5) */
    memcpy(c, b, n);
    wr32(c + dims_off + 4, 5);
    wr32(c + dims_off + 8, 5);
    wr32(c + dims_off + 12, 1);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor shape (6,5,5,1), same count", path);
    memcpy(c, b, n);
    wr32(c + dims_off + 4, 25);
    wr32(c + dims_off + 8, 1);
    wr32(c + dims_off + 12, 1);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor shape (6,25,1,1), same count", path);
    memcpy(c, b, n);
    wr32(c + L.count_off, 5);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor count 5", path);
    memcpy(c, b, n);
    wr32(c + L.count_off, 0);
    fix_crc(c, n);
    write_bytes(path, c, n);
    expect_load_fail("tensor count 0", path);

    /* hand-built files whose sizes overflow 32-bit arithmetic: a 65536×65536 input gives
     * fan_in = 2^32 for the output layer; a 65537×65537 kernel gives k·k = 2^32 + 131073 */
    {
        size_t fn;
        unsigned char zero[4] = {0, 0, 0, 0};
        unsigned char *f = build_file(
            "input 1 65536 65536\nneuron leak=0.99 vth=1 vth_pool=0.75 init_gain=2\n"
            "layer output out=10 kernel=0 stride=0 pad=0 dropout=0\n",
            zero, 4, &fn);
        write_bytes(path, f, fn);
        expect_load_fail("65536x65536 input, no tensors", path);
        free(f);
    }

    /* foreign files, a folder, a missing path */
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0,
                                        13,   'I', 'H', 'D', 'R', 0,    0,    0,    1, 0, 0,
                                        0,    1,   8,   2,   0,   0,    0,    0x90, 0x77, 0x53,
                                        0xde};
    tpath(path, sizeof path, "image.png");
    write_bytes(path, png, sizeof png);
    expect_load_fail("a PNG file", path);
    unlink(path);
    tpath(path, sizeof path, "notes.txt");
    static const char text[] = "SPIKEBP is a library.\nThis is a text file, not a model.\n";
    write_bytes(path, text, sizeof text - 1);
    expect_load_fail("a text file", path);
    unlink(path);
    expect_load_fail("a folder", g_dir);
    tpath(path, sizeof path, "does-not-exist.sbp");
    expect_load_fail("a missing file", path);

    tpath(path, sizeof path, "hostile.sbp");
    unlink(path);
    unlink(src);
    free(c);
    free(b);
    sbp_net_free(net);
}

/* ---------------------------------------------------------------- metadata and notation */

static void test_meta_validation(void)
{
    sbp_error err = {0};
    sbp_net *net = make_small_net(5);
    if (!net)
        return;
    static const char *const bad_keys[] = {"", "Bad", "a-b", "a b", "a.b", "key\n", "ключ",
                                           "0123456789012345678901234567890x" /* 32 */};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        memset(&err, 0, sizeof err);
        sbp_status st = sbp_net_set_meta(net, bad_keys[i], "v", &err);
        CHECK(st == SBP_ERR_INVALID_ARG, "set_meta key '%s': %d, expected INVALID_ARG",
              bad_keys[i], st);
        CHECK(err.status == st && err.msg[0] != '\0', "set_meta key '%s': no message",
              bad_keys[i]);
    }
    CHECK(sbp_net_set_meta(net, "0123456789012345678901234567890", "v", &err) == SBP_OK,
          "31-character key rejected: %s", err.msg);
    char v1024[1025];
    memset(v1024, 'a', 1024);
    v1024[1024] = '\0';
    memset(&err, 0, sizeof err);
    CHECK(sbp_net_set_meta(net, "long", v1024, &err) == SBP_ERR_INVALID_ARG,
          "1024-byte value accepted");
    v1024[1023] = '\0';
    CHECK(sbp_net_set_meta(net, "long_ok", v1024, &err) == SBP_OK, "1023-byte value rejected");
    CHECK(sbp_net_set_meta(net, "nl", "two\nlines", &err) == SBP_ERR_INVALID_ARG,
          "value with a newline accepted");
    CHECK(sbp_net_set_meta(net, "cr", "a\rb", &err) == SBP_ERR_INVALID_ARG,
          "value with a carriage return accepted");
    CHECK(sbp_net_set_meta(net, "tab", "a\tb", &err) == SBP_ERR_INVALID_ARG,
          "value with a tab accepted");
    CHECK(sbp_net_get_meta(net, "long") == NULL && sbp_net_get_meta(net, "nl") == NULL,
          "a rejected entry was stored");
    /* overwrite keeps one entry */
    CHECK(sbp_net_set_meta(net, "data", "fashion-mnist", &err) == SBP_OK, "overwrite: %s",
          err.msg);
    const char *v = sbp_net_get_meta(net, "data");
    CHECK(v && strcmp(v, "fashion-mnist") == 0, "overwrite gave '%s'", v ? v : "(null)");
    /* an empty value is allowed and round-trips; so do leading and trailing spaces (the
     * values are "printable without newlines") */
    CHECK(sbp_net_set_meta(net, "empty", "", &err) == SBP_OK, "empty value: %s", err.msg);
    CHECK(sbp_net_set_meta(net, "spaced", "  two leading, one trailing ", &err) == SBP_OK,
          "spaced value: %s", err.msg);
    char path[512];
    tpath(path, sizeof path, "meta.sbp");
    CHECK(sbp_net_save(net, path, &err) == SBP_OK, "save: %s", err.msg);
    sbp_net *back = NULL;
    CHECK(sbp_net_load(&back, path, &err) == SBP_OK, "load: %s", err.msg);
    if (back) {
        v = sbp_net_get_meta(back, "empty");
        CHECK(v && v[0] == '\0', "empty meta value came back as %s", v ? v : "(null)");
        v = sbp_net_get_meta(back, "data");
        CHECK(v && strcmp(v, "fashion-mnist") == 0, "data came back as '%s'", v ? v : "(null)");
        v = sbp_net_get_meta(back, "spaced");
        CHECK(v && strcmp(v, "  two leading, one trailing ") == 0,
              "meta value '  two leading, one trailing ' came back as '%s'", v ? v : "(null)");
    }
    sbp_net_free(back);
    unlink(path);
    sbp_net_free(net);
}

static void test_notation(void)
{
    sbp_error err = {0};
    sbp_net_spec spec;
    static const char *const bad[] = {
        "28x28x1-20C5-P3-10", "28x28-10",         "28x28x1-20C5", "",
        "28x28x1-10-20FC",    "28x28x1",          "28x28x0-10",   "28x28x1-20C0-10",
        "28x28x1-20C5/0-10",  "28x28x1-C5-10",    "28x28x1--10",  "28x28x1-20c5-10",
        "28x28x1-20FC5-10",   "28x28x1-P2-10-",   "28x28x1-0-",   "x28x1-10",
        "28x28x1-20C5-10 ",   "28x28x1-99999999999-10",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        sbp_status st = sbp_net_spec_parse(&spec, bad[i], &err);
        CHECK(st == SBP_ERR_INVALID_ARG, "parse '%s': %d (%s), expected INVALID_ARG", bad[i], st,
              sbp_status_string(st));
        if (st != SBP_OK)
            CHECK(err.status == st && err.msg[0] != '\0', "parse '%s': no message", bad[i]);
        printf("  %-34s -> %s\n", bad[i][0] ? bad[i] : "(empty)", err.msg);
    }
    memset(&err, 0, sizeof err);
    CHECK(sbp_net_spec_builtin(&spec, "resnet", &err) == SBP_ERR_INVALID_ARG,
          "unknown built-in accepted");

    static const char *const good[] = {
        "28x28x1-20C5-P2-50C5/2-P2-200FC-10", "28x28x1-20C5-P2-50C5-P2-200FC-10",
        SMALL_NET, "32x32x3-64C3-64C3-P2-128C3-P2-1024FC-10", "4x4x1-2",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        memset(&err, 0, sizeof err);
        sbp_status st = sbp_net_spec_parse(&spec, good[i], &err);
        CHECK(st == SBP_OK, "parse '%s': %s", good[i], err.msg);
        if (st != SBP_OK)
            continue;
        char buf[256];
        st = sbp_net_spec_format(&spec, buf, sizeof buf, &err);
        CHECK(st == SBP_OK && strcmp(buf, good[i]) == 0, "format(parse('%s')) = '%s' (%s)",
              good[i], st == SBP_OK ? buf : "", st == SBP_OK ? "" : err.msg);
        CHECK(spec.leak == 0.99f && spec.vth == 1.0f && spec.vth_pool == 0.75f,
              "'%s': neuron constants not the §1 defaults", good[i]);
    }
    /* field values of the example */
    CHECK(sbp_net_spec_parse(&spec, "28x28x1-20C5-P2-50C5/2-P2-200FC-10", &err) == SBP_OK,
          "parse: %s", err.msg);
    CHECK(spec.in_h == 28 && spec.in_w == 28 && spec.in_c == 1 && spec.n_layers == 6,
          "input/layers wrong");
    CHECK(spec.layers[0].kind == SBP_LAYER_CONV && spec.layers[0].out == 20 &&
              spec.layers[0].kernel == 5 && spec.layers[0].stride == 1 && spec.layers[0].pad == 2,
          "20C5 parsed wrong");
    CHECK(spec.layers[2].kind == SBP_LAYER_CONV && spec.layers[2].stride == 2 &&
              spec.layers[2].pad == 2,
          "50C5/2 parsed wrong");
    CHECK(spec.layers[1].kind == SBP_LAYER_POOL && spec.layers[4].kind == SBP_LAYER_DENSE &&
              spec.layers[4].out == 200 && spec.layers[5].kind == SBP_LAYER_OUTPUT &&
              spec.layers[5].out == 10,
          "P2/200FC/10 parsed wrong");
    /* format: too small a buffer, and a padding the notation cannot express */
    char tiny[12];
    memset(&err, 0, sizeof err);
    CHECK(sbp_net_spec_format(&spec, tiny, sizeof tiny, &err) == SBP_ERR_INVALID_ARG,
          "format into 12 bytes did not fail");
    spec.layers[0].pad = 0;
    char buf[256];
    memset(&err, 0, sizeof err);
    sbp_status st = sbp_net_spec_format(&spec, buf, sizeof buf, &err);
    CHECK(st != SBP_OK, "format of a conv with pad 0, k 5 succeeded: '%s'", buf);

    /* parameter counts of LeNet by name and by notation */
    sbp_net *a = NULL, *b2 = NULL;
    sbp_net_spec sa, sb;
    CHECK(sbp_net_spec_builtin(&sa, "lenet", &err) == SBP_OK, "lenet: %s", err.msg);
    CHECK(sbp_net_spec_parse(&sb, "28x28x1-20C5-P2-50C5-P2-200FC-10", &err) == SBP_OK,
          "lenet notation: %s", err.msg);
    CHECK(sbp_net_create(&a, &sa, 1, &err) == SBP_OK && sbp_net_create(&b2, &sb, 1, &err) == SBP_OK,
          "create lenet: %s", err.msg);
    if (a && b2) {
        CHECK(sbp_net_param_count(a) == 517500 && sbp_net_param_count(b2) == 517500,
              "lenet parameters %zu / %zu, expected 517500", sbp_net_param_count(a),
              sbp_net_param_count(b2));
        compare_nets("lenet by name vs notation (same seed)", a, b2);
    }
    sbp_net_free(a);
    sbp_net_free(b2);

    /* sizes whose products overflow int: creation must fail or count correctly */
    static const struct {
        const char *notation;
        double params;
    } huge[] = {
        {"65536x65536x1-10", 10.0 * 65536.0 * 65536.0},
        {"1x1x1-1C65537-10", 65537.0 * 65537.0 + 10.0},
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        sbp_net *h = NULL;
        memset(&err, 0, sizeof err);
        if (sbp_net_spec_parse(&spec, huge[i].notation, &err) != SBP_OK) {
            printf("  %-34s -> %s\n", huge[i].notation, err.msg); /* rejected early: fine */
            continue;
        }
        st = sbp_net_create(&h, &spec, 1, &err);
        if (st == SBP_OK) {
            CHECK((double)sbp_net_param_count(h) == huge[i].params,
                  "%s: created with %zu parameters, the network has %.0f (int overflow)",
                  huge[i].notation, sbp_net_param_count(h), huge[i].params);
            sbp_net_free(h);
        } else {
            CHECK(h == NULL && err.msg[0] != '\0', "%s: failure without message", huge[i].notation);
            printf("  %-34s -> %s\n", huge[i].notation, err.msg);
        }
    }
}

/* ---------------------------------------------------------------- garbage (issue 10) */

/* Saves net to path, then expects its load to fail with a message containing `needle`. */
static void expect_garbage(const char *what, sbp_net *net, const char *path, const char *needle)
{
    sbp_error err = {0};
    CHECK(sbp_net_save(net, path, &err) == SBP_OK, "%s: save: %s", what, err.msg);
    sbp_net *back = NULL;
    sbp_status st = sbp_net_load(&back, path, &err);
    CHECK(st == SBP_ERR_FORMAT && back == NULL, "%s: loaded (status %d), expected a format error",
          what, st);
    CHECK(strstr(err.msg, path) && strstr(err.msg, needle), "%s: message lacks '%s': %s", what,
          needle, err.msg);
    sbp_net_free(back);
    unlink(path);
}

/* A model whose tensors hold NaN/Inf, whose metadata spikebp reads back is out of range or not
 * a number, or whose description repeats a line or holds non-finite constants, is refused —
 * never used as if it were fine, never "corrected". */
static void test_garbage(void)
{
    char path[512];
    tpath(path, sizeof path, "garbage.sbp");
    sbp_error err = {0};
    /* non-finite weights: first, middle and last element of a tensor, in each tensor */
    static const float bad_values[] = {NAN, INFINITY, -INFINITY};
    static const char *const bad_names[] = {"NaN", "infinite", "infinite"};
    for (int layer = 0; layer < 5; layer++) {
        for (int k = 0; k < 3; k++) {
            sbp_net *net = make_small_net(21);
            if (!net)
                return;
            size_t count;
            float *w = sbp_net_layer_weights(net, layer, &count);
            if (!w) { /* the pooling layer */
                sbp_net_free(net);
                break;
            }
            size_t at = k == 0 ? 0 : k == 1 ? count / 2 : count - 1;
            w[at] = bad_values[k];
            char what[64];
            snprintf(what, sizeof what, "layer %d element %zu = %s", layer, at, bad_names[k]);
            expect_garbage(what, net, path, bad_names[k]);
            sbp_net_free(net);
        }
    }
    /* metadata spikebp reads: each out of range, not a number, or not whole */
    static const char *const meta[][2] = {
        {"timesteps", "abc"},  {"timesteps", "0"},    {"timesteps", "100001"},
        {"timesteps", "1.5"},  {"timesteps", "nan"},  {"timesteps", "20x"},
        {"timesteps", ""},     {"epochs", "-1"},      {"epochs", "inf"},
        {"test_accuracy", "1.5"}, {"test_accuracy", "nan"}, {"val_accuracy", "-0.1"},
        {"backward", "sideways"}, {"data", ""},
    };
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
        sbp_net *net = make_small_net(22);
        if (!net)
            return;
        CHECK(sbp_net_set_meta(net, meta[i][0], meta[i][1], &err) == SBP_OK, "set %s: %s",
              meta[i][0], err.msg);
        char what[96];
        snprintf(what, sizeof what, "metadata %s = '%s'", meta[i][0], meta[i][1]);
        expect_garbage(what, net, path, meta[i][0]);
        sbp_net_free(net);
    }
    /* the same keys in range load (the boundaries included) */
    static const char *const good[][2] = {
        {"timesteps", "1"}, {"timesteps", "100000"}, {"epochs", "1"}, {"test_accuracy", "0"},
        {"test_accuracy", "1"}, {"val_accuracy", "0.5"}, {"backward", "aggregate"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        sbp_net *net = make_small_net(23), *back = NULL;
        if (!net)
            return;
        CHECK(sbp_net_set_meta(net, good[i][0], good[i][1], &err) == SBP_OK &&
                  sbp_net_save(net, path, &err) == SBP_OK &&
                  sbp_net_load(&back, path, &err) == SBP_OK,
              "metadata %s = '%s' refused: %s", good[i][0], good[i][1], err.msg);
        sbp_net_free(back);
        sbp_net_free(net);
        unlink(path);
    }
    /* descriptions: repeated lines and keys, non-finite constants (valid CRC each time) */
    sbp_net *net = make_small_net(24);
    if (!net)
        return;
    CHECK(sbp_net_save(net, path, &err) == SBP_OK, "save: %s", err.msg);
    sbp_net_free(net);
    size_t n;
    unsigned char *b = read_all(path, &n);
    if (!b)
        return;
    static const struct {
        const char *from, *to, *needle;
    } edits[] = {
        {"meta data mnist\n", "meta data mnist\nmeta data cifar10\n", "given twice"},
        {"meta timesteps 20\n", "meta timesteps 20\nmeta timesteps 30\n", "given twice"},
        {"neuron ", "neuron leak=1 vth=1 vth_pool=0.75 init_gain=2\nneuron ", "second neuron"},
        {"input ", "input 1 12 12\ninput ", "second input"},
        {"vth=1 ", "vth=inf ", "not finite"},
        {"vth=1 ", "vth=nan ", "not finite"},
        {"init_gain=", "init_gain=-", "out of range"},
        {"dropout=0.25", "dropout=nan", "not a finite"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        size_t on;
        unsigned char *o = edit_description(b, n, edits[i].from, edits[i].to, &on);
        CHECK(o != NULL, "description lacks '%s'", edits[i].from);
        if (!o)
            continue;
        write_bytes(path, o, on);
        free(o);
        sbp_net *back = NULL;
        sbp_status st = sbp_net_load(&back, path, &err);
        CHECK(st == SBP_ERR_FORMAT && !back, "description edit '%s' → '%s' loaded", edits[i].from,
              edits[i].to);
        CHECK(strstr(err.msg, edits[i].needle) != NULL, "edit '%s': message lacks '%s': %s",
              edits[i].to, edits[i].needle, err.msg);
        sbp_net_free(back);
    }
    free(b);
    unlink(path);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/sbp-test-model-XXXXXX",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) {
        CHECK(0, "mkdtemp %s: %s", g_dir, strerror(errno));
        return check_finish("model");
    }
    printf("round trip\n");
    test_round_trip();
    printf("atomic write\n");
    test_atomic();
    printf("hostile files\n");
    test_hostile();
    printf("metadata\n");
    test_meta_validation();
    printf("notation\n");
    test_notation();
    printf("garbage\n");
    test_garbage();
    /* every test removes its files: anything left is a leak of the tests or of the library */
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char left[512];
    while (d && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        CHECK(0, "file left in the test folder: %s", e->d_name);
        unlink(tpath(left, sizeof left, e->d_name));
    }
    if (d)
        closedir(d);
    int rc = rmdir(g_dir);
    CHECK(rc == 0, "cannot remove %s", g_dir);
    return check_finish("model");
}
