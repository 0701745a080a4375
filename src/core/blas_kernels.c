/*
 * blas_kernels.c — which kernels OpenBLAS runs, and the remedy where it does not know the CPU.
 *
 * OpenBLAS picks its kernels once, as it loads, from the CPU's model number. Versions before
 * 0.3.25 (Debian 12 ships 0.3.21) fall back to their generic SSE3 kernels, "Prescott", for an
 * Intel model they do not know (upstream OpenBLAS issue 4267, fixed by pull request 4268) — an
 * Emerald Rapids Xeon (family 6, model 207) among them: sgemm at 77 GFLOP/s on two cores
 * instead of 386 with the SkylakeX kernels the CPU can run (`sbp_bench --sgemm-peak`, 2026-12-05).
 * OpenBLAS reads OPENBLAS_CORETYPE only as it loads, so a program that finds the fallback sets
 * the variable and executes itself again: nothing in the process has run yet but main()'s first
 * line. Only the fallback is overridden: a choice OpenBLAS made knowingly, or a variable the
 * user set, is left as it is.
 */
#include "core/blas.h"
#include "spikebp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *sbp_blas_kernels(void)
{
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

/* The kernels this CPU can run where OpenBLAS fell back to Prescott: SkylakeX needs AVX-512
 * F/CD/BW/DQ/VL, Haswell AVX2 and FMA; NULL for neither (Prescott is then what it should be). */
static const char *better_kernels(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
#endif
    return NULL;
}

void sbp_blas_pick_kernels(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || strcmp(sbp_blas_kernels(), "Prescott") != 0)
        return;
    const char *better = better_kernels();
    if (!better)
        return;
    /* Under valgrind the program runs on valgrind's CPU, and a new image would escape it. */
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "vgpreload"))
        return;
    if (setenv("OPENBLAS_CORETYPE", better, 1) != 0 || setenv("SBP_BLAS_KERNELS_SET", "1", 1) != 0)
        return;
    fflush(NULL);
    execv("/proc/self/exe", argv);
    /* still here: carry on with the slow kernels, and say how to get the fast ones */
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("SBP_BLAS_KERNELS_SET");
    fprintf(stderr,
            "spikebp: OpenBLAS does not know this CPU and uses its generic SSE3 kernels; "
            "OPENBLAS_CORETYPE=%s in the environment selects the fast ones\n",
            better);
}

void sbp_describe_blas(char *buf, size_t size)
{
    const char *set = getenv("SBP_BLAS_KERNELS_SET");
    const char *name = sbp_blas_kernels(), *better = better_kernels();
    if (set && !strcmp(set, "1"))
        snprintf(buf, size,
                 "OpenBLAS %s kernels (OPENBLAS_CORETYPE set by spikebp: this OpenBLAS does not "
                 "know the CPU and would use its generic SSE3 ones)",
                 name);
    else if (!strcmp(name, "Prescott") && better)
        snprintf(buf, size,
                 "OpenBLAS Prescott kernels (generic SSE3: OPENBLAS_CORETYPE=%s is faster here)",
                 better);
    else
        snprintf(buf, size, "OpenBLAS %s kernels", name);
}
