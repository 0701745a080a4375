/* outputs.c — see outputs.h. */
#include "outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static const char *kind_name(cli_out_kind kind)
{
    switch (kind) {
    case CLI_OUT_MODEL: return "a spikebp model";
    case CLI_OUT_LOG: return "a spikebp training log";
    case CLI_OUT_CSV: return "a CSV file of 'spikebp analyze'";
    case CLI_OUT_NPZ: return "a NumPy .npz archive";
    case CLI_OUT_NIR: return "a NIR (HDF5) file";
    default: return "a PNG or SVG figure";
    }
}

/* 1 if the first bytes of the regular file behind fd are those spikebp writes for `kind`. An
 * empty file holds nothing to lose and is accepted. */
static int written_by_us(int fd, cli_out_kind kind)
{
    char head[64];
    ssize_t n = pread(fd, head, sizeof head - 1, 0);
    if (n < 0)
        return 0;
    if (n == 0)
        return 1;
    head[n] = '\0';
#define STARTS(lit) ((size_t)n >= sizeof lit - 1 && memcmp(head, lit, sizeof lit - 1) == 0)
    switch (kind) {
    case CLI_OUT_MODEL: return STARTS("SPIKEBP\n");
    case CLI_OUT_LOG: return STARTS(CLI_LOG_HEADER_PREFIX);
    case CLI_OUT_CSV: return STARTS("layer,name,kind,") || STARTS("steps,accuracy,");
    case CLI_OUT_NPZ: return STARTS("PK\3\4") || STARTS("PK\5\6");
    case CLI_OUT_NIR: return STARTS("\x89HDF\r\n\x1a\n");
    default: return STARTS("\x89PNG\r\n\x1a\n") || STARTS("<?xml") || STARTS("<svg");
    }
#undef STARTS
}

