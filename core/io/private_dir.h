/* Where longca keeps files of its own (default captures, the TUI's stderr log): a folder only
 * the user can enter, never a predictable name in a shared /tmp. State: $XDG_STATE_HOME/longca,
 * else ~/.local/state/longca. Runtime (logs): $XDG_RUNTIME_DIR/longca, else the state folder.
 * Config (settings): $XDG_CONFIG_HOME/longca, else ~/.config/longca. */
#ifndef LC_PRIVATE_DIR_H
#define LC_PRIVATE_DIR_H

#include <stddef.h>

#include "core/model/status.h"

enum private_kind { PRIVATE_STATE, PRIVATE_RUNTIME, PRIVATE_CONFIG };

/* The folder, created mode 0700 where missing; refused when it is not a directory of ours or
 * others can enter it. */
enum lc_status private_dir(enum private_kind kind, char *path, size_t len, char *err);
/* A new file "<folder>/<stem>-<pid>[.<k>]<suffix>" opened O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600;
 * its name in path. Returns the descriptor, or -1 with err filled. */
int private_file_create(enum private_kind kind, const char *stem, const char *suffix, char *path, size_t len,
                        char *err);

#endif
