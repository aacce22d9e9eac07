/* A settings file of "key = value" lines ('#' starts a comment), as htop's htoprc: read with
 * bounds (lines, entries, lengths), written whole through output_file. The TUI keeps its
 * Setup choices, colour and counter mode in $XDG_CONFIG_HOME/longca/longca.conf. */
#ifndef LC_CONFIG_H
#define LC_CONFIG_H

#include <stddef.h>

#include "core/model/status.h"

#define CONFIG_MAX_ENTRIES 64
#define CONFIG_KEY_LEN 32
#define CONFIG_VALUE_LEN 512

struct config {
    int n;
    struct {
        char key[CONFIG_KEY_LEN];
        char value[CONFIG_VALUE_LEN];
    } entries[CONFIG_MAX_ENTRIES];
};

/* <the private config folder>/longca.conf (the folder made 0700 where missing). */
enum lc_status config_path(char *path, size_t len, char *err);
/* A missing file is an empty config; a malformed line is an error naming it. */
enum lc_status config_load(const char *path, struct config *c, char *err);
/* Written whole: the header comment, then every entry. */
enum lc_status config_save(const char *path, const struct config *c, const char *header, char *err);
const char *config_get(const struct config *c, const char *key); /* NULL when absent */
void config_set(struct config *c, const char *key, const char *value); /* replaces; ignored when full */

#endif
