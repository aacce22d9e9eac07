#include "tui/settings.h"

#include <stdio.h>
#include <string.h>

#include "core/engine/kernel.h"
#include "core/engine/services.h"

/* The file's key for each Setup field. */
static const char *const keys[TUI_F_COUNT] = {
    [TUI_F_KERNELS] = "kernels",     [TUI_F_MASKS] = "masks",         [TUI_F_WINDOW] = "window",
    [TUI_F_GLOBAL] = "global",       [TUI_F_BLOCK] = "block",         [TUI_F_DENSITY] = "density",
    [TUI_F_DOCLEN] = "doc_lengths",  [TUI_F_SEQLENS] = "seq_lengths", [TUI_F_HEADS] = "heads",
    [TUI_F_HEAD_DIM] = "head_dim",   [TUI_F_DTYPE] = "dtype",         [TUI_F_DIRECTION] = "direction",
    [TUI_F_CP] = "cp_method",        [TUI_F_GPUS] = "gpus",           [TUI_F_ITERS] = "iterations",
    [TUI_F_CHECK] = "check",         [TUI_F_COUNTERS] = "counters",   [TUI_F_KERNEL_LIBS] = "kernel_libs",
};

static bool listed(const char *list, const char *label)
{
    size_t n = strlen(label);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && !strncmp(p, label, n)) return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

enum lc_status tui_settings_load_libs(const struct config *c, struct tui_setup *s, char *err)
{
    const char *value = config_get(c, keys[TUI_F_KERNEL_LIBS]);
    enum lc_status st = LC_OK;
    for (const char *p = value; p && *p && st == LC_OK;) {
        const char *colon = strchr(p, ':');
        char path[TUI_PATH_LEN];
        snprintf(path, sizeof path, "%.*s", (int)(colon ? colon - p : (long)strlen(p)), p);
        p = colon ? colon + 1 : NULL;
        if (!path[0]) continue;
        /* a file already loaded (found beside the binary, say) is loaded once: the loader knows */
        st = services()->load_remembered_kernel_library
                 ? services()->load_remembered_kernel_library(path, err)
                 : lc_fail(err, LC_ERR_UNSUPPORTED, "this program loads no kernel plugins");
    }
    tui_setup_list_kernels(s);
    return st;
}

void tui_settings_apply(const struct config *c, struct tui_setup *s)
{
    for (int f = 0; f < TUI_F_COUNT; f++) {
        if (f == TUI_F_KERNEL_LIBS) continue; /* files, not labels: tui_settings_load_libs */
        const char *value = config_get(c, keys[f]);
        struct tui_field *field = &s->fields[f];
        int hits = 0;
        for (int k = 0; value && k < field->n_choices; k++) hits += listed(value, field->choices[k].label);
        if (!hits) continue; /* nothing this build offers: the default stays */
        bool taken = false;
        for (int k = 0; k < field->n_choices; k++) {
            bool on = listed(value, field->choices[k].label) && (field->multi || !taken);
            field->choices[k].selected = on;
            taken |= on;
        }
    }
    s->generation++;
}

void tui_settings_store(struct config *c, const struct tui_setup *s, bool color)
{
    for (int f = 0; f < TUI_F_COUNT; f++) {
        char value[CONFIG_VALUE_LEN] = "";
        size_t at = 0;
        const struct tui_field *field = &s->fields[f];
        if (f == TUI_F_KERNEL_LIBS) {
            const char *files[KERNEL_MAX];
            for (int i = 0, n = kernel_libraries(files, KERNEL_MAX); i < n && at < sizeof value; i++)
                at += (size_t)snprintf(value + at, sizeof value - at, "%s%s", at ? ":" : "", files[i]);
            if (at >= sizeof value) value[0] = 0; /* a list cut short would name a file that is not there */
            config_set(c, keys[f], value);
            continue;
        }
        for (int k = 0; k < field->n_choices && at < sizeof value; k++)
            if (field->choices[k].selected)
                at += (size_t)snprintf(value + at, sizeof value - at, "%s%s", at ? "," : "", field->choices[k].label);
        config_set(c, keys[f], value);
    }
    config_set(c, "color", color ? "on" : "off");
}

bool tui_settings_color(const struct config *c)
{
    const char *v = config_get(c, "color");
    return !v || strcmp(v, "off") != 0;
}
