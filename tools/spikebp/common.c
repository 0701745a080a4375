/* common.c — shared pieces of the subcommands (see cli.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "spikebp %s: %s: '%s' is not an integer in [%ld, %ld]\n", cmd, opt, s, lo,
                hi);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "spikebp %s: %s: '%s' is not a number in [%g, %g]\n", cmd, opt, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

void cli_data_help(FILE *f)
{
    fputs(sbp_dataset_names_help(), f);
}

/* A name with no test part (npy:X,Y, npz:TRAIN.npz, nmnist:FILE:LABEL): the library gives the
 * training data as the test split, silently; the tool says so. */
static void note_test_is_train(const char *name)
{
    const char *rest = strchr(name, ':');
    if (!rest)
        return;
    rest++;
    const size_t first = strcspn(rest, ",");
    if (!strncmp(name, "npy:", 4) && rest[first] && !strchr(rest + first + 1, ','))
        fprintf(stderr, "spikebp: note: no test arrays given; the test split is %.*s\n",
                (int)first, rest);
    else if (!strncmp(name, "npz:", 4) && !rest[first])
        fprintf(stderr, "spikebp: note: no test archive given; the test split is %s\n", rest);
    else if (!strncmp(name, "nmnist:", 7)) {
        char path[2200];
        snprintf(path, sizeof path, "%s", rest);
        char *at = strrchr(path, '@'), *colon;
        if (at)
            *at = '\0';
        struct stat sb;
        if ((colon = strrchr(path, ':')) && !(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))) {
            *colon = '\0';
            fprintf(stderr,
                    "spikebp: note: %s is one recording; the test split is the same recording\n",
                    path);
        }
    }
}

sbp_status cli_load_data(const char *name, int train, size_t limit, sbp_dataset **ds,
                         sbp_error *err)
{
    sbp_status st =
        sbp_dataset_open(ds, name, train ? SBP_SPLIT_TRAIN : SBP_SPLIT_TEST, limit, err);
    if (st == SBP_OK && !train)
        note_test_is_train(name);
    return st;
}

int cli_backend(const char *cmd, const char *name, sbp_backend_id *out)
{
    sbp_error err = {0};
    if (sbp_backend_parse(out, name, &err) != SBP_OK || sbp_backend_check(*out, &err) != SBP_OK) {
        fprintf(stderr, "spikebp %s: --backend: %s\n", cmd, err.msg);
        return 0;
    }
    return 1;
}

sbp_status cli_net_spec(const char *name, sbp_net_spec *spec, sbp_error *err)
{
    struct stat sb;
    if (stat(name, &sb) == 0 && S_ISREG(sb.st_mode))
        return sbp_net_spec_load(spec, name, err);
    if (strchr(name, '-') && strchr(name, 'x'))
        return sbp_net_spec_parse(spec, name, err);
    if (strchr(name, '/') || strstr(name, ".cfg") || strstr(name, ".net"))
        return sbp_net_spec_load(spec, name, err); /* a missing file: report it as such */
    return sbp_net_spec_builtin(spec, name, err);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_start(cli_progress *p, const char *label, size_t total, int quiet)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->start = cli_now();
    p->tty = isatty(STDERR_FILENO);
    p->quiet = quiet;
    p->last_decile = 0;
}

static void fmt_time(char *buf, size_t size, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, size, "--:--");
    else if (s >= 3600)
        snprintf(buf, size, "%d:%02d:%02d", (int)(s / 3600), (int)fmod(s / 60, 60), (int)fmod(s, 60));
    else
        snprintf(buf, size, "%02d:%02d", (int)(s / 60), (int)fmod(s, 60));
}

void cli_progress_update(cli_progress *p, size_t done, const char *extra)
{
    if (p->quiet || p->total == 0)
        return;
    double now = cli_now(), el = now - p->start;
    int decile = (int)(10 * done / p->total);
    if (p->tty) {
        if (now - p->last_draw < 0.2 && done < p->total)
            return;
    } else if (decile == p->last_decile && done < p->total) {
        return;
    }
    p->last_draw = now;
    p->last_decile = decile;
    double rate = el > 0 ? (double)done / el : 0.0;
    char eta[32], ela[32];
    fmt_time(eta, sizeof eta, rate > 0 ? (double)(p->total - done) / rate : NAN);
    fmt_time(ela, sizeof ela, el);
    char bar[26];
    int fill = (int)(25 * done / p->total);
    for (int i = 0; i < 25; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[25] = '\0';
    fprintf(stderr, "%s%s [%s] %zu/%zu  %.1f img/s  %s elapsed, ETA %s%s%s%s", p->tty ? "\r" : "",
            p->label, bar, done, p->total, rate, ela, eta, extra ? "  " : "", extra ? extra : "",
            p->tty ? "\033[K" : "\n");
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (!p->quiet && p->tty)
        fputc('\n', stderr);
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int cli_mkdirs(const char *dir, char *msg, size_t size)
{
    char buf[4096];
    const size_t n = strlen(dir);
    if (n == 0)
        return 0;
    if (n >= sizeof buf) {
        snprintf(msg, size, "%.200s…: folder name too long (%zu bytes, at most %zu)", dir, n,
                 sizeof buf - 1);
        return -1;
    }
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; ; p++) { /* each prefix ending at a '/', then the whole */
        const int end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        struct stat sb;
        if (stat(buf, &sb) != 0) {
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                snprintf(msg, size, "%s: cannot create the folder: %s", buf, strerror(errno));
                return -1;
            }
        } else if (!S_ISDIR(sb.st_mode)) {
            snprintf(msg, size, "%s: exists and is not a folder", buf);
            return -1;
        }
        if (end)
            return 0;
        *p = '/';
    }
}

int cli_make_parent(const char *path, char *msg, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char dir[4096];
    const size_t n = (size_t)(slash - path);
    if (n >= sizeof dir) {
        snprintf(msg, size, "%.200s…: path too long (its folder is %zu bytes, at most %zu)",
                 path, n, sizeof dir - 1);
        return -1;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    return cli_mkdirs(dir, msg, size);
}

int cli_model_defaults(const sbp_net *net, const char *model, const char **data, long *T,
                       char *msg, size_t size)
{
    if (!*data)
        *data = sbp_net_get_meta(net, "data");
    if (!*data) {
        snprintf(msg, size, "%s does not record its data set; give --data", model);
        return -1;
    }
    if (*T == 0) {
        /* src/io/model.c refuses a model whose timesteps is not a whole number in range */
        const char *mt = sbp_net_get_meta(net, "timesteps");
        *T = mt ? atol(mt) : 100;
    }
    return 0;
}
