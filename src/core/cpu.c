/* cpu.c — see cpu.h. */
#include "core/cpu.h"

#include "spikebp.h"

#include <stdio.h>
#include <stdlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

int sbp_use_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(SBP_NO_MULTIVERSION)
    /* -1 unknown; a race between threads only computes the same value twice */
    static volatile int use = -1;
    if (use < 0) {
        const char *off = getenv("SBP_NO_AVX512");
        use = __builtin_cpu_supports("avx512f") && !(off && *off && *off != '0');
    }
    return use;
#else
    return 0;
#endif
}

void sbp_describe_cpu(char *buf, size_t size)
{
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    int amx = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
        amx = (d >> 24) & 1u; /* CPUID.(7,0):EDX[24] AMX-TILE */
    const int has512 = __builtin_cpu_supports("avx512f"), has2 = __builtin_cpu_supports("avx2");
    snprintf(buf, size, "AVX-512F %s, AVX2 %s, AMX-TILE %s",
             has512 ? (sbp_use_avx512() ? "yes (used)" : "yes (off: SBP_NO_AVX512)") : "no",
             has2 ? "yes" : "no",
             amx ? "yes (not used: AMX multiplies bf16/int8 tiles, not the fp32 of SPEC)"
                 : "no");
#else
    snprintf(buf, size, "not x86-64: portable loops only");
#endif
}
