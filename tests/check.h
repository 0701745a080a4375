/*
 * check.h — the smallest test harness that cannot lie: every CHECK that fails is printed with
 * file and line and makes check_finish() return non-zero, which main() returns.
 */
#ifndef SBP_TESTS_CHECK_H
#define SBP_TESTS_CHECK_H

#include <stdio.h>

void check_record(int ok, const char *file, int line, const char *fmt, ...);
/* Prints "N passed, M failed" and returns the process exit status. */
int check_finish(const char *suite);
/* Path of a file in the source tree (from $SBP_SOURCE_DIR, else "."); static buffer per call. */
const char *check_source_path(const char *rel, char *buf, size_t size);

#define CHECK(cond, ...) check_record(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_NEAR(a, b, tol, what)                                                           \
    do {                                                                                       \
        double ca_ = (a), cb_ = (b);                                                           \
        check_record(fabs(ca_ - cb_) <= (tol), __FILE__, __LINE__, "%s: %.10g vs %.10g", what, \
                     ca_, cb_);                                                                \
    } while (0)

#endif
