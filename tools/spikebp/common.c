/* common.c — shared pieces of the subcommands (see cli.h). */
#include <errno.h>
#include <glob.h>
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

/* The --data syntax, for the commands' --help. */
void cli_data_help(FILE *f)
{
    fprintf(f,
            "data sets (--data)\n"
            "  mnist | fashion-mnist | cifar10 | svhn | nmnist[@T]\n"
            "                        the folder of that name under $SBP_DATA_DIR (else\n"
            "                        ~/.cache/spikebp), laid out as below\n"
            "  FOLDER                a folder in one of these layouts, recognised by its files:\n"
            "                          IDX: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]\n"
            "                          CIFAR-10: data_batch_*.bin (train: all present),\n"
            "                            test_batch.bin (or in cifar-10-batches-bin/)\n"
            "                          SVHN: train_32x32.mat, test_32x32.mat\n"
            "                          N-MNIST: Train/ and Test/, each with 0/ … 9/ of .bin files\n"
            "  idx:DIR  cifar10:DIR  svhn:DIR  nmnist:DIR[@T]   the same, kind named\n"
            "  nmnist:FILE.bin:LABEL[@T]\n"
            "                        one N-MNIST recording with its digit, as both splits\n"
            "  npy:X.npy,Y.npy[,TEST_X.npy,TEST_Y.npy]\n"
            "                        NumPy arrays: X uint8 images (N,C,H,W) or (N,H,W), or spike\n"
            "                        trains (N,T,C,H,W) of uint8/int8/bool in -1..1; Y integer\n"
            "                        labels (N,)\n"
            "  npz:TRAIN.npz[,TEST.npz]  arrays x and y of a numpy.savez archive\n"
            "notes\n"
            "  - npy/npz/nmnist-file without test data evaluate on the training data.\n"
            "  - N-MNIST recordings are binned into T frames (@T, default 100); spike data sets\n"
            "    (N-MNIST, npy/npz spike trains) fix T, and -T must equal it.\n"
            "  - Encodings (SPEC §1): MNIST and npy images pixel/255 with gain 1/2; CIFAR-10\n"
            "    per-channel mean/std, gain 1; SVHN the file's own per-channel mean/std, gain 1.\n"
            "  - CIFAR-10 training split: random crop (padding 4) and flip; test split: none.\n");
}

/* `limit` > 0 keeps the first `limit` samples of `full` (*owner then holds the full set). */
static sbp_status finish(sbp_dataset *full, size_t limit, sbp_dataset **view,
                         sbp_dataset **owner, sbp_error *err)
{
    if (limit == 0 || limit >= sbp_dataset_count(full)) {
        *view = full;
        return SBP_OK;
    }
    sbp_status st = sbp_dataset_slice(view, full, 0, limit, err);
    if (st != SBP_OK) {
        sbp_dataset_free(full);
        return st;
    }
    *owner = full;
    return SBP_OK;
}

static sbp_status usage_error(sbp_error *err, const char *fmt, const char *arg)
{
    snprintf(err->msg, sizeof err->msg, fmt, arg);
    return err->status = SBP_ERR_INVALID_ARG;
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *dir, const char *name)
{
    char p[4400];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int has_cifar(const char *dir)
{
    char pat[4400];
    glob_t g;
    snprintf(pat, sizeof pat, "%s/data_batch_*.bin", dir);
    int found = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0;
    globfree(&g);
    return found || is_file(dir, "test_batch.bin");
}

/* Splits a trailing "@T" off s (in place); *T gets it, or `dflt`. Returns 0 if malformed. */
static int take_timesteps(char *s, int dflt, int *T)
{
    *T = dflt;
    char *at = strrchr(s, '@');
    if (!at)
        return 1;
    char *end;
    errno = 0;
    long v = strtol(at + 1, &end, 10);
    if (errno || end == at + 1 || *end || v < 1 || v > 100000)
        return 0;
    *T = (int)v;
    *at = '\0';
    return 1;
}

#define NMNIST_DEFAULT_T 100 /* SPEC's T, the commands' default -T */

static sbp_status load_cifar(const char *dir, int train, size_t limit, sbp_dataset **view,
                             sbp_dataset **owner, sbp_error *err)
{
    char sub[4400];
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", dir); /* the official tarball's folder */
    if (!has_cifar(dir) && is_dir(sub) && has_cifar(sub))
        dir = sub;
    sbp_dataset *full = NULL;
    sbp_status st;
    if (train) {
        char pat[4400];
        glob_t g;
        snprintf(pat, sizeof pat, "%s/data_batch_*.bin", dir);
        if (glob(pat, 0, NULL, &g) != 0 || g.gl_pathc == 0) {
            globfree(&g);
            snprintf(err->msg, sizeof err->msg,
                     "%s: no CIFAR-10 training files data_batch_*.bin (fetch and extract "
                     "cifar-10-binary.tar.gz)", dir);
            return err->status = SBP_ERR_IO;
        }
        st = sbp_dataset_load_cifar10_files(&full, (const char *const *)g.gl_pathv, g.gl_pathc,
                                            err);
        globfree(&g);
        if (st == SBP_OK) /* §1: training augmentation, training split only */
            st = sbp_dataset_set_augment(full, 4, 1, err);
    } else {
        char p[4400];
        snprintf(p, sizeof p, "%s/test_batch.bin", dir);
        st = sbp_dataset_load_cifar10(&full, p, err);
    }
    if (st != SBP_OK) {
        sbp_dataset_free(full);
        return st;
    }
    return finish(full, limit, view, owner, err);
}

static sbp_status load_svhn(const char *dir, int train, size_t limit, sbp_dataset **view,
                            sbp_dataset **owner, sbp_error *err)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, train ? "train_32x32.mat" : "test_32x32.mat");
    sbp_dataset *full = NULL;
    sbp_status st = sbp_dataset_load_svhn(&full, p, err);
    if (st != SBP_OK)
        return st;
    return finish(full, limit, view, owner, err);
}

