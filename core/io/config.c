#define _POSIX_C_SOURCE 200809L
#include "core/io/config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/io/line_reader.h"
#include "core/io/output_file.h"
#include "core/io/private_dir.h"

enum lc_status config_path(char *path, size_t len, char *err)
{
    char dir[3072];
    enum lc_status st = private_dir(PRIVATE_CONFIG, dir, sizeof dir, err);
    if (st) return st;
    if (snprintf(path, len, "%s/longca.conf", dir) >= (int)len)
        return lc_fail(err, LC_ERR_INVALID, "the settings file's path is too long");
    return LC_OK;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

enum lc_status config_load(const char *path, struct config *c, char *err)
{
    memset(c, 0, sizeof *c);
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) return LC_OK;
    struct line_reader *r;
    enum lc_status st = line_reader_open(&r, path, 4096, err);
    if (st) return st;
    const char *line;
    size_t len;
    bool complete;
    while ((st = line_reader_next(r, &line, &len, &complete, err)) == LC_OK && line) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", line);
        char *s = trim(buf);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        long at = line_reader_line_number(r);
        if (!eq) {
            st = lc_fail(err, LC_ERR_INVALID, "%s: line %ld: expected key = value", path, at);
            break;
        }
        *eq = 0;
        char *key = trim(s), *value = trim(eq + 1);
        if (!*key || strlen(key) >= CONFIG_KEY_LEN || strlen(value) >= CONFIG_VALUE_LEN) {
            st = lc_fail(err, LC_ERR_INVALID, "%s: line %ld: key or value too long", path, at);
            break;
        }
        if (c->n == CONFIG_MAX_ENTRIES && !config_get(c, key)) {
            st = lc_fail(err, LC_ERR_INVALID, "%s: more than %d settings", path, CONFIG_MAX_ENTRIES);
            break;
        }
        config_set(c, key, value);
    }
    line_reader_close(r);
    return st;
}

enum lc_status config_save(const char *path, const struct config *c, const char *header, char *err)
{
    struct output_file out;
    enum lc_status st = output_open(&out, path, err);
    if (st) return st;
    fprintf(out.f, "%s", header);
    for (int k = 0; k < c->n; k++) fprintf(out.f, "%s = %s\n", c->entries[k].key, c->entries[k].value);
    return output_commit(&out, err);
}

const char *config_get(const struct config *c, const char *key)
{
    for (int k = 0; k < c->n; k++)
        if (!strcmp(c->entries[k].key, key)) return c->entries[k].value;
    return NULL;
}

void config_set(struct config *c, const char *key, const char *value)
{
    int k = 0;
    while (k < c->n && strcmp(c->entries[k].key, key)) k++;
    if (k == CONFIG_MAX_ENTRIES) return;
    if (k == c->n) c->n++;
    snprintf(c->entries[k].key, sizeof c->entries[k].key, "%s", key);
    snprintf(c->entries[k].value, sizeof c->entries[k].value, "%s", value);
}
