/*
 * resolve.c — data sets by name (sbp_dataset_open): the built-in names in the cache folder,
 * any folder recognised by its files, and the KIND:PATH forms; the syntax is the help text
 * below, which the CLI prints for --data. This file only finds files and picks a loader
 * (idx.c, cifar.c, svhn.c, nmnist.c, numpy.c) and the split's settings (CIFAR-10 training
 * augmentation, §1); the loaders read and check the files.
 *
 * It never prints: where a name gives no test part (npy:X,Y, npz:TRAIN.npz, one N-MNIST
 * recording) the test split is the training data, as the help text says; telling the user so
 * is the caller's business.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "data/dataset.h"

#define NMNIST_DEFAULT_T 100 /* SPEC's T, the commands' default -T */

static const char names_help[] =
    "data sets (--data)\n"
    "  mnist | fashion-mnist | cifar10 | svhn | nmnist[@T]\n"
    "                        the folder of that name under $SBP_DATA_DIR (else\n"
    "                        $XDG_CACHE_HOME/spikebp, else ~/.cache/spikebp), laid out as below\n"
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
    "  - CIFAR-10 training split: random crop (padding 4) and flip; test split: none.\n";

const char *sbp_dataset_names_help(void)
{
    return names_help;
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

/* The end of every loader below: `st` is the load's status (full, if set, is freed on
 * failure); `limit` > 0 keeps the first `limit` samples of `full` in a view that owns it. */
static sbp_status finish(sbp_status st, sbp_dataset *full, size_t limit, sbp_dataset **out,
                         sbp_error *err)
{
    if (st != SBP_OK) {
        sbp_dataset_free(full);
        return st;
    }
    if (limit == 0 || limit >= sbp_dataset_count(full)) {
        *out = full;
        return SBP_OK;
    }
    st = sbp_dataset_slice_owning(out, full, limit, err);
    if (st != SBP_OK)
        sbp_dataset_free(full);
    return st;
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

static sbp_status load_cifar(const char *dir, int train, size_t limit, sbp_dataset **out,
                             sbp_error *err)
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
            return sbp_fail(err, SBP_ERR_IO,
                            "%s: no CIFAR-10 training files data_batch_*.bin (fetch and extract "
                            "cifar-10-binary.tar.gz)",
                            dir);
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
    return finish(st, full, limit, out, err);
}

static sbp_status load_svhn(const char *dir, int train, size_t limit, sbp_dataset **out,
                            sbp_error *err)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, train ? "train_32x32.mat" : "test_32x32.mat");
    sbp_dataset *full = NULL;
    sbp_status st = sbp_dataset_load_svhn(&full, p, err);
    return finish(st, full, limit, out, err);
}

static sbp_status load_idx(const char *dir, int train, size_t limit, sbp_dataset **out,
                           sbp_error *err)
{
    char img[2200], lab[2200], n1[64], n2[64];
    const char *split = train ? "train" : "t10k";
    snprintf(n1, sizeof n1, "%s-images-idx3-ubyte", split);
    snprintf(n2, sizeof n2, "%s-labels-idx1-ubyte", split);
    pick(img, sizeof img, dir, n1);
    pick(lab, sizeof lab, dir, n2);
    sbp_dataset *full = NULL;
    sbp_status st = sbp_dataset_load_idx(&full, img, lab, err);
    return finish(st, full, limit, out, err);
}

/* N-MNIST: DIR holding Train/ and Test/ (or, for a bare recording, FILE:LABEL) */
static sbp_status load_nmnist(const char *spec, int train, size_t limit, sbp_dataset **out,
                              sbp_error *err)
{
    char buf[2200];
    snprintf(buf, sizeof buf, "%s", spec);
    int T;
    if (!take_timesteps(buf, NMNIST_DEFAULT_T, &T))
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "nmnist: '%s': the suffix @T needs T in 1 … 100000", spec);
    if (is_dir(buf)) {
        char sub[2300];
        snprintf(sub, sizeof sub, "%s/%s", buf, train ? "Train" : "Test");
        if (!is_dir(sub))
            return sbp_fail(err, SBP_ERR_IO,
                            "%s: no such folder — an N-MNIST folder holds Train/ and Test/, each "
                            "with digit folders 0 … 9",
                            sub);
        return sbp_dataset_load_nmnist_dir(out, sub, T, limit, err);
    }
    char *colon = strrchr(buf, ':');
    if (!colon || colon[1] < '0' || colon[1] > '9' || colon[2] != '\0')
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "nmnist: '%s' is neither a folder nor FILE.bin:LABEL with a digit label "
                        "0 … 9",
                        spec);
    *colon = '\0';
    const int label = colon[1] - '0';
    const char *path = buf;
    sbp_dataset *full = NULL;
    sbp_status st = sbp_dataset_load_nmnist(&full, &path, &label, 1, T, err);
    return finish(st, full, limit, out, err);
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
                             sbp_dataset **out, sbp_error *err)
{
    char buf[4400], *parts[5];
    snprintf(buf, sizeof buf, "%s", spec);
    int n = split_list(buf, parts, 4);
    sbp_dataset *full = NULL;
    sbp_status st;
    if (npz) {
        if (n != 1 && n != 2)
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "npz: '%s': expected npz:TRAIN.npz[,TEST.npz]", spec);
        st = sbp_dataset_load_npz(&full, parts[train || n == 1 ? 0 : 1], "x", "y", err);
    } else {
        if (n != 2 && n != 4)
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "npy: '%s': expected npy:X.npy,Y.npy[,TEST_X.npy,TEST_Y.npy]", spec);
        int k = train || n == 2 ? 0 : 2;
        st = sbp_dataset_load_npy(&full, parts[k], parts[k + 1], err);
    }
    return finish(st, full, limit, out, err);
}

