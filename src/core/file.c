/* file.c — see file.h. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
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
