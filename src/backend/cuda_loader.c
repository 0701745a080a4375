/* cuda_loader.c — finding and opening the cuda backend's plugin (cuda_loader.h). */
#define _GNU_SOURCE /* dladdr (glibc declares it only for GNU sources) */
#include "backend/cuda_loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "data/encode.h"

#ifndef SBP_INSTALL_LIBDIR /* CMake sets both: the absolute install LIBDIR and its relative */
#define SBP_INSTALL_LIBDIR ""
#endif
#ifndef SBP_INSTALL_LIBDIR_REL
#define SBP_INSTALL_LIBDIR_REL "lib"
#endif

#define MAX_DIRS 5

/* The one piece of process-wide state in the library: a plugin is mapped once per process and
 * cannot be unmapped while its table is in use, and sbp_backend_get has no context to hold
 * it. Written once under pthread_once (so threads asking at the same time wait for the one
 * load), read-only after. */
static struct {
    const sbp_cuda_plugin *plugin;
    char why[480]; /* "FILE: reason" when plugin is NULL */
} loaded;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

/* Opens one file as the plugin: fills loaded.plugin, or loaded.why naming the file. 0 when
 * dlopen itself failed (loaded.why is then "PATH: dlerror"), else 1. */
static int open_file(const char *path, const char *how)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(loaded.why, sizeof loaded.why, "%s%s: %s", path, how, dlerror());
        return 0;
    }
    dlerror();
    void *sym = dlsym(h, SBP_CUDA_PLUGIN_ENTRY);
    if (!sym) {
        const char *e = dlerror();
        snprintf(loaded.why, sizeof loaded.why, "%s%s: not a spikebp CUDA plugin (%s)", path, how,
                 e ? e : "no entry point " SBP_CUDA_PLUGIN_ENTRY);
        dlclose(h);
        return 1;
    }
    /* POSIX guarantees that dlsym's object pointer converts to a function pointer */
    const sbp_cuda_plugin_open_fn open = (sbp_cuda_plugin_open_fn)sym;
    const sbp_cuda_imports imports = {
        .abi = SBP_CUDA_PLUGIN_ABI,
        .sizes = SBP_CUDA_SIZES,
        .input_values = sbp_input_values,
    };
    char why[320] = "";
    loaded.plugin = open(&imports, why, sizeof why);
    if (!loaded.plugin) {
        snprintf(loaded.why, sizeof loaded.why, "%s%s: %s", path, how, why);
        dlclose(h);
    }
    /* on success the handle is never closed: the table lives as long as the process */
    return 1;
}

/* Adds the folder `dir` (made absolute; skipped if it does not exist or is already listed). */
static void add_dir(char dirs[][PATH_MAX], int *n, const char *dir)
{
    char real[PATH_MAX];
    if (*n >= MAX_DIRS || !realpath(dir, real))
        return;
    for (int i = 0; i < *n; i++)
        if (!strcmp(dirs[i], real))
            return;
    strcpy(dirs[(*n)++], real);
}

/* The folder part of a path (the path itself cut at its last '/'); "" without one. */
static void folder_of(char *out, size_t cap, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 0;
    if (slash && len == 0)
        len = 1; /* "/x": the root */
    if (len >= cap)
        len = 0;
    memcpy(out, path, len);
    out[len] = '\0';
}

static void load(void)
{
    const char *env = getenv("SBP_CUDA_PLUGIN");
    if (env && *env) {
        open_file(env, " (SBP_CUDA_PLUGIN)");
        return;
    }
    char dirs[MAX_DIRS][PATH_MAX], dir[PATH_MAX], sub[PATH_MAX + 32];
    int n = 0;
    Dl_info info;
    /* dladdr names the main program by argv[0], which may lack a folder (found on PATH):
     * then /proc/self/exe below gives it */
    if (dladdr((const void *)sbp_cuda_plugin_get, &info) && info.dli_fname) {
        folder_of(dir, sizeof dir, info.dli_fname);
        if (dir[0])
            add_dir(dirs, &n, dir);
    }
    char exe[PATH_MAX];
    const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        folder_of(dir, sizeof dir, exe);
        if (dir[0]) {
            add_dir(dirs, &n, dir);
            snprintf(sub, sizeof sub, "%s/../lib", dir);
            add_dir(dirs, &n, sub);
            snprintf(sub, sizeof sub, "%s/../%s", dir, SBP_INSTALL_LIBDIR_REL);
            add_dir(dirs, &n, sub);
        }
    }
    if (SBP_INSTALL_LIBDIR[0])
        add_dir(dirs, &n, SBP_INSTALL_LIBDIR);

    char path[PATH_MAX + 32];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dirs[i], SBP_CUDA_PLUGIN_FILE);
        if (access(path, F_OK) == 0) {
            open_file(path, "");
            return;
        }
    }
    /* in none of them: ld.so's search path, by the bare name */
    if (!open_file(SBP_CUDA_PLUGIN_FILE, "")) { /* where it was looked for, then ld.so's reason */
        char where[480] = "", reason[sizeof loaded.why];
        size_t used = 0;
        for (int i = 0; i < n && used < sizeof where; i++)
            used += (size_t)snprintf(where + used, sizeof where - used, "%s, ", dirs[i]);
        snprintf(reason, sizeof reason, "%s", loaded.why + strlen(SBP_CUDA_PLUGIN_FILE ": "));
        snprintf(loaded.why, sizeof loaded.why, "%s (looked in: %sld.so's search path): %s",
                 SBP_CUDA_PLUGIN_FILE, where, reason);
    }
}

const sbp_cuda_plugin *sbp_cuda_plugin_get(sbp_error *err)
{
    pthread_once(&load_once, load);
    if (!loaded.plugin)
        sbp_fail(err, SBP_ERR_UNSUPPORTED,
                 "backend cuda: cannot load the CUDA plugin %s; use --backend cpu", loaded.why);
    return loaded.plugin;
}
