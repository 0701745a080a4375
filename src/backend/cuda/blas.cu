/*
 * blas.cu — cuBLAS for the cuda backend, loaded when the backend is first asked for
 * (sbp_cuda_usable) rather than linked: linking libcublas makes every process of a CUDA build
 * map and relocate ~600 MB of cuBLAS/cuBLASLt at start-up (230 MB resident for `spikebp
 * --version`, against 13 MB without) and dlopen the driver, even when it never leaves the CPU.
 * Only the five entry points below are used; the header gives their types.
 *
 * State: the loaded library's entry points (process-wide, filled once, thread-safe by C++'s
 * static initialisation, never changed after) and one handle per host thread (thread-local,
 * created on first use; never destroyed, it lives as long as its thread). Both exist because
 * the table's operations take no context argument (docs/cuda.md).
 */
#include "backend/cuda/common.cuh"

#include <dlfcn.h>
#include <stdio.h>

#define SBP_STR2(x) #x
#define SBP_STR(x) SBP_STR2(x)
/* the cuBLAS of the toolkit this was compiled with: libcublas.so.13 for CUDA 13 */
#define SBP_CUBLAS_SONAME "libcublas.so." SBP_STR(CUBLAS_VER_MAJOR)

namespace {

struct blas_api {
    void *lib;
    char why[256]; /* why it could not be loaded, if lib is NULL */
    cublasStatus_t (*create)(cublasHandle_t *);
    cublasStatus_t (*set_stream)(cublasHandle_t, cudaStream_t);
    cublasStatus_t (*set_math_mode)(cublasHandle_t, cublasMath_t);
    cublasStatus_t (*sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                            const float *, const float *, int, const float *, int, const float *,
                            float *, int);
    cublasStatus_t (*sgemm_strided)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                    int, const float *, const float *, int, long long,
                                    const float *, int, long long, const float *, float *, int,
                                    long long, int);
};

template <typename F> static int sym(blas_api *a, F *out, const char *name)
{
    *out = reinterpret_cast<F>(dlsym(a->lib, name));
    if (!*out)
        snprintf(a->why, sizeof a->why, "%s has no %s", SBP_CUBLAS_SONAME, name);
    return *out != nullptr;
}

static blas_api load()
{
    blas_api a = {};
    a.lib = dlopen(SBP_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!a.lib) {
        const char *e = dlerror();
        snprintf(a.why, sizeof a.why, "cannot load cuBLAS: %s", e ? e : SBP_CUBLAS_SONAME);
        return a;
    }
    /* the _v2 names are what cublas_v2.h's macros call */
    if (!sym(&a, &a.create, "cublasCreate_v2") || !sym(&a, &a.set_stream, "cublasSetStream_v2") ||
        !sym(&a, &a.set_math_mode, "cublasSetMathMode") || !sym(&a, &a.sgemm, "cublasSgemm_v2") ||
        !sym(&a, &a.sgemm_strided, "cublasSgemmStridedBatched")) {
        dlclose(a.lib);
        a.lib = nullptr;
    }
    return a;
}

static const blas_api &api()
{
    static const blas_api a = load(); /* once per process, thread-safe (C++11) */
    return a;
}

thread_local cublasHandle_t handle;
thread_local int handle_state; /* 0 untried, 1 ready, −1 failed */

} // namespace

int sbp_cuda_blas_load(char *why, size_t cap)
{
    if (!api().lib) {
        snprintf(why, cap, "%s", api().why);
        return 0;
    }
    return 1;
}

cublasHandle_t sbp_cuda_blas(void)
{
    const blas_api &a = api();
    if (handle_state == 0 && a.lib) {
        handle_state = a.create(&handle) == CUBLAS_STATUS_SUCCESS ? 1 : -1;
        /* CUBLAS_DEFAULT_MATH: FP32 products as in the CPU's SGEMM, no TF32 tensor-core
         * rounding (issue 12: TF32 only ever as an option, never the default). */
        if (handle_state == 1 &&
            (a.set_stream(handle, SBP_STREAM) != CUBLAS_STATUS_SUCCESS ||
             a.set_math_mode(handle, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS))
            handle_state = -1;
    }
    return handle_state == 1 ? handle : nullptr;
}

void sbp_sgemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    cublasHandle_t h = sbp_cuda_blas();
    if (h) /* else sbp_backend_get has refused the backend on this thread's first call */
        api().sgemm(h, ta, tb, m, n, k, &alpha, A, lda, B, ldb, &beta, C, ldc);
}

void sbp_sgemm_strided(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                       float alpha, const float *A, int lda, long long sa, const float *B, int ldb,
                       long long sb, float beta, float *C, int ldc, long long sc, int batch)
{
    cublasHandle_t h = sbp_cuda_blas();
    if (h)
        api().sgemm_strided(h, ta, tb, m, n, k, &alpha, A, lda, sa, B, ldb, sb, &beta, C, ldc, sc,
                            batch);
}
