/*
 * blas.h — the one place the CBLAS header is included. OpenBLAS's cblas.h pulls in
 * <complex.h>, whose macro `I` would collide with our name for the synaptic current.
 */
#ifndef SBP_CORE_BLAS_H
#define SBP_CORE_BLAS_H

#include <cblas.h>
#ifdef I
#undef I
#endif

#endif
