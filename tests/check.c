/* check.c — counters for check.h. */
#include "check.h"

#include <stdarg.h>
#include <stdlib.h>

static int n_pass, n_fail; /* test-process-local counters; the library has no globals */

void check_record(int ok, const char *file, int line, const char *fmt, ...)
{
    if (ok) {
        n_pass++;
        return;
    }
    n_fail++;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int check_finish(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, n_pass, n_fail);
    return (n_fail == 0 && n_pass > 0) ? 0 : 1;
}

const char *check_source_path(const char *rel, char *buf, size_t size)
{
    const char *root = getenv("SBP_SOURCE_DIR");
    snprintf(buf, size, "%s/%s", root ? root : ".", rel);
    return buf;
}
