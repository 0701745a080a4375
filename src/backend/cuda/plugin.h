/*
 * plugin.h — the contract between the library and the cuda backend's plugin, the module
 * libspikebp-cuda.so (every file of src/backend/cuda, linked against CUDA's runtime, the C++
 * runtime nvcc's host code needs, and libdl). C only: both sides include it.
 *
 * Why a plugin: linked into the library, cudart and libstdc++ cost every process of a CUDA
 * build ~1.9 MiB of resident memory, GPU or not (issue 14: LeNet's peak memory). Now only a
 * process that asks for the cuda backend maps them: sbp_backend_get loads the plugin with
 * dlopen on first use (backend/cuda_loader.c, which also says where it is looked for).
 *
 * The plugin has no undefined sbp_* symbols (it is linked with --no-undefined and never sees
 * the library's): what it needs from the library comes in sbp_cuda_imports, and it exports one
 * function, SBP_CUDA_PLUGIN_ENTRY (sbp_cuda_plugin_open_fn), which hands back the table and
 * the few device queries that are not backend operations.
 */
#ifndef SBP_BACKEND_CUDA_PLUGIN_H
#define SBP_BACKEND_CUDA_PLUGIN_H

#include <stddef.h>

#include "backend/backend.h"

#define SBP_CUDA_PLUGIN_FILE "libspikebp-cuda.so"
#define SBP_CUDA_PLUGIN_ENTRY "sbp_cuda_plugin_open"
/* Bumped whenever this header changes. The structure sizes below are checked as well, so a
 * plugin left over from another build of spikebp refuses to open rather than misread the
 * table or the structs its operations take. */
#define SBP_CUDA_PLUGIN_ABI 1

/* What the library lends the plugin. */
typedef struct sbp_cuda_imports {
    int abi;                 /* SBP_CUDA_PLUGIN_ABI as the library was built */
    size_t sizes[5];         /* sizeof sbp_backend, sbp_layer, sbp_net, sbp_input,
                                sbp_neuron_state as the library was built (sbp_cuda_sizes) */
    /* data/encode.c's sbp_input_values: |x|·gain per pixel, computed once on the host, so
     * that both backends start from the same bits (backend/cuda/encode.cu) */
    void (*input_values)(float *xval, const sbp_input *in, int C, size_t P);
} sbp_cuda_imports;

/* The sizes sbp_cuda_imports.sizes holds, as this side of the contract was compiled. */
#define SBP_CUDA_SIZES                                                                          \
    {sizeof(sbp_backend), sizeof(sbp_layer), sizeof(sbp_net), sizeof(sbp_input),                \
     sizeof(sbp_neuron_state)}

/* What the plugin gives back; every member is filled. */
typedef struct sbp_cuda_plugin {
    const sbp_backend *backend; /* the table (backend/cuda/table.c) */
    /* 1 when a CUDA device can be used from this process (and a cuBLAS handle made on the
     * calling thread); else 0 with why (cap bytes), as the CUDA runtime gives the reason. */
    int (*usable)(char *why, size_t cap);
    /* Device memory in use and in all, in bytes, after the device has finished the work
     * queued so far (cudaMemGetInfo): 1, or 0 when the device does not answer. */
    int (*memory)(size_t *used, size_t *total);
    /* bytes from device memory (a buffer of the table's alloc) to host memory, waiting for
     * the work queued so far: 1, or 0 on failure. Tests read raw device words with it. */
    int (*download)(void *host, const void *device, size_t bytes);
} sbp_cuda_plugin;

/* The exported entry point: the plugin, or NULL with why (cap bytes) when it cannot serve this
 * library (another ABI or other structure sizes). Opening touches no CUDA API: the device is
 * first asked for by usable(). */
typedef const sbp_cuda_plugin *(*sbp_cuda_plugin_open_fn)(const sbp_cuda_imports *imports,
                                                          char *why, size_t cap);

#endif
