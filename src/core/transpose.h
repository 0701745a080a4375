/* transpose.h — cache-blocked out-of-place matrix transpose: dst (cols, rows) = src (rows, cols)ᵀ.
 * The event-driven kernels accumulate channel-last and the neurons read channel-first; a naive
 * transpose's strided stores cost more than the synaptic work itself at low spike rates. */
#ifndef SBP_CORE_TRANSPOSE_H
#define SBP_CORE_TRANSPOSE_H

#include <stddef.h>

void sbp_transpose(float *dst, const float *src, size_t rows, size_t cols);

#endif
