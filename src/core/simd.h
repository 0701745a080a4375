/*
 * simd.h — run-time selection of wider vector instructions for the hot elementwise kernels.
 *
 * SBP_HOT compiles a function several times (AVX-512, AVX2, baseline x86-64) and lets the
 * loader pick the widest one the running CPU supports (GCC/Clang function multi-versioning via
 * ifunc). Nothing is assumed about the build machine; on other architectures it is a no-op.
 */
#ifndef SBP_CORE_SIMD_H
#define SBP_CORE_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(SBP_NO_MULTIVERSION) &&              \
    (!defined(__clang__) || __clang_major__ >= 14)
#define SBP_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SBP_HOT
#endif

#endif
