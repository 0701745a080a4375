/*
 * error.h — filling a caller's sbp_error. Every failing library function goes through
 * sbp_fail() so that the status it returns and the message the caller reads always agree.
 */
#ifndef SBP_CORE_ERROR_H
#define SBP_CORE_ERROR_H

#include "spikebp.h"

#if defined(__GNUC__)
#define SBP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SBP_PRINTF(a, b)
#endif

/* Records `status` and a printf-style message in err (if not NULL); returns status. */
sbp_status sbp_fail(sbp_error *err, sbp_status status, const char *fmt, ...) SBP_PRINTF(3, 4);

#endif
