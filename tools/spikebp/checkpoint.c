/* checkpoint.c — see checkpoint.h. */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static sbp_status set(sbp_net *net, const char *key, const char *fmt, double v, sbp_error *err)
{
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    return sbp_net_set_meta(net, key, buf, err);
}

static sbp_status put_state(sbp_net *net, const train_state *s, sbp_error *err)
{
    const sbp_train_opts *o = &s->o;
    char ms[64] = "";
    for (int i = 0; i < o->n_milestones; i++)
        snprintf(ms + strlen(ms), sizeof ms - strlen(ms), "%s%d", i ? "," : "",
                 o->lr_milestones[i] + 1);
    sbp_status st = SBP_OK;
#define SET(k, f, v)                                                                          \
    if (st == SBP_OK)                                                                         \
    st = set(net, k, f, (double)(v), err)
    SET("ckpt_epoch", "%.0f", s->epoch);
    SET("ckpt_batch", "%.0f", s->batch);
    SET("ckpt_epoch_loss", "%.17g", s->epoch_loss);
    SET("ckpt_epoch_correct", "%.0f", s->epoch_correct);
    SET("ckpt_epoch_seen", "%.0f", s->epoch_seen);
    SET("ckpt_epoch_secs", "%.17g", s->epoch_secs);
    SET("ckpt_total_secs", "%.17g", s->total_secs);
    SET("ckpt_log_offset", "%.0f", s->log_offset);
    SET("ckpt_best_val", "%.17g", s->best_val);
    SET("opt_timesteps", "%.0f", o->timesteps);
    SET("opt_batch", "%.0f", o->batch);
    SET("opt_epochs", "%.0f", o->epochs);
    SET("opt_lr", "%.9g", o->lr);
    SET("opt_lr_factor", "%.9g", o->lr_factor);
    SET("opt_weight_decay", "%.9g", o->weight_decay);
    SET("opt_backward", "%.0f", o->backward);
    SET("opt_seed", "%.0f", o->seed);
    SET("opt_threads", "%.0f", o->threads);
    SET("opt_train_limit", "%.0f", s->train_limit);
    SET("opt_test_limit", "%.0f", s->test_limit);
    SET("opt_val_split", "%.17g", s->val_split);
#undef SET
    if (st == SBP_OK)
        st = sbp_net_set_meta(net, "opt_milestones", ms[0] ? ms : "none", err);
    if (st == SBP_OK)
        st = sbp_net_set_meta(net, "opt_net", s->net_name, err);
    if (st == SBP_OK)
        st = sbp_net_set_meta(net, "data", s->data, err);
    if (st == SBP_OK)
        st = sbp_net_set_meta(net, "opt_save", s->save, err);
    if (st == SBP_OK)
        st = sbp_net_set_meta(net, "opt_log", s->log_path, err);
    if (st == SBP_OK) /* a resumed run continues on the same backend (bit-identity) */
        st = sbp_net_set_meta(net, "opt_backend", sbp_backend_name(o->backend), err);
    return st;
}

/* ckpt-EEEEEE-BBBBBBBB.sbp names sort in training order. */
static int is_ckpt(const char *name)
{
    int e, b, n = -1;
    return sscanf(name, "ckpt-%6d-%8d.sbp%n", &e, &b, &n) == 2 && n == (int)strlen(name);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted checkpoint file names of dir (caller frees each and the array). */
static char **list(const char *dir, size_t *count)
{
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **names = NULL;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!is_ckpt(de->d_name))
            continue;
        if (*count == cap) {
            cap = cap ? 2 * cap : 16;
            char **n2 = realloc(names, cap * sizeof *names);
            if (!n2)
                break;
            names = n2;
        }
        names[(*count)++] = strdup(de->d_name);
    }
    closedir(d);
    if (names)
        qsort(names, *count, sizeof *names, cmp_names);
    return names;
}

sbp_status checkpoint_save(sbp_net *net, const train_state *s, const char *dir, int keep,
                           sbp_error *err)
{
    if (cli_mkdirs(dir, err->msg, sizeof err->msg) != 0)
        return err->status = SBP_ERR_IO;
    sbp_status st = put_state(net, s, err);
    if (st != SBP_OK)
        return st;
    char path[4096];
    snprintf(path, sizeof path, "%s/ckpt-%06d-%08zu.sbp", dir, s->epoch, s->batch);
    st = sbp_net_save(net, path, err);
    if (st != SBP_OK)
        return st;
    size_t n;
    char **names = list(dir, &n);
    for (size_t i = 0; i < n; i++) {
        if (i + (size_t)keep < n) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            unlink(path);
        }
        free(names[i]);
    }
    free(names);
    return SBP_OK;
}

