/* Kernels from shared objects (the ABI in kernels/longca_kernel.h): `--kernel-lib PATH`, then the
 * folders of LONGCA_KERNEL_PATH, then the installed plugin folder. */
#ifndef LC_PLUGINS_H
#define LC_PLUGINS_H

#include "core/model/status.h"

/* Loads one plugin and registers its kernels. LC_ERR_INVALID with one line naming the file on any
 * mismatch: not a shared object, a missing symbol, another ABI version, an incomplete table. */
enum lc_status plugins_load(const char *path, char *err);

/* Loads a plugin the TUI's settings remember from an earlier start, as one found on the search
 * path: a kernel whose name is already given (this build's own copy of the plugin) is passed
 * over, and a file no longer there is skipped; any other fault is an error as above. */
enum lc_status plugins_load_remembered(const char *path, char *err);

/* Loads every liblongca_*.so in the folders of LONGCA_KERNEL_PATH (colon-separated), then in the
 * installed folder (<bin>/../lib/longca, or <bin>/lib/longca in a build tree), skipping files
 * already loaded and kernels whose name an earlier folder gave. */
enum lc_status plugins_load_search_path(char *err);

/* Takes every --kernel-lib PATH / --kernel-lib=PATH out of argv (wherever it stands), loads them in
 * order, then the search path. *argc shrinks; LC_ERR_INVALID with one line on a failure. */
enum lc_status plugins_load_from_args(int *argc, char **argv, char *err);

#endif
