/*
 * test_file.c — the atomic-write helper (src/core/file.c) on its own: content and mode of the
 * written file, and every failure (the writer's own error, a write that fails half-way, a
 * missing folder, a target that is a folder, a failing name-based writer) must return its
 * status with a message naming the path, leave a previous file byte for byte as it was, and
 * leave no "PATH.tmp.*" behind.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/error.h"
#include "core/file.h"

static char dir[256];

static int count_tmp(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

/* The whole file as a string (up to 4 kB); "" if missing. */
static const char *contents(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

typedef struct text {
    const char *s;
    size_t repeat;
} text;

static sbp_status put_text(FILE *f, void *ctx, sbp_error *err)
{
    const text *t = ctx;
    for (size_t i = 0; i < t->repeat; i++)
        fputs(t->s, f);
    return SBP_OK;
}

static sbp_status refuse(FILE *f, void *ctx, sbp_error *err)
{
    fputs("half of it", f);
    return sbp_fail(err, SBP_ERR_FORMAT, "writer: refused after writing a little");
}

static sbp_status by_name(const char *tmp, void *ctx, sbp_error *err)
{
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return sbp_fail(err, SBP_ERR_IO, "%s: %s", tmp, strerror(errno));
    fputs((const char *)ctx, f);
    fclose(f);
    return SBP_OK;
}

static sbp_status by_name_fails(const char *tmp, void *ctx, sbp_error *err)
{
    by_name(tmp, "partial", err);
    return sbp_fail(err, SBP_ERR_NOMEM, "name writer: out of memory half-way");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/sbp-test-file-XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cannot create a temporary folder: %s\n", strerror(errno));
        return 1;
    }
    char path[512], got[4096];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    sbp_error err = {0};

    /* writing and replacing */
    text a = {"first\n", 1}, b = {"second\n", 2};
    CHECK(sbp_write_atomic(path, put_text, &a, &err) == SBP_OK, "write: %s", err.msg);
    CHECK(!strcmp(contents(path, got, sizeof got), "first\n"), "content '%s'", got);
    CHECK(sbp_write_atomic(path, put_text, &b, &err) == SBP_OK, "replace: %s", err.msg);
    CHECK(!strcmp(contents(path, got, sizeof got), "second\nsecond\n"), "replaced '%s'", got);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644, "mode %o, expected 644",
          (unsigned)(sb.st_mode & 0777));
    CHECK(count_tmp() == 0, "temporaries left after writes: %d", count_tmp());

    /* the writer's own failure: its status and message, old file intact */
    memset(&err, 0, sizeof err);
    sbp_status st = sbp_write_atomic(path, refuse, NULL, &err);
    CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "refused"), "refusing writer: %d '%s'", st,
          err.msg);
    CHECK(!strcmp(contents(path, got, sizeof got), "second\nsecond\n"),
          "a refused write changed the file: '%s'", got);

    /* a write that fails half-way (file size limit: EFBIG) */
    struct rlimit old_lim, lim;
    if (getrlimit(RLIMIT_FSIZE, &old_lim) == 0) {
        void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
        lim = old_lim;
        lim.rlim_cur = 1000;
        text big = {"0123456789abcdef", 100000}; /* 1.6 MB, past stdio's buffer */
        if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
            memset(&err, 0, sizeof err);
            st = sbp_write_atomic(path, put_text, &big, &err);
            setrlimit(RLIMIT_FSIZE, &old_lim);
            CHECK(st == SBP_ERR_IO && strstr(err.msg, path) && strstr(err.msg, "File too large") &&
                      strstr(err.msg, "untouched"),
                  "EFBIG: %d '%s'", st, err.msg);
            printf("  %-26s -> %s\n", "write that fails half-way", err.msg);
        } else {
            CHECK(0, "setrlimit(RLIMIT_FSIZE): %s", strerror(errno));
        }
        signal(SIGXFSZ, old_sig);
    }
    CHECK(!strcmp(contents(path, got, sizeof got), "second\nsecond\n"),
          "a failed write changed the file: '%s'", got);

    /* a missing folder, and a target that is a folder (the rename fails) */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/out.txt", dir);
    memset(&err, 0, sizeof err);
    st = sbp_write_atomic(bad, put_text, &a, &err);
    CHECK(st == SBP_ERR_IO && strstr(err.msg, bad) && strstr(err.msg, "No such file"),
          "missing folder: %d '%s'", st, err.msg);
    snprintf(bad, sizeof bad, "%s/sub", dir);
    char inside[700];
    snprintf(inside, sizeof inside, "%s/keep", bad);
    CHECK(mkdir(bad, 0700) == 0, "mkdir %s", bad);
    FILE *f = fopen(inside, "w"); /* non-empty, so rename(2) cannot replace it */
    if (f) {
        fputs("x", f);
        fclose(f);
    }
    memset(&err, 0, sizeof err);
    st = sbp_write_atomic(bad, put_text, &a, &err);
    CHECK(st == SBP_ERR_IO && strstr(err.msg, bad) && strstr(err.msg, "write failed"),
          "over a folder: %d '%s'", st, err.msg);
    printf("  %-26s -> %s\n", "over a folder", err.msg);

    /* the name-based form (libzip's way) */
    CHECK(sbp_write_atomic_path(path, by_name, "third\n", &err) == SBP_OK, "by name: %s",
          err.msg);
    CHECK(!strcmp(contents(path, got, sizeof got), "third\n"), "by name: '%s'", got);
    memset(&err, 0, sizeof err);
    st = sbp_write_atomic_path(path, by_name_fails, NULL, &err);
    CHECK(st == SBP_ERR_NOMEM && strstr(err.msg, "half-way"), "failing name writer: %d '%s'", st,
          err.msg);
    CHECK(!strcmp(contents(path, got, sizeof got), "third\n"),
          "a failed name-based write changed the file: '%s'", got);
    CHECK(count_tmp() == 0, "temporaries left after the failures: %d", count_tmp());

    unlink(inside);
    rmdir(bad);
    unlink(path);
    CHECK(rmdir(dir) == 0, "the test folder holds something unexpected: %s", strerror(errno));
    return check_finish("file");
}
