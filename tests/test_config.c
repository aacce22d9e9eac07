/* The settings file (core/io/config.c): written whole and read back; comments, blank lines and
 * spaces around '=' ignored; a missing file is empty; a line without '=', an over-long value and
 * too many settings are errors naming the file and line; set replaces. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "core/io/config.h"

static char dir[] = "/tmp/longca-config-XXXXXX";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    char path[128], err[LC_ERRMSG_LEN];
    snprintf(path, sizeof path, "%s/longca.conf", dir);
    struct config c;

    CHECK(config_load(path, &c, err) == LC_OK && c.n == 0, "a missing file: %s", err);

    config_set(&c, "masks", "causal,full");
    config_set(&c, "counters", "pm");
    config_set(&c, "masks", "causal,sliding_window"); /* replaces */
    CHECK(c.n == 2);
    CHECK(config_save(path, &c, "# longca settings\n", err) == LC_OK, "%s", err);
    struct config back;
    CHECK(config_load(path, &back, err) == LC_OK, "%s", err);
    CHECK(back.n == 2 && config_get(&back, "masks") && !strcmp(config_get(&back, "masks"), "causal,sliding_window"));
    CHECK(config_get(&back, "counters") && !strcmp(config_get(&back, "counters"), "pm"));
    CHECK(config_get(&back, "colour") == NULL);

    write_file(path, "# a comment\n\n   color   =   off  \r\n");
    CHECK(config_load(path, &back, err) == LC_OK && back.n == 1, "%s", err);
    CHECK(config_get(&back, "color") && !strcmp(config_get(&back, "color"), "off"), "'%s'", config_get(&back, "color"));

    write_file(path, "masks = causal\njust words\n");
    CHECK(config_load(path, &back, err) == LC_ERR_INVALID && strstr(err, "line 2") && strstr(err, path), "%s", err);

    char long_line[700];
    memset(long_line, 'x', sizeof long_line);
    memcpy(long_line, "masks = ", 8);
    long_line[sizeof long_line - 2] = '\n';
    long_line[sizeof long_line - 1] = 0;
    write_file(path, long_line);
    CHECK(config_load(path, &back, err) == LC_ERR_INVALID && strstr(err, "too long"), "%s", err);

    FILE *f = fopen(path, "w");
    for (int k = 0; f && k <= CONFIG_MAX_ENTRIES; k++) fprintf(f, "key%d = %d\n", k, k);
    if (f) fclose(f);
    CHECK(config_load(path, &back, err) == LC_ERR_INVALID && strstr(err, "more than"), "%s", err);

    unlink(path);
    rmdir(dir);
    return check_report("config");
}
