/* backend.c — choosing a backend by id or name (backend.h, spikebp.h). */
#include "backend/backend.h"

#include <string.h>

#include "core/error.h"

#ifdef SBP_HAVE_CUDA
#include "backend/cuda_loader.h"
#endif

static const char *const names[] = {
    [SBP_BACKEND_CPU] = "cpu",
    [SBP_BACKEND_REFERENCE] = "reference",
    [SBP_BACKEND_CUDA] = "cuda",
};
_Static_assert(sizeof names / sizeof names[0] == SBP_BACKEND_COUNT, "one name per backend");

const char *sbp_backend_name(sbp_backend_id id)
{
    return (unsigned)id < SBP_BACKEND_COUNT ? names[id] : "?";
}

sbp_status sbp_backend_parse(sbp_backend_id *out, const char *name, sbp_error *err)
{
    for (int i = 0; i < SBP_BACKEND_COUNT; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (sbp_backend_id)i;
            return SBP_OK;
        }
    return sbp_fail(err, SBP_ERR_INVALID_ARG,
                    "unknown backend '%s' (choose cpu, reference or cuda)", name ? name : "");
}

const sbp_backend *sbp_backend_get(sbp_backend_id id, sbp_error *err)
{
    switch (id) {
    case SBP_BACKEND_CPU:
        return &sbp_backend_cpu;
    case SBP_BACKEND_REFERENCE:
        return &sbp_backend_reference;
    case SBP_BACKEND_CUDA: {
#ifdef SBP_HAVE_CUDA
        /* The plugin (libspikebp-cuda.so) is loaded on the first call of the process; the
         * first CUDA call starts the driver: it can take a while. */
        const sbp_cuda_plugin *plugin = sbp_cuda_plugin_get(err);
        if (!plugin)
            return NULL;
        char why[256];
        if (plugin->usable(why, sizeof why))
            return plugin->backend;
        sbp_fail(err, SBP_ERR_UNSUPPORTED, "backend cuda: no usable CUDA device: %s; use --backend cpu",
                 why);
#else
        sbp_fail(err, SBP_ERR_UNSUPPORTED,
                 "backend cuda: this build of spikebp has no CUDA backend (configured without "
                 "nvcc, or with -DSBP_CUDA=OFF); use --backend cpu");
#endif
        return NULL;
    }
    default:
        sbp_fail(err, SBP_ERR_INVALID_ARG, "backend id %d does not exist", (int)id);
        return NULL;
    }
}

sbp_status sbp_backend_check(sbp_backend_id id, sbp_error *err)
{
    sbp_error e = {0};
    if (sbp_backend_get(id, &e))
        return SBP_OK;
    if (err)
        *err = e;
    return e.status;
}
