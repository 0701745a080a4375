/*
 * kernel_bench.h — what the single-kernel benchmarks (bound.c, bench_kernels.c, conv_real.c,
 * bench_onednn.c) share: a monotonic clock and 64-byte-aligned arrays of random floats.
 */
#ifndef SBP_BENCH_KERNEL_BENCH_H
#define SBP_BENCH_KERNEL_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* n floats, 64-byte aligned, uniform in [−0.5, 0.5); exits naming `who` when out of memory. */
static inline float *bench_falloc(const char *who, size_t n)
{
    float *p = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", who);
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return p;
}

#endif
