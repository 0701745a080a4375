/*
 * golden_case.h — the golden fixtures of tests/golden/ as a case any test can run on any
 * backend (tests/test_golden.c: reference and cpu; tests/test_cuda.c: cuda).
 */
#ifndef SBP_TESTS_GOLDEN_CASE_H
#define SBP_TESTS_GOLDEN_CASE_H

#include "backend/backend.h"

/* Fixture `name` (small, lenetlike, residual) through backend be with chunks of tc steps (0:
 * the backend's choice) in backward mode `mode`; failures are CHECKs. */
void golden_run_case(const char *name, const sbp_backend *be, int tc, sbp_backward mode);

#endif
