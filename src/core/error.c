/* error.c — status names and the one function that fills an sbp_error. */
#include "core/error.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>

static const char *const status_names[] = {
    [SBP_OK] = "ok",
    [SBP_ERR_INVALID_ARG] = "invalid argument",
    [SBP_ERR_NOMEM] = "out of memory",
    [SBP_ERR_IO] = "input/output error",
    [SBP_ERR_FORMAT] = "malformed file",
    [SBP_ERR_SHAPE] = "shape mismatch",
    [SBP_ERR_NUMERIC] = "numerical fault (NaN or Inf)",
    [SBP_ERR_UNSUPPORTED] = "unsupported",
    [SBP_ERR_INTERRUPTED] = "interrupted",
};
static_assert(sizeof status_names / sizeof status_names[0] == SBP_STATUS_COUNT,
              "one name per sbp_status");

const char *sbp_status_string(sbp_status s)
{
    if ((unsigned)s >= SBP_STATUS_COUNT)
        return "unknown status";
    return status_names[s];
}

sbp_status sbp_fail(sbp_error *err, sbp_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}
