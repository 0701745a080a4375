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

/* cuBLAS (blas.cu): loaded on first use; 0 with why if the library cannot be loaded. */
int sbp_cuda_blas_load(char *why, size_t cap);
/* The calling thread's cuBLAS handle on SBP_STREAM, created on first use; NULL if cuBLAS
 * cannot start (sbp_backend_get has checked that it can on the thread that asked). */
cublasHandle_t sbp_cuda_blas(void);
/* cublasSgemm / cublasSgemmStridedBatched on the thread's handle (column-major, as cuBLAS). */
void sbp_sgemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
void sbp_sgemm_strided(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                       float alpha, const float *A, int lda, long long sa, const float *B, int ldb,
                       long long sb, float beta, float *C, int ldc, long long sc, int batch);

#endif
