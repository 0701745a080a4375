/* checkpoint.c — see checkpoint.h. */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "outputs.h"

void checkpoint_new_run_id(char id[17])
{
    unsigned char r[8] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, r, sizeof r) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long v = (unsigned long long)ts.tv_sec * 1000000007ull ^
                               (unsigned long long)ts.tv_nsec ^
                               (unsigned long long)getpid() << 40;
        memcpy(r, &v, sizeof r);
    }
    if (fd >= 0)
        close(fd);
    for (int i = 0; i < 8; i++)
        snprintf(id + 2 * i, 3, "%02x", r[i]);
}

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
    if (st == SBP_OK)
        st = sbp_net_set_meta(net, "ckpt_run", s->run_id, err);
    return st;
}

int train_parse_milestones(const char *s, sbp_train_opts *o, char *msg, size_t size)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 1000000 || (*end && *end != ',')) {
            if (msg)
                snprintf(msg, size, "'%s': item %d is not an epoch in [1, 1000000]", s, n + 1);
            return -1;
        }
        if (n == 8 || (n > 0 && v <= o->lr_milestones[n - 1] + 1)) {
            if (msg)
                snprintf(msg, size, n == 8 ? "'%s': at most 8 epochs"
                                           : "'%s': the epochs must increase", s);
            return -1;
        }
        o->lr_milestones[n++] = (int)v - 1; /* 1-based in text */
        if (!*end)
            break;
        p = end + 1;
    }
    o->n_milestones = n;
    return 0;
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

/* The run id recorded in checkpoint file `path` ("" for a checkpoint of a build that recorded
 * none); −1 if it does not read as a checkpoint. */
static int run_of(const char *path, char id[17])
{
    sbp_net *net = NULL;
    sbp_error e = {0};
    if (sbp_net_load(&net, path, &e) != SBP_OK)
        return -1;
    const char *r = sbp_net_get_meta(net, "ckpt_run");
    snprintf(id, 17, "%s", r ? r : "");
    sbp_net_free(net);
    return 0;
}