static sbp_status load_idx(const char *dir, int train, size_t limit, sbp_dataset **view,
                           sbp_dataset **owner, sbp_error *err)
{
    char img[2200], lab[2200], n1[64], n2[64];
    const char *split = train ? "train" : "t10k";
    snprintf(n1, sizeof n1, "%s-images-idx3-ubyte", split);
    snprintf(n2, sizeof n2, "%s-labels-idx1-ubyte", split);
    pick(img, sizeof img, dir, n1);
    pick(lab, sizeof lab, dir, n2);
    sbp_dataset *full = NULL;
    sbp_status st = sbp_dataset_load_idx(&full, img, lab, err);
    if (st != SBP_OK)
        return st;
    return finish(full, limit, view, owner, err);
}

/* N-MNIST: DIR holding Train/ and Test/ (or, for a bare recording, FILE:LABEL) */
static sbp_status load_nmnist(const char *spec, int train, size_t limit, sbp_dataset **view,
                              sbp_dataset **owner, sbp_error *err)
{
    char buf[2200];
    snprintf(buf, sizeof buf, "%s", spec);
    int T;
    if (!take_timesteps(buf, NMNIST_DEFAULT_T, &T))
        return usage_error(err, "nmnist: '%s': the suffix @T needs T in 1 … 100000", spec);
    sbp_dataset *full = NULL;
    sbp_status st;
    if (is_dir(buf)) {
        char sub[2300];
        snprintf(sub, sizeof sub, "%s/%s", buf, train ? "Train" : "Test");
        if (!is_dir(sub)) {
            snprintf(err->msg, sizeof err->msg,
                     "%s: no such folder — an N-MNIST folder holds Train/ and Test/, each with "
                     "digit folders 0 … 9", sub);
            return err->status = SBP_ERR_IO;
        }
        return sbp_dataset_load_nmnist_dir(view, sub, T, limit, err);
    }
    char *colon = strrchr(buf, ':');
    if (!colon || colon[1] < '0' || colon[1] > '9' || colon[2] != '\0')
        return usage_error(err,
                           "nmnist: '%s' is neither a folder nor FILE.bin:LABEL with a digit "
                           "label 0 … 9", spec);
    *colon = '\0';
    const int label = colon[1] - '0';
    const char *path = buf;
    if (!train)
        fprintf(stderr, "spikebp: note: %s is one recording; the test split is the same "
                "recording\n", path);
    st = sbp_dataset_load_nmnist(&full, &path, &label, 1, T, err);
    if (st != SBP_OK)
        return st;
    return finish(full, limit, view, owner, err);
}

/* Splits a comma list into at most `max` parts (in buf); returns the count, 0 on excess. */
static int split_list(char *buf, char **parts, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == max)
            return 0;
        parts[n++] = tok;
    }
    return n;
}

static sbp_status load_numpy(const char *spec, int npz, int train, size_t limit,
                             sbp_dataset **view, sbp_dataset **owner, sbp_error *err)
{
    char buf[4400], *parts[5];
    snprintf(buf, sizeof buf, "%s", spec);
    int n = split_list(buf, parts, 4);
    sbp_dataset *full = NULL;
    sbp_status st;
    if (npz) {
        if (n != 1 && n != 2)
            return usage_error(err, "npz: '%s': expected npz:TRAIN.npz[,TEST.npz]", spec);
        if (!train && n == 1)
            fprintf(stderr, "spikebp: note: no test archive given; the test split is %s\n",
                    parts[0]);
        st = sbp_dataset_load_npz(&full, parts[train || n == 1 ? 0 : 1], "x", "y", err);
    } else {
        if (n != 2 && n != 4)
            return usage_error(err,
                               "npy: '%s': expected npy:X.npy,Y.npy[,TEST_X.npy,TEST_Y.npy]",
                               spec);
        if (!train && n == 2)
            fprintf(stderr, "spikebp: note: no test arrays given; the test split is %s\n",
                    parts[0]);
        int k = train || n == 2 ? 0 : 2;
        st = sbp_dataset_load_npy(&full, parts[k], parts[k + 1], err);
    }
    if (st != SBP_OK)
        return st;
    return finish(full, limit, view, owner, err);
}

