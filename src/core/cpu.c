/* cpu.c — see cpu.h. */
#include "core/cpu.h"

#include <stdlib.h>

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
