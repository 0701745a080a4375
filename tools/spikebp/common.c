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

static const char *data_root(char *buf, size_t size)
{
    const char *d = getenv("SBP_DATA_DIR");
    if (d && *d)
        return d;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, size, "%s/spikebp", xdg);
    else
        snprintf(buf, size, "%s/.cache/spikebp", home ? home : ".");
    return buf;
}

/* dir/name if it exists, else dir/name.gz if that exists, else dir/name (for the message). */
static void pick(char *out, size_t size, const char *dir, const char *name)
{
    struct stat sb;
    snprintf(out, size, "%s/%s", dir, name);
    if (stat(out, &sb) == 0)
        return;
    snprintf(out, size, "%s/%s.gz", dir, name);
    if (stat(out, &sb) == 0)
        return;
    snprintf(out, size, "%s/%s", dir, name);
}

sbp_status cli_load_data(const char *name, int train, size_t limit, sbp_dataset **view,
                         sbp_dataset **owner, sbp_error *err)
{
    char root[1024], dir[2048], img[2200], lab[2200];
    struct stat sb;
    *view = *owner = NULL;
    if (stat(name, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(dir, sizeof dir, "%s", name);
    else if (!strcmp(name, "mnist") || !strcmp(name, "fashion-mnist"))
        snprintf(dir, sizeof dir, "%s/%s", data_root(root, sizeof root), name);
    else {
        snprintf(err->msg, sizeof err->msg,
                 "unknown data set '%s' (use mnist, fashion-mnist or a folder of IDX files)", name);
        return err->status = SBP_ERR_INVALID_ARG;
    }
    if (stat(dir, &sb) != 0) {
        snprintf(err->msg, sizeof err->msg,
                 "%s: no such folder — fetch the data first with scripts/get-data %s", dir,
                 strchr(name, '/') ? "" : name);
        return err->status = SBP_ERR_IO;
    }
    const char *split = train ? "train" : "t10k";
    char n1[64], n2[64];
    snprintf(n1, sizeof n1, "%s-images-idx3-ubyte", split);
    snprintf(n2, sizeof n2, "%s-labels-idx1-ubyte", split);
    pick(img, sizeof img, dir, n1);
    pick(lab, sizeof lab, dir, n2);
    sbp_dataset *full = NULL;
    sbp_status st = sbp_dataset_load_idx(&full, img, lab, err);
    if (st != SBP_OK)
        return st;
    if (limit == 0 || limit >= sbp_dataset_count(full)) {
        *view = full;
        return SBP_OK;
    }
    st = sbp_dataset_slice(view, full, 0, limit, err);
    if (st != SBP_OK) {
        sbp_dataset_free(full);
        return st;
    }
    *owner = full;
    return SBP_OK;
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
