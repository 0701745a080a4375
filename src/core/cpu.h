/*
 * cpu.h — run-time choice of the hand-vectorised AVX-512 paths (event lists, spike bits, the
 * event-driven kernels' inner loops). True when the running CPU has AVX-512F and the
 * environment does not set SBP_NO_AVX512 (which the test suite uses to run the portable loops
 * on an AVX-512 machine too). Plain C loops multiversioned by the compiler (core/simd.h) are
 * not affected. Decided once per process: a pure function of the CPU and the
 * environment, cached because it is asked on every kernel call.
 */
#ifndef SBP_CORE_CPU_H
#define SBP_CORE_CPU_H

int sbp_use_avx512(void);

/* sbp_describe_cpu (spikebp.h) is implemented in cpu.c. */

#endif