static int get_num(const sbp_net *net, const char *key, double *v)
{
    const char *s = sbp_net_get_meta(net, key);
    if (!s)
        return 0;
    char *end;
    *v = strtod(s, &end);
    return end != s && *end == '\0';
}

static sbp_status take_state(const sbp_net *net, train_state *s, const char *path,
                             sbp_error *err)
{
    memset(s, 0, sizeof *s);
    sbp_train_opts_default(&s->o);
    static const char *const keys[] = {
        "ckpt_epoch", "ckpt_batch", "ckpt_epoch_loss", "ckpt_epoch_correct", "ckpt_epoch_seen",
        "ckpt_epoch_secs", "ckpt_total_secs", "ckpt_log_offset", "ckpt_best_val",
        "opt_timesteps", "opt_batch", "opt_epochs", "opt_lr", "opt_lr_factor",
        "opt_weight_decay", "opt_backward", "opt_seed", "opt_threads", "opt_train_limit",
        "opt_test_limit", "opt_val_split"};
    double v[sizeof keys / sizeof keys[0]];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!get_num(net, keys[i], &v[i])) {
            snprintf(err->msg, sizeof err->msg, "%s: not a training checkpoint (no valid '%s')",
                     path, keys[i]);
            return err->status = SBP_ERR_FORMAT;
        }
    s->epoch = (int)v[0];
    s->batch = (size_t)v[1];
    s->epoch_loss = v[2];
    s->epoch_correct = (long)v[3];
    s->epoch_seen = (long)v[4];
    s->epoch_secs = v[5];
    s->total_secs = v[6];
    s->log_offset = (long)v[7];
    s->best_val = v[8];
    s->o.timesteps = (int)v[9];
    s->o.batch = (int)v[10];
    s->o.epochs = (int)v[11];
    s->o.lr = (float)v[12];
    s->o.lr_factor = (float)v[13];
    s->o.weight_decay = (float)v[14];
    s->o.backward = (sbp_backward)(int)v[15];
    s->o.seed = (uint64_t)v[16];
    s->o.threads = (int)v[17];
    s->train_limit = (long)v[18];
    s->test_limit = (long)v[19];
    s->val_split = v[20];
    const char *ms = sbp_net_get_meta(net, "opt_milestones");
    s->o.n_milestones = 0;
    if (ms && strcmp(ms, "none")) {
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%s", ms);
        char *save = NULL;
        for (char *t = strtok_r(tmp, ",", &save); t && s->o.n_milestones < 8;
             t = strtok_r(NULL, ",", &save))
            s->o.lr_milestones[s->o.n_milestones++] = atoi(t) - 1;
    }
    /* Checkpoints written before backends existed ran on the cpu backend. */
    const char *backend = sbp_net_get_meta(net, "opt_backend");
    if (backend && sbp_backend_parse(&s->o.backend, backend, err) != SBP_OK) {
        snprintf(err->msg, sizeof err->msg, "%s: unknown backend '%s' in the checkpoint", path,
                 backend);
        return err->status = SBP_ERR_FORMAT;
    }
    const char *strs[4] = {sbp_net_get_meta(net, "opt_net"), sbp_net_get_meta(net, "data"),
                           sbp_net_get_meta(net, "opt_save"), sbp_net_get_meta(net, "opt_log")};
    for (int i = 0; i < 4; i++) {
        if (!strs[i]) {
            snprintf(err->msg, sizeof err->msg, "%s: not a training checkpoint (options missing)",
                     path);
            return err->status = SBP_ERR_FORMAT;
        }
        snprintf(s->buf[i], sizeof s->buf[i], "%s", strs[i]);
    }
    s->net_name = s->buf[0];
    s->data = s->buf[1];
    s->save = s->buf[2];
    s->log_path = s->buf[3];
    return SBP_OK;
}

sbp_status checkpoint_load_latest(sbp_net **net, train_state *s, const char *dir, char *used,
                                  size_t used_size, sbp_error *err)
{
    *net = NULL;
    size_t n;
    char **names = list(dir, &n);
    sbp_status st = SBP_ERR_IO;
    snprintf(err->msg, sizeof err->msg, "%s: no checkpoint (ckpt-*.sbp) to resume from", dir);
    err->status = st;
    for (size_t i = n; i-- > 0 && !*net;) {
        snprintf(used, used_size, "%s/%s", dir, names[i]);
        sbp_error e2 = {0};
        sbp_net *cand = NULL;
        if (sbp_net_load(&cand, used, &e2) == SBP_OK &&
            take_state(cand, s, used, &e2) == SBP_OK) {
            *net = cand;
            st = SBP_OK;
        } else {
            fprintf(stderr, "spikebp train: skipping %s: %s\n", used, e2.msg);
            sbp_net_free(cand);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return st;
}
