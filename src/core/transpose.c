/* transpose.c — see transpose.h. 32×32 tiles keep both the read and the write side in cache. */
#include "core/transpose.h"

#include "core/simd.h"

#define TILE 32

/* Static, with an exported wrapper below: clang 14 emits no resolver for an exported
 * SBP_HOT function (the library did not link with it). */
static SBP_HOT void transpose(float *dst, const float *src, size_t rows, size_t cols)
{
    for (size_t r0 = 0; r0 < rows; r0 += TILE) {
        const size_t r1 = r0 + TILE < rows ? r0 + TILE : rows;
        for (size_t c0 = 0; c0 < cols; c0 += TILE) {
            const size_t c1 = c0 + TILE < cols ? c0 + TILE : cols;
            for (size_t c = c0; c < c1; c++)
                for (size_t r = r0; r < r1; r++)
                    dst[c * rows + r] = src[r * cols + c];
        }
    }
}

void sbp_transpose(float *dst, const float *src, size_t rows, size_t cols)
{
    transpose(dst, src, rows, cols);
}
