/*
 * cuda_loader.h — the cuda backend's plugin, libspikebp-cuda.so (backend/cuda/plugin.h),
 * loaded with dlopen the first time a process asks for it, so that no other process maps
 * CUDA's runtime or the C++ runtime. sbp_backend_get uses it; sbp_bench (GPU memory in use)
 * and test_cuda (raw device words) reach the plugin's device queries through it.
 *
 * Where it is looked for, first found wins:
 *   1. the file named by the environment variable SBP_CUDA_PLUGIN, if set — then nowhere else,
 *      so that a wrong setting is reported rather than passed over;
 *   2. the folder of the object holding this code (dladdr: libspikebp.so, or the executable
 *      that linked libspikebp.a);
 *   3. the folder of the running executable (/proc/self/exe), its ../lib and its ../LIBDIR;
 *   4. the install LIBDIR (SBP_INSTALL_LIBDIR, from CMake);
 *   5. the bare name, through ld.so's search path (LD_LIBRARY_PATH, ld.so.conf).
 * A file found in 2–4 that fails to load is the error reported: the search stops there.
 */
#ifndef SBP_BACKEND_CUDA_LOADER_H
#define SBP_BACKEND_CUDA_LOADER_H

#include "backend/cuda/plugin.h"

/* The plugin, loaded on the first call of the process and kept loaded; NULL with err
 * (SBP_ERR_UNSUPPORTED) naming the file tried and why it could not be loaded — the same
 * answer on every later call. Thread-safe. */
const sbp_cuda_plugin *sbp_cuda_plugin_get(sbp_error *err);

#endif
