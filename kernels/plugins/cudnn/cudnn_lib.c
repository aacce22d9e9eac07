/* Finding and loading libcudnn (see cudnn_lib.h). */
#define _GNU_SOURCE
#include "cudnn_lib.h"

#include <dlfcn.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cudnn_lib lib;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* A candidate's version without loading it: the real file's name (libcudnn.so.9.14.0), else the
 * cudnn_version.h of a wheel's include folder beside lib/. 0 when neither says. */
static long version_of(const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) return 0;
    int major = 0, minor = 0, patch = 0;
    const char *name = strrchr(real, '/');
    if (name && sscanf(name, "/libcudnn.so.%d.%d.%d", &major, &minor, &patch) >= 2)
        return major * 10000L + minor * 100L + patch;
    char header[PATH_MAX];
    snprintf(header, sizeof header, "%.*s/../include/cudnn_version.h", (int)(name ? name - real : 0), real);
    FILE *f = fopen(header, "r");
    if (!f) return 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "#define CUDNN_MAJOR %d", &major);
        sscanf(line, "#define CUDNN_MINOR %d", &minor);
        sscanf(line, "#define CUDNN_PATCHLEVEL %d", &patch);
    }
    fclose(f);
    return major * 10000L + minor * 100L + patch;
}

/* The newest libcudnn.so.9 in the usual places, or "" when there is none. */
static void find_newest(char *out, size_t len)
{
    static const char *patterns[] = {
        "/usr/lib/x86_64-linux-gnu/libcudnn.so.9",
        "/usr/local/cuda/lib64/libcudnn.so.9",
        "/usr/local/cuda/lib/libcudnn.so.9",
        "/usr/lib64/libcudnn.so.9",
        "/usr/local/lib/libcudnn.so.9",
        "/opt/*/.venv/lib/python3*/site-packages/nvidia/cudnn/lib/libcudnn.so.9",
        "/usr/local/lib/python3*/dist-packages/nvidia/cudnn/lib/libcudnn.so.9",
        "/usr/lib/python3*/dist-packages/nvidia/cudnn/lib/libcudnn.so.9",
    };
    long best = -1;
    out[0] = '\0';
    char pattern[PATH_MAX];
    const char *venv = getenv("VIRTUAL_ENV");
    for (size_t i = 0; i <= sizeof patterns / sizeof *patterns; i++) {
        if (i == sizeof patterns / sizeof *patterns) {
            if (!venv) break;
            snprintf(pattern, sizeof pattern, "%s/lib/python3*/site-packages/nvidia/cudnn/lib/libcudnn.so.9", venv);
        } else {
            snprintf(pattern, sizeof pattern, "%s", patterns[i]);
        }
        glob_t g;
        if (glob(pattern, 0, NULL, &g) != 0) continue;
        for (size_t j = 0; j < g.gl_pathc; j++) {
            long v = version_of(g.gl_pathv[j]);
            if (v > best) best = v, snprintf(out, len, "%s", g.gl_pathv[j]);
        }
        globfree(&g);
    }
}

/* A wheel's cuDNN finds NVRTC and cuBLAS through the process (PyTorch loads them first); load the
 * sibling wheels' copies, if there, so its runtime-compiled engines can start. */
static void preload_wheel_siblings(const char *cudnn_path)
{
    const char *nvidia = strstr(cudnn_path, "/nvidia/cudnn/lib/");
    if (!nvidia) return;
    static const char *siblings[] = {"cuda_nvrtc/lib/libnvrtc.so.*", "cublas/lib/libcublasLt.so.*",
                                     "cublas/lib/libcublas.so.*"};
    for (size_t i = 0; i < sizeof siblings / sizeof *siblings; i++) {
        char pattern[PATH_MAX];
        snprintf(pattern, sizeof pattern, "%.*s/nvidia/%s", (int)(nvidia - cudnn_path), cudnn_path, siblings[i]);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) != 0) continue;
        for (size_t j = 0; j < g.gl_pathc; j++) dlopen(g.gl_pathv[j], RTLD_NOW | RTLD_GLOBAL);
        globfree(&g);
    }
}

static void *symbol(void *h, const char *name, bool *missing)
{
    void *p = dlsym(h, name);
    if (!p) *missing = true;
    return p;
}

/* dlsym's object pointer stored into a function pointer of the right type. */
#define BIND(field, name) do { void *p_ = symbol(h, name, &missing); memcpy(&lib.field, &p_, sizeof p_); } while (0)

static void load(void)
{
    const char *chosen = getenv("LONGCA_CUDNN_LIB");
    if (chosen && *chosen) snprintf(lib.path, sizeof lib.path, "%s", chosen);
    else find_newest(lib.path, sizeof lib.path);
    if (!lib.path[0]) {
        snprintf(lib.describe, sizeof lib.describe, "cuDNN not found (set LONGCA_CUDNN_LIB)");
        return;
    }
    preload_wheel_siblings(lib.path);
    void *h = dlopen(lib.path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(lib.describe, sizeof lib.describe, "cuDNN not loadable: %.120s", dlerror());
        return;
    }
    bool missing = false;
    BIND(get_version, "cudnnGetVersion");
    BIND(get_error_string, "cudnnGetErrorString");
    BIND(get_last_error_string, "cudnnGetLastErrorString");
    BIND(create, "cudnnCreate");
    BIND(destroy, "cudnnDestroy");
    BIND(set_stream, "cudnnSetStream");
    BIND(create_descriptor, "cudnnBackendCreateDescriptor");
    BIND(destroy_descriptor, "cudnnBackendDestroyDescriptor");
    BIND(finalize, "cudnnBackendFinalize");
    BIND(set_attribute, "cudnnBackendSetAttribute");
    BIND(get_attribute, "cudnnBackendGetAttribute");
    BIND(execute, "cudnnBackendExecute");
    if (missing) {
        snprintf(lib.describe, sizeof lib.describe, "cuDNN at %.100s lacks the backend API", lib.path);
        dlclose(h);
        return;
    }
    lib.version = lib.get_version();
    snprintf(lib.describe, sizeof lib.describe, "cuDNN %zu.%zu.%zu (%.120s)", lib.version / 10000,
             lib.version / 100 % 100, lib.version % 100, lib.path);
    lib.loaded = true;
}

const struct cudnn_lib *cudnn_lib(void)
{
    pthread_once(&once, load);
    return &lib;
}
