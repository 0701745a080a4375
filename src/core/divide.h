/*
 * divide.h — division of 32-bit unsigned integers by a divisor fixed at run time, by one
 * multiplication: the event kernels split every event's flat input index into row, column and
 * channel (i / Cin, pixel / W, …), and a hardware divide per event costs more than the work of
 * many events' bookkeeping (it is not pipelined like a multiply).
 *
 * With m = ⌊(2⁶⁴ − 1) / d⌋ + 1 = ⌈2⁶⁴ / d⌉ (2⁶⁴ / d itself for a power of two), q = ⌊n·m / 2⁶⁴⌋
 * equals ⌊n / d⌋ for every n < 2³² and 2 ≤ d < 2³²: n·m / 2⁶⁴ = n/d + n·δ / 2⁶⁴ with 0 ≤ δ < 1,
 * an excess below 2⁻³² ≤ 1/d, which cannot carry n/d past the next integer (its fraction is at
 * most 1 − 1/d). d = 1 is its own case. Checked against `/` and `%` by tests/test_kernels.c.
 */
#ifndef SBP_CORE_DIVIDE_H
#define SBP_CORE_DIVIDE_H

#include <stdint.h>

typedef struct sbp_divider {
    uint64_t m; /* 0 for d = 1 */
    uint32_t d;
} sbp_divider;

static inline sbp_divider sbp_divider_make(uint32_t d)
{
    sbp_divider v = {d > 1 ? UINT64_MAX / d + 1 : 0, d};
    return v;
}

/* ⌊n / d⌋ */
static inline uint32_t sbp_div(uint32_t n, sbp_divider v)
{
    return v.m ? (uint32_t)(((unsigned __int128)n * v.m) >> 64) : n;
}

/* n mod d, given q = ⌊n / d⌋ */
static inline uint32_t sbp_mod_q(uint32_t n, uint32_t q, sbp_divider v)
{
    return n - q * v.d;
}

#endif
