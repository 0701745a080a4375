/*
 * test_golden.c — both backward modes of §3 against the independent float64 NumPy reference
 * (tests/golden/gen_golden.py writes tests/golden/NAME.txt), with the plain-loop reference path and
 * the fast path, and with several chunk lengths (the fast path's chunking must not matter).
 * Checked per sample-batch: outputs o, loss, spike counts γ, NG, and dL/dW of every layer.
 */
#include "check.h"
#include "golden_case.h"

int main(void)
{
    const char *cases[] = {"small", "lenetlike", "residual"};
    for (int c = 0; c < 3; c++)
        for (int m = 0; m < SBP_BACKWARD_COUNT; m++) {
            golden_run_case(cases[c], &sbp_backend_reference, 0, (sbp_backward)m);
            golden_run_case(cases[c], &sbp_backend_cpu, 0, (sbp_backward)m);  /* one chunk */
            golden_run_case(cases[c], &sbp_backend_cpu, 1, (sbp_backward)m);  /* step by step */
            golden_run_case(cases[c], &sbp_backend_cpu, 5, (sbp_backward)m);  /* uneven chunks */
        }
    return check_finish("golden");
}
