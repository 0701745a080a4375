/*
 * test_alloc.c — injected allocation failures: every allocation the library makes on the
 * paths below is made to fail in turn (the N-th malloc/calloc/realloc, N = 1, 2, …), and each
 * run must end in a clean error (SBP_ERR_NOMEM, or another status with a message), never a
 * crash, and — under `make test-sanitize` — without a leak. The library's own calls are
 * redirected here with the linker's --wrap (CMakeLists.txt); allocations inside libc,
 * OpenBLAS and libgomp are not affected.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "data/dataset.h"
#include "net/net.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);

static long alloc_count, fail_at; /* test-process state: which allocation fails (0: none) */

static int should_fail(void)
{
    return ++alloc_count == fail_at;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    return should_fail() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

/* One scenario: build a small net, save it, load it back, load data, train a batch, evaluate. */
static sbp_status scenario(const char *dir, sbp_error *err)
{
    sbp_net_spec spec;
    sbp_net *net = NULL, *back = NULL;
    sbp_dataset *ds = NULL;
    sbp_trainer *tr = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/m.sbp", dir);
    sbp_status st = sbp_net_spec_parse(&spec, "8x8x1-4C3-4C3-P2-6FC-4", err);
    if (st == SBP_OK) {
        spec.layers[1].shortcut = SBP_SHORTCUT_IDENTITY;
        spec.layers[1].shortcut_from = 0;
        spec.layers[3].dropout = 0.2f;
        st = sbp_net_create(&net, &spec, 1, err);
    }
    if (st == SBP_OK)
        st = sbp_net_set_meta(net, "data", "synthetic", err);
    if (st == SBP_OK)
        st = sbp_net_save(net, path, err);
    if (st == SBP_OK)
        st = sbp_net_load(&back, path, err);
    if (st == SBP_OK)
        st = sbp_dataset_alloc(&ds, 16, 1, 8, 8, 4, err);
    for (size_t i = 0; st == SBP_OK && i < 16 * 64; i++)
        ds->pixels[i] = (uint8_t)(i * 37);
    for (int b = 0; st == SBP_OK && b < SBP_BACKWARD_COUNT; b++) {
        sbp_train_opts o;
        sbp_train_opts_default(&o);
        o.timesteps = 6;
        o.batch = 8;
        o.backward = (sbp_backward)b;
        o.threads = 2;
        st = sbp_trainer_create(&tr, back, ds, &o, err);
        sbp_batch_result r;
        if (st == SBP_OK)
            st = sbp_trainer_step(tr, &r, err);
        sbp_trainer_free(tr);
        tr = NULL;
    }
    if (st == SBP_OK) {
        sbp_eval_opts eo;
        sbp_eval_opts_default(&eo);
        eo.timesteps = 6;
        eo.threads = 2;
        sbp_eval_result er;
        st = sbp_eval(back, ds, &eo, &er, err);
        sbp_evaluator *ev = NULL;
        if (st == SBP_OK)
            st = sbp_evaluator_create(&ev, back, &eo, err);
        if (st == SBP_OK)
            st = sbp_evaluator_eval(ev, ds, &er, err);
        sbp_evaluator_free(ev);
    }
    sbp_dataset_free(ds);
    sbp_net_free(back);
    sbp_net_free(net);
    return st;
}

int main(void)
{
    char dir[] = "/tmp/sbp-alloc-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    sbp_error err = {0};
    fail_at = 0;
    alloc_count = 0;
    CHECK(scenario(dir, &err) == SBP_OK, "scenario without failures: %s", err.msg);
    const long total = alloc_count;
    CHECK(total > 10, "only %ld allocations counted — is --wrap in effect?", total);
    int nomem = 0;
    for (long n = 1; n <= total; n++) {
        memset(&err, 0, sizeof err);
        alloc_count = 0;
        fail_at = n;
        sbp_status st = scenario(dir, &err);
        fail_at = 0;
        CHECK(st != SBP_OK, "allocation %ld of %ld failed but the scenario succeeded", n, total);
        CHECK(err.status == st && err.msg[0], "allocation %ld: status %d without a message", n,
              (int)st);
        nomem += st == SBP_ERR_NOMEM;
    }
    printf("alloc: %ld allocations, each failed in turn; %d reported out of memory\n", total,
           nomem);
    char path[600];
    snprintf(path, sizeof path, "%s/m.sbp", dir);
    unlink(path);
    rmdir(dir);
    return check_finish("alloc");
}