/* A folder: its files tell the kind. */
static sbp_status load_folder(const char *dir, int train, size_t limit, sbp_dataset **view,
                              sbp_dataset **owner, sbp_error *err)
{
    char sub[4400];
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", dir);
    if (has_cifar(dir) || (is_dir(sub) && has_cifar(sub)))
        return load_cifar(dir, train, limit, view, owner, err);
    if (is_file(dir, "train_32x32.mat") || is_file(dir, "test_32x32.mat"))
        return load_svhn(dir, train, limit, view, owner, err);
    char tr[4400], te[4400];
    snprintf(tr, sizeof tr, "%s/Train", dir);
    snprintf(te, sizeof te, "%s/Test", dir);
    if (is_dir(tr) || is_dir(te))
        return load_nmnist(dir, train, limit, view, owner, err);
    return load_idx(dir, train, limit, view, owner, err);
}

/* Loads the train or test split named by `name` (syntax: cli_data_help). For spike data sets
 * (N-MNIST, npy/npz spike trains) sbp_dataset_timesteps(*view) is the T the data were made
 * with, which the window must equal: a command can default -T to it (0 for image sets). */
sbp_status cli_load_data(const char *name, int train, size_t limit, sbp_dataset **view,
                         sbp_dataset **owner, sbp_error *err)
{
    char root[1024], dir[2048];
    *view = *owner = NULL;
    if (is_dir(name))
        return load_folder(name, train, limit, view, owner, err);
    /* KIND:REST forms */
    enum { K_NPY, K_NPZ, K_NMNIST, K_CIFAR, K_SVHN, K_IDX };
    static const struct {
        const char *prefix;
        int kind;
    } kinds[] = {{"npy:", K_NPY},     {"npz:", K_NPZ},   {"nmnist:", K_NMNIST},
                 {"cifar10:", K_CIFAR}, {"svhn:", K_SVHN}, {"idx:", K_IDX}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t l = strlen(kinds[k].prefix);
        if (strncmp(name, kinds[k].prefix, l) != 0)
            continue;
        const char *rest = name + l;
        if (!*rest)
            return usage_error(err, "--data %s: a path must follow the colon", name);
        switch (kinds[k].kind) {
        case K_NPY: return load_numpy(rest, 0, train, limit, view, owner, err);
        case K_NPZ: return load_numpy(rest, 1, train, limit, view, owner, err);
        case K_NMNIST: return load_nmnist(rest, train, limit, view, owner, err);
        }
        if (!is_dir(rest)) {
            snprintf(err->msg, sizeof err->msg, "%s: no such folder", rest);
            return err->status = SBP_ERR_IO;
        }
        switch (kinds[k].kind) {
        case K_CIFAR: return load_cifar(rest, train, limit, view, owner, err);
        case K_SVHN: return load_svhn(rest, train, limit, view, owner, err);
        default: return load_idx(rest, train, limit, view, owner, err);
        }
    }
    /* a name: the folder of that name in the data cache */
    char base[64];
    snprintf(base, sizeof base, "%.63s", name);
    int T = NMNIST_DEFAULT_T;
    if (!strncmp(base, "nmnist@", 7) && !take_timesteps(base, NMNIST_DEFAULT_T, &T))
        return usage_error(err, "--data %s: the suffix @T needs T in 1 … 100000", name);
    static const char *const names[] = {"mnist", "fashion-mnist", "cifar10", "svhn", "nmnist"};
    int known = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        known |= !strcmp(base, names[k]);
    if (!known)
        return usage_error(err,
                           "unknown data set '%s' (use mnist, fashion-mnist, cifar10, svhn, "
                           "nmnist, a data folder, or npy:/npz:/nmnist: paths; see --help)",
                           name);
    snprintf(dir, sizeof dir, "%s/%s", data_root(root, sizeof root), base);
    if (!is_dir(dir)) {
        snprintf(err->msg, sizeof err->msg,
                 "%s: no such folder — fetch the data first with scripts/get-data %s", dir, base);
        return err->status = SBP_ERR_IO;
    }
    if (!strcmp(base, "cifar10"))
        return load_cifar(dir, train, limit, view, owner, err);
    if (!strcmp(base, "svhn"))
        return load_svhn(dir, train, limit, view, owner, err);
    if (!strcmp(base, "nmnist")) {
        char spec[2100];
        snprintf(spec, sizeof spec, "%s@%d", dir, T);
        return load_nmnist(spec, train, limit, view, owner, err);
    }
    return load_idx(dir, train, limit, view, owner, err);
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
        snprintf(msg, size, "%.200s…: folder name too long", dir);
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
        snprintf(msg, size, "%.200s…: path too long", path);
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
        const char *mt = sbp_net_get_meta(net, "timesteps");
        *T = mt ? atol(mt) : 100;
        if (*T < 1 || *T > 100000)
            *T = 100;
    }
    return 0;
}
