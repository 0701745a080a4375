/*
 * common.cuh — what the cuda backend's .cu files share: the stream every operation is queued
 * on, the launch geometry, the thread's cuBLAS handle. CUDA C++ only (not part of the C API).
 */
#ifndef SBP_BACKEND_CUDA_COMMON_CUH
#define SBP_BACKEND_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "backend/cuda/cuda.h"

/* Every operation of a host thread goes to that thread's default stream (cuda.h). */
#define SBP_STREAM cudaStreamPerThread

/* Threads per block of the elementwise kernels: a multiple of 32, so that the neuron kernels'
 * warps cover whole 32-bit words of spike bits. */
#define SBP_BLOCK 256

static inline unsigned sbp_blocks(size_t n)
{
    return (unsigned)((n + SBP_BLOCK - 1) / SBP_BLOCK);
}

/* The calling thread's cuBLAS handle on SBP_STREAM, created on first use; NULL if cuBLAS
 * cannot start (sbp_backend_get has checked that it can on the thread that asked). */
cublasHandle_t sbp_cuda_blas(void);

#endif
