/* The plugin loader: dlopen, the two symbols, the ABI version, each table checked by the registry. */
#define _GNU_SOURCE
#include "kernels/plugins.h"

#include <dirent.h>
#include <errno.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/engine/kernel.h"

#define PLUGINS_MAX 16

/* Each loaded file once, by its real path (also the origin string the registry keeps). */
static char *loaded[PLUGINS_MAX];
static int n_loaded;

static bool already_loaded(const char *real)
{
    for (int i = 0; i < n_loaded; i++)
        if (!strcmp(loaded[i], real)) return true;
    return false;
}

/* From a search folder, a plugin whose kernel name an earlier one gave is passed over, not an error. */
static enum lc_status register_all(void *lib, const char *real, bool from_search, char *err)
{
    const void *get_sym = dlsym(lib, "longca_kernel_get");
    const struct longca_kernel *(*get)(int);
    memcpy(&get, &get_sym, sizeof get); /* dlsym's object pointer as the function it is */
    int i = 0;
    for (const struct longca_kernel *k; i < KERNEL_MAX && (k = get(i)); i++) {
        if (from_search && k->name && kernel_find(k->name)) continue;
        char why[LC_ERRMSG_LEN];
        if (kernel_register(k, real, why)) return lc_fail(err, LC_ERR_INVALID, "%s: %.200s", real, why);
    }
    if (i == 0) return lc_fail(err, LC_ERR_INVALID, "%s: longca_kernel_get(0) gave no kernel", real);
    return LC_OK;
}

static enum lc_status load(const char *path, bool from_search, char *err)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) return lc_fail(err, LC_ERR_INVALID, "kernel library %s: cannot be opened (%s)", path, strerror(errno));
    if (already_loaded(real)) return LC_OK;
    if (n_loaded == PLUGINS_MAX) return lc_fail(err, LC_ERR_INVALID, "more than %d kernel libraries", PLUGINS_MAX);
    dlerror();
    void *lib = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!lib) return lc_fail(err, LC_ERR_INVALID, "kernel library %.200s", dlerror());
    const void *abi_sym = dlsym(lib, "longca_kernel_abi"), *get_sym = dlsym(lib, "longca_kernel_get");
    const char *missing = !abi_sym ? "longca_kernel_abi" : !get_sym ? "longca_kernel_get" : NULL;
    if (missing) {
        dlclose(lib);
        return lc_fail(err, LC_ERR_INVALID, "kernel library %s: no symbol %s (see kernels/longca_kernel.h)", real,
                       missing);
    }
    unsigned (*abi)(void);
    memcpy(&abi, &abi_sym, sizeof abi);
    unsigned version = abi();
    if (version != LONGCA_KERNEL_ABI_VERSION) {
        dlclose(lib);
        return lc_fail(err, LC_ERR_INVALID, "kernel library %s: built for kernel ABI %u, this longca speaks %u", real,
                       version, LONGCA_KERNEL_ABI_VERSION);
    }
    loaded[n_loaded] = strdup(real);
    if (!loaded[n_loaded]) return lc_fail(err, LC_ERR_OOM, "out of memory");
    /* Stays loaded for the life of the process: the registry points into it. */
    return register_all(lib, loaded[n_loaded++], from_search, err);
}

enum lc_status plugins_load(const char *path, char *err) { return load(path, false, err); }

enum lc_status plugins_load_remembered(const char *path, char *err)
{
    if (access(path, F_OK) != 0) return LC_OK; /* removed since, or a build folder gone */
    return load(path, true, err);
}

static bool is_plugin_name(const char *name)
{
    size_t n = strlen(name);
    return !strncmp(name, "liblongca_", 10) && n > 13 && !strcmp(name + n - 3, ".so");
}

/* Every liblongca_*.so of one folder, in name order; a folder that does not exist has none. */
static enum lc_status load_folder(const char *dir, char *err)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) return LC_OK;
    enum lc_status st = LC_OK;
    for (int i = 0; i < n; i++) {
        if (!st && is_plugin_name(names[i]->d_name)) {
            char path[PATH_MAX];
            if (snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) < (int)sizeof path) st = load(path, true, err);
        }
        free(names[i]);
    }
    free(names);
    return st;
}

enum lc_status plugins_load_search_path(char *err)
{
    const char *env = getenv("LONGCA_KERNEL_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        if (!copy) return lc_fail(err, LC_ERR_OOM, "out of memory");
        enum lc_status st = LC_OK;
        for (char *dir = strtok_r(copy, ":", &save); dir && !st; dir = strtok_r(NULL, ":", &save))
            st = load_folder(dir, err);
        free(copy);
        if (st) return st;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return LC_OK;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return LC_OK;
    *slash = '\0';
    const char *installed[] = {"/../lib/longca", "/lib/longca"}; /* an install, a build tree */
    for (size_t i = 0; i < sizeof installed / sizeof *installed; i++) {
        char dir[PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s%s", exe, installed[i]) >= (int)sizeof dir) continue;
        enum lc_status st = load_folder(dir, err);
        if (st) return st;
    }
    return LC_OK;
}

enum lc_status plugins_load_from_args(int *argc, char **argv, char *err)
{
    int kept = 0;
    enum lc_status st = LC_OK;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i], *path = NULL;
        if (!strcmp(a, "--kernel-lib")) {
            if (i + 1 >= *argc || !argv[i + 1][0]) return lc_fail(err, LC_ERR_INVALID, "--kernel-lib needs a file");
            path = argv[++i];
        } else if (!strncmp(a, "--kernel-lib=", 13)) {
            path = a + 13;
            if (!*path) return lc_fail(err, LC_ERR_INVALID, "--kernel-lib needs a file");
        } else {
            argv[kept++] = argv[i];
            continue;
        }
        if (!st) st = load(path, false, err);
    }
    argv[kept] = NULL;
    *argc = kept;
    return st ? st : plugins_load_search_path(err);
}