int cli_check_output(const char *opt, const char *path, cli_out_kind kind,
                     const char *const *inputs, size_t n_inputs, char *msg, size_t size)
{
    const size_t len = strlen(path);
    if (len == 0) {
        snprintf(msg, size, "%s: the path is empty", opt);
        return -1;
    }
    if (path[len - 1] == '/') {
        snprintf(msg, size, "%s %s: names a folder; give a file name", opt, path);
        return -1;
    }
    if (len >= 4096) {
        snprintf(msg, size, "%s: the path is %zu bytes long (at most 4095)", opt, len);
        return -1;
    }
    /* Every folder on the way that exists must be a folder (missing ones are made later). */
    char buf[4096];
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        struct stat sb;
        if (stat(buf, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
            snprintf(msg, size, "%s %s: %s: exists and is not a folder", opt, path, buf);
            return -1;
        }
        *p = '/';
    }
    /* The nearest folder that exists must let us create files (the temporary file of an atomic
     * write, or the missing folders). */
    char *slash = strrchr(buf, '/');
    for (;;) {
        if (slash)
            *slash = '\0';
        const char *dir = slash ? (buf[0] ? buf : "/") : ".";
        struct stat ds;
        if (stat(dir, &ds) == 0) {
            if (access(dir, W_OK | X_OK) != 0) {
                snprintf(msg, size, "%s %s: cannot write in the folder %s: %s", opt, path, dir,
                         strerror(errno));
                return -1;
            }
            break;
        }
        if (!slash)
            break;
        slash = strrchr(buf, '/');
    }
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(msg, size, "%s %s: %s", opt, path, strerror(errno));
        return -1;
    }
    if (S_ISLNK(sb.st_mode) && stat(path, &sb) != 0) {
        snprintf(msg, size, "%s %s: a dangling symbolic link; remove it or give another path",
                 opt, path);
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(msg, size, "%s %s: is a folder; give a file name inside it", opt, path);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(msg, size, "%s %s: exists and is not a regular file (a FIFO, socket or "
                 "device); spikebp replaces only files it wrote", opt, path);
        return -1;
    }
    for (size_t i = 0; i < n_inputs; i++)
        if (inputs[i] && cli_same_file(path, inputs[i])) {
            snprintf(msg, size, "%s %s: is an input of this command (%s); writing it would "
                     "destroy it", opt, path, inputs[i]);
            return -1;
        }
    /* O_NONBLOCK: never wait on something that turned into a FIFO since the stat. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(msg, size, "%s %s: cannot read the existing file: %s", opt, path,
                 strerror(errno));
        return -1;
    }
    int ours = written_by_us(fd, kind);
    close(fd);
    if (!ours) {
        snprintf(msg, size, "%s %s: the existing file is not %s; spikebp replaces only files "
                 "it wrote (remove it or give another path)", opt, path, kind_name(kind));
        return -1;
    }
    return 0;
}

size_t cli_data_inputs(const char *data, char (*store)[4096], const char **paths)
{
    static const char *const kinds[] = {"npy:", "npz:", "nmnist:", "cifar10:", "svhn:", "idx:"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t l = strlen(kinds[k]);
        if (strncmp(data, kinds[k], l))
            continue;
        size_t n = 0;
        const char *p = data + l;
        while (*p && n < CLI_MAX_DATA_INPUTS) {
            size_t len = strcspn(p, ",");
            snprintf(store[n], 4096, "%.*s", (int)len, p);
            char *at = strrchr(store[n], '@'), *colon = strrchr(store[n], ':');
            if (at)
                *at = '\0';
            if (colon && colon[1] >= '0' && colon[1] <= '9' && !colon[2])
                *colon = '\0';
            paths[n] = store[n];
            n++;
            p += len + (p[len] == ',');
        }
        return n;
    }
    snprintf(store[0], 4096, "%s", data);
    paths[0] = store[0];
    return 1;
}

int cli_check_folder(const char *opt, const char *dir, char *msg, size_t size)
{
    const size_t len = strlen(dir);
    if (len == 0) {
        snprintf(msg, size, "%s: the path is empty", opt);
        return -1;
    }
    if (len >= 4096) {
        snprintf(msg, size, "%s: the path is %zu bytes long (at most 4095)", opt, len);
        return -1;
    }
    char buf[4096];
    memcpy(buf, dir, len + 1);
    size_t deepest = 0; /* length of the deepest part that exists (0: none, the current folder) */
    for (char *p = buf + 1;; p++) {
        const int end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        struct stat sb;
        if (stat(buf, &sb) == 0) {
            if (!S_ISDIR(sb.st_mode)) {
                snprintf(msg, size, "%s %s: %s: exists and is not a folder", opt, dir, buf);
                return -1;
            }
            deepest = (size_t)(p - buf);
        }
        if (end)
            break;
        *p = '/';
    }
    memcpy(buf, dir, len + 1);
    buf[deepest] = '\0';
    const char *where = deepest ? buf : (dir[0] == '/' ? "/" : ".");
    if (access(where, W_OK | X_OK) != 0) { /* checkpoints are written (and folders made) there */
        snprintf(msg, size, "%s %s: cannot write in the folder %s: %s", opt, dir, where,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int cli_check_meta_value(const char *what, const char *value, char *msg, size_t size)
{
    const size_t n = strlen(value);
    if (n >= 1024) {
        snprintf(msg, size, "%s is %zu bytes long; the model metadata holds at most 1023",
                 what, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)value[i] < 32) {
            snprintf(msg, size, "%s contains a control character (byte %zu), which the model "
                     "metadata cannot hold", what, i + 1);
            return -1;
        }
    return 0;
}

int cli_absolute_path(const char *path, char *out, size_t out_size, char *msg, size_t size)
{
    int n;
    if (path[0] == '/') {
        n = snprintf(out, out_size, "%s", path);
    } else {
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd)) {
            snprintf(msg, size, "%s: cannot tell the current folder: %s", path, strerror(errno));
            return -1;
        }
        while (path[0] == '.' && path[1] == '/') /* "./x" → "x": shorter stored paths */
            path += 2;
        n = snprintf(out, out_size, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", path);
    }
    if (n < 0 || (size_t)n >= out_size) {
        snprintf(msg, size, "%.200s: the absolute path is too long (at most %zu bytes)", path,
                 out_size - 1);
        return -1;
    }
    return 0;
}