sbp_status checkpoint_dir_check(const char *dir, const char *run_id, sbp_error *err)
{
    if (cli_check_folder("--checkpoint-dir", dir, err->msg, sizeof err->msg) != 0)
        return err->status = SBP_ERR_INVALID_ARG;
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return SBP_OK; /* made before the data are loaded */
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(err->msg, sizeof err->msg, "--checkpoint-dir %s: exists and is not a folder",
                 dir);
        return err->status = SBP_ERR_INVALID_ARG;
    }
    size_t n;
    char **names = list(dir, &n);
    char best[4200];
    snprintf(best, sizeof best, "%s/best.sbp", dir);
    const int has_best = stat(best, &sb) == 0;
    sbp_status st = SBP_OK;
    if (!run_id && (n > 0 || has_best)) {
        snprintf(err->msg, sizeof err->msg,
                 "--checkpoint-dir %s: holds the checkpoints of another run (%s%s); continue "
                 "that run with --resume %s, or give an empty or new folder",
                 dir, n ? names[n - 1] : "", n ? "" : "best.sbp", dir);
        st = err->status = SBP_ERR_INVALID_ARG;
    }
    for (size_t i = n; st == SBP_OK && run_id && i-- > 0;) {
        char path[4400], other[17];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (run_of(path, other) == 0 && strcmp(other, run_id) != 0) {
            snprintf(err->msg, sizeof err->msg,
                     "--checkpoint-dir %s: holds the checkpoints of another run (%s: run %s, "
                     "this run is %s); give an empty or new folder",
                     dir, names[i], other[0] ? other : "unrecorded", run_id);
            st = err->status = SBP_ERR_INVALID_ARG;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return st;
}

/* The folder made and the training state put into the net's metadata, ready to save. */
static sbp_status stage(sbp_net *net, const train_state *s, const char *dir, sbp_error *err)
{
    if (cli_mkdirs(dir, err->msg, sizeof err->msg) != 0)
        return err->status = SBP_ERR_IO;
    return put_state(net, s, err);
}

sbp_status checkpoint_save_best(sbp_net *net, const train_state *s, const char *dir,
                                sbp_error *err)
{
    sbp_status st = stage(net, s, dir, err);
    if (st != SBP_OK)
        return st;
    char path[4200];
    snprintf(path, sizeof path, "%s/best.sbp", dir);
    return sbp_net_save(net, path, err);
}

sbp_status checkpoint_save(sbp_net *net, const train_state *s, const char *dir, int keep,
                           sbp_error *err)
{
    sbp_status st = stage(net, s, dir, err);
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

/* Each numeric field with its range (inclusive) and whether it must be a whole number: a
 * checkpoint whose metadata is out of range or not a number is refused, never "corrected". */
static const struct {
    const char *key;
    double lo, hi;
    int whole;
} fields[] = {
    {"ckpt_epoch", 0, 100000, 1},         {"ckpt_batch", 0, 1e12, 1},
    {"ckpt_epoch_loss", 0, 1e300, 0},     {"ckpt_epoch_correct", 0, 1e15, 1},
    {"ckpt_epoch_seen", 0, 1e15, 1},      {"ckpt_epoch_secs", 0, 1e12, 0},
    {"ckpt_total_secs", 0, 1e12, 0},      {"ckpt_log_offset", -1, 1e15, 1},
    {"ckpt_best_val", -1, 1, 0},          {"opt_timesteps", 1, 100000, 1},
    {"opt_batch", 1, 1000000, 1},         {"opt_epochs", 1, 100000, 1},
    {"opt_lr", 1e-12, 1e6, 0},            {"opt_lr_factor", 0, 1e6, 0},
    {"opt_weight_decay", 0, 1e6, 0},      {"opt_backward", 0, 1, 1},
    {"opt_seed", 0, 4503599627370496.0, 1}, {"opt_threads", 0, 1024, 1},
    {"opt_train_limit", 0, 1099511627776.0, 1}, {"opt_test_limit", 0, 1099511627776.0, 1},
    {"opt_val_split", 0, 0.9, 0},
};

static sbp_status take_state(const sbp_net *net, train_state *s, const char *path,
                             sbp_error *err)
{
    memset(s, 0, sizeof *s);
    sbp_train_opts_default(&s->o);
    double v[sizeof fields / sizeof fields[0]];
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *t = sbp_net_get_meta(net, fields[i].key);
        if (!t) {
            snprintf(err->msg, sizeof err->msg, "%s: not a training checkpoint (no '%s')", path,
                     fields[i].key);
            return err->status = SBP_ERR_FORMAT;
        }
        char *end;
        errno = 0;
        v[i] = strtod(t, &end);
        if (end == t || *end || errno || !isfinite(v[i]) || v[i] < fields[i].lo ||
            v[i] > fields[i].hi || (fields[i].whole && v[i] != floor(v[i]))) {
            snprintf(err->msg, sizeof err->msg,
                     "%s: checkpoint field %s = '%.40s' is not %s in [%g, %g]", path,
                     fields[i].key, t, fields[i].whole ? "a whole number" : "a number",
                     fields[i].lo, fields[i].hi);
            return err->status = SBP_ERR_FORMAT;
        }
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
    if (s->epoch_correct > s->epoch_seen || s->epoch > s->o.epochs) {
        snprintf(err->msg, sizeof err->msg,
                 "%s: inconsistent checkpoint (epoch %d of %d, %ld correct of %ld seen)", path,
                 s->epoch + 1, s->o.epochs, s->epoch_correct, s->epoch_seen);
        return err->status = SBP_ERR_FORMAT;
    }
    const char *ms = sbp_net_get_meta(net, "opt_milestones");
    s->o.n_milestones = 0;
    if (!ms || (strcmp(ms, "none") && train_parse_milestones(ms, &s->o, NULL, 0) != 0)) {
        snprintf(err->msg, sizeof err->msg,
                 "%s: checkpoint field opt_milestones = '%.40s' is not a list of epochs", path,
                 ms ? ms : "(missing)");
        return err->status = SBP_ERR_FORMAT;
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
        if (!strs[i] || !strs[i][0]) {
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
    const char *run = sbp_net_get_meta(net, "ckpt_run");
    snprintf(s->run_id, sizeof s->run_id, "%s", run ? run : "");
    return SBP_OK;
}

sbp_status checkpoint_load_latest(sbp_net **net, train_state *s, const char *dir, char *used,
                                  size_t used_size, sbp_error *err)
{
    *net = NULL;
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        snprintf(err->msg, sizeof err->msg, "--resume %s: %s", dir,
                 errno == ENOENT ? "no such folder" : strerror(errno));
        return err->status = SBP_ERR_IO;
    }
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(err->msg, sizeof err->msg,
                 "--resume %s: not a folder (give the run's --checkpoint-dir)", dir);
        return err->status = SBP_ERR_IO;
    }
    size_t n;
    char **names = list(dir, &n);
    sbp_status st = SBP_ERR_IO;
    snprintf(err->msg, sizeof err->msg, "--resume %s: the folder holds no checkpoint "
             "(ckpt-*.sbp) to resume from", dir);
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