/* A folder: its files tell the kind. */
static sbp_status load_folder(const char *dir, int train, size_t limit, sbp_dataset **out,
                              sbp_error *err)
{
    char sub[4400];
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", dir);
    if (has_cifar(dir) || (is_dir(sub) && has_cifar(sub)))
        return load_cifar(dir, train, limit, out, err);
    if (is_file(dir, "train_32x32.mat") || is_file(dir, "test_32x32.mat"))
        return load_svhn(dir, train, limit, out, err);
    char tr[4400], te[4400];
    snprintf(tr, sizeof tr, "%s/Train", dir);
    snprintf(te, sizeof te, "%s/Test", dir);
    if (is_dir(tr) || is_dir(te))
        return load_nmnist(dir, train, limit, out, err);
    return load_idx(dir, train, limit, out, err);
}

sbp_status sbp_dataset_open(sbp_dataset **out, const char *name, sbp_split split, size_t limit,
                            sbp_error *err)
{
    if (!out)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "dataset open: out pointer is NULL");
    *out = NULL;
    if (!name || !*name)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "dataset open: no data set name");
    if (split != SBP_SPLIT_TRAIN && split != SBP_SPLIT_TEST)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "dataset open: split %d is neither train nor "
                        "test", (int)split);
    const int train = split == SBP_SPLIT_TRAIN;
    if (is_dir(name))
        return load_folder(name, train, limit, out, err);
    /* KIND:REST forms */
    enum { K_NPY, K_NPZ, K_NMNIST, K_CIFAR, K_SVHN, K_IDX };
    static const struct {
        const char *prefix;
        int kind;
    } kinds[] = {{"npy:", K_NPY},       {"npz:", K_NPZ},   {"nmnist:", K_NMNIST},
                 {"cifar10:", K_CIFAR}, {"svhn:", K_SVHN}, {"idx:", K_IDX}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t l = strlen(kinds[k].prefix);
        if (strncmp(name, kinds[k].prefix, l) != 0)
            continue;
        const char *rest = name + l;
        if (!*rest)
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "--data %s: a path must follow the colon",
                            name);
        switch (kinds[k].kind) {
        case K_NPY: return load_numpy(rest, 0, train, limit, out, err);
        case K_NPZ: return load_numpy(rest, 1, train, limit, out, err);
        case K_NMNIST: return load_nmnist(rest, train, limit, out, err);
        }
        if (!is_dir(rest))
            return sbp_fail(err, SBP_ERR_IO, "%s: no such folder", rest);
        switch (kinds[k].kind) {
        case K_CIFAR: return load_cifar(rest, train, limit, out, err);
        case K_SVHN: return load_svhn(rest, train, limit, out, err);
        default: return load_idx(rest, train, limit, out, err);
        }
    }
    /* a name: the folder of that name in the data cache */
    char base[64], root[1024], dir[2048];
    snprintf(base, sizeof base, "%.63s", name);
    int T = NMNIST_DEFAULT_T;
    if (!strncmp(base, "nmnist@", 7) && !take_timesteps(base, NMNIST_DEFAULT_T, &T))
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "--data %s: the suffix @T needs T in 1 … 100000", name);
    static const char *const names[] = {"mnist", "fashion-mnist", "cifar10", "svhn", "nmnist"};
    int known = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        known |= !strcmp(base, names[k]);
    if (!known)
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "unknown data set '%s' (use mnist, fashion-mnist, cifar10, svhn, nmnist, "
                        "a data folder, or npy:/npz:/nmnist: paths; see --help)",
                        name);
    snprintf(dir, sizeof dir, "%s/%s", data_root(root, sizeof root), base);
    if (!is_dir(dir))
        return sbp_fail(err, SBP_ERR_IO,
                        "%s: no such folder — fetch the data first with scripts/get-data %s", dir,
                        base);
    if (!strcmp(base, "cifar10"))
        return load_cifar(dir, train, limit, out, err);
    if (!strcmp(base, "svhn"))
        return load_svhn(dir, train, limit, out, err);
    if (!strcmp(base, "nmnist")) {
        char spec[2100];
        snprintf(spec, sizeof spec, "%s@%d", dir, T);
        return load_nmnist(spec, train, limit, out, err);
    }
    return load_idx(dir, train, limit, out, err);
}
