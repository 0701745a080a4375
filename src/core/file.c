/* file.c — see file.h. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

const char *sbp_file_kind(unsigned mode)
{
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return S_ISREG(mode) ? "a regular file" : "not a regular file";
}

sbp_status sbp_open_regular(const char *path, FILE **f, long long *size, sbp_error *err)
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever. It
     * changes nothing for the regular files that pass the check below. */
    *f = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return sbp_fail(err, SBP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sbp_fail(err, SBP_ERR_IO, "%s: %s, not a regular file", path,
                        sbp_file_kind((unsigned)sb.st_mode));
    }
    *f = fdopen(fd, "rb");
    if (!*f) {
        int e = errno;
        close(fd);
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: cannot open: %s", path, strerror(e));
    }
    *size = (long long)sb.st_size;
    return SBP_OK;
}

/* fsyncs the folder holding `path` so that a rename into it is durable. Best effort: the new
 * file is already in place, and some file systems refuse fsync on a folder (EINVAL), so a
 * failure here is not reported as a failed write. */
static void sync_folder(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int dfd = open(dirname(copy), O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(copy);
}

static sbp_status write_failed(sbp_error *err, const char *path, int e)
{
    return sbp_fail(err, SBP_ERR_IO,
                    "%s: write failed: %s (the previous file, if any, is untouched)", path,
                    strerror(e));
}

/* One sequence for both kinds of writer: exactly one of `stream` and `named` is set. */
static sbp_status write_atomic(const char *path, sbp_stream_writer stream, sbp_path_writer named,
                               void *ctx, sbp_error *err)
{
    if (!path)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "atomic write: path is NULL");
    const size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp)
        return sbp_fail(err, SBP_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, pl + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        sbp_status st = sbp_fail(err, SBP_ERR_IO, "%s: cannot create a temporary file: %s", path,
                                 strerror(errno));
        free(tmp);
        return st;
    }
    fchmod(fd, 0644);
    sbp_status st = SBP_OK;
    int e = 0;
    if (stream) {
        FILE *f = fdopen(fd, "wb");
        if (!f) {
            e = errno;
            close(fd);
        } else {
            errno = 0;
            st = stream(f, ctx, err);
            if (st == SBP_OK && ferror(f))
                e = errno ? errno : EIO;
            if (st == SBP_OK && !e && fflush(f) != 0)
                e = errno;
            if (st == SBP_OK && !e && fsync(fileno(f)) != 0)
                e = errno;
            if (fclose(f) != 0 && st == SBP_OK && !e)
                e = errno;
        }
    } else {
        close(fd); /* the writer opens the file by its name */
        st = named(tmp, ctx, err);
        if (st == SBP_OK) {
            fd = open(tmp, O_RDONLY);
            if (fd < 0 || fsync(fd) != 0)
                e = errno;
            if (fd >= 0)
                close(fd);
        }
    }
    if (st == SBP_OK && !e && rename(tmp, path) != 0)
        e = errno;
    if (st == SBP_OK && e)
        st = write_failed(err, path, e);
    if (st != SBP_OK) {
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    sync_folder(path);
    return SBP_OK;
}

sbp_status sbp_write_atomic(const char *path, sbp_stream_writer write, void *ctx, sbp_error *err)
{
    return write_atomic(path, write, NULL, ctx, err);
}

sbp_status sbp_write_atomic_path(const char *path, sbp_path_writer write, void *ctx,
                                 sbp_error *err)
{
    return write_atomic(path, NULL, write, ctx, err);
}
