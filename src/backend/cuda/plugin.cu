/*
 * plugin.cu — the plugin's entry point (plugin.h): checks that the library opening it was
 * built with the same contract, keeps the library's imports, and hands back the table with the
 * device queries that are not backend operations (memory in use, a raw read for tests).
 * This is the only symbol libspikebp-cuda.so exports (cmake/spikebp-cuda.map).
 */
#include "backend/cuda/common.cuh"

#include <stdio.h>

extern "C" {
#include "backend/cuda/plugin.h"
}

/* The library's functions that the operations call. Process-wide because the table's
 * operations take no context argument to carry them (as blas.cu's state): written by the
 * entry point before the table is handed out — the library opens the plugin once, under
 * pthread_once (backend/cuda_loader.c) — and only read after. */
static sbp_cuda_imports imports;

extern "C" void sbp_cuda_input_values(float *xval, const sbp_input *in, int C, size_t P)
{
    imports.input_values(xval, in, C, P);
}

static int memory(size_t *used, size_t *total)
{
    size_t free_b = 0, total_b = 0;
    if (cudaDeviceSynchronize() != cudaSuccess || cudaMemGetInfo(&free_b, &total_b) != cudaSuccess)
        return 0;
    *used = total_b - free_b;
    *total = total_b;
    return 1;
}

/* cudaMemcpy on the thread's default stream (SBP_STREAM): after the work it has queued. */
static int download(void *host, const void *device, size_t bytes)
{
    return cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost) == cudaSuccess;
}

static const sbp_cuda_plugin plugin = {
    &sbp_backend_cuda, sbp_cuda_usable, memory, download,
};

extern "C" __attribute__((visibility("default"))) const sbp_cuda_plugin *
sbp_cuda_plugin_open(const sbp_cuda_imports *lib, char *why, size_t cap)
{
    static const size_t sizes[] = SBP_CUDA_SIZES;
    static const char *const names[] = {"sbp_backend", "sbp_layer", "sbp_net", "sbp_input",
                                        "sbp_neuron_state"};
    static_assert(sizeof sizes == sizeof lib->sizes, "one size per structure");
    if (lib->abi != SBP_CUDA_PLUGIN_ABI) {
        snprintf(why, cap, "it was built for another version of spikebp (plugin contract %d, "
                 "the library's %d)", SBP_CUDA_PLUGIN_ABI, lib->abi);
        return NULL;
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (lib->sizes[i] != sizes[i]) {
            snprintf(why, cap, "it was built for another version of spikebp (%s is %zu bytes "
                     "there, %zu in the library)", names[i], sizes[i], lib->sizes[i]);
            return NULL;
        }
    if (!lib->input_values) {
        snprintf(why, cap, "the library lent no sbp_input_values");
        return NULL;
    }
    imports = *lib;
    return &plugin;
}
