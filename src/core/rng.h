/*
 * rng.h — counter-based random numbers (Philox4x32-10 from Random123).
 *
 * Every random draw in spikebp is a pure function of (seed, stream, counter): the same input
 * spike, dropout mask or initial weight comes out whatever the thread count, batch size or
 * order of evaluation. That is what makes runs reproducible and resumable without saving any
 * generator state beyond the seed. Streams keep the uses apart.
 */
#ifndef SBP_CORE_RNG_H
#define SBP_CORE_RNG_H

#include <stdint.h>

typedef enum sbp_rng_stream {
    SBP_RNG_INIT = 1,    /* weight initialisation: (layer, index) */
    SBP_RNG_SHUFFLE,     /* data order: (epoch, step) */
    SBP_RNG_ENCODE,      /* input spikes: (epoch or eval tag, sample, t, pixel/4) */
    SBP_RNG_DROPOUT,     /* dropout masks: (epoch, sample, layer, neuron/4) */
    SBP_RNG_AUGMENT,     /* crop offsets and flips: (epoch, sample) */
} sbp_rng_stream;

typedef struct sbp_rng_key {
    uint32_t k[2];
} sbp_rng_key;

/* The key for a (seed, stream) pair. */
sbp_rng_key sbp_rng_key_make(uint64_t seed, sbp_rng_stream stream);

/* Four independent 32-bit words for counter (c0, c1, c2, c3). */
void sbp_rng_words(sbp_rng_key key, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                   uint32_t out[4]);

/* The words of 16 consecutive counters (c0, c1, c2, c3 + q), q = 0 … 15: out[w][q] is word w
 * of counter q, exactly as sbp_rng_words gives it. Sixteen Philox lanes at once with AVX-512
 * where the CPU has it (core/cpu.h), else one counter after the other. */
void sbp_rng_words16(sbp_rng_key key, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                     uint32_t out[4][16]);

/* The same for 16 arbitrary counters (c0, c1, c2[q], c3[q]): out[w][q] is word w of counter q.
 * Lets a caller draw only the counters it needs (the encoder skips pixels that cannot spike). */
void sbp_rng_words16_lanes(sbp_rng_key key, uint32_t c0, uint32_t c1, const uint32_t c2[16],
                           const uint32_t c3[16], uint32_t out[4][16]);

/* A 32-bit word mapped to a float in [0, 1) with 24 bits of resolution. */
static inline float sbp_rng_unit(uint32_t w)
{
    return (float)(w >> 8) * (1.0f / 16777216.0f);
}

/* Standard normal draw number `i` of stream (key, c0, c1) (Box–Muller on a Philox pair). */
double sbp_rng_normal(sbp_rng_key key, uint32_t c0, uint32_t c1, uint64_t i);

/* Uniform integer in [0, n) for counter (c0, c1, c2), rejection-free via 64-bit multiply. */
uint32_t sbp_rng_below(sbp_rng_key key, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t n);

#endif
