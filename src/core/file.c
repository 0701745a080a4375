/* file.c — see file.h. */
#include "core/file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

sbp_status sbp_open_regular(const char *path, FILE **f, long long *size, sbp_error *err)
{
    *f = fopen(path, "rb");
    if (!*f)
        return sbp_fail(err, SBP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(*f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(*f);
        *f = NULL;
        return sbp_fail(err, SBP_ERR_IO, "%s: not a regular file", path);
    }
    *size = (long long)sb.st_size;
    return SBP_OK;
}
