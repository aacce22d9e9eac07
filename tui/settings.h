/* What the live front end remembers between sessions (htop's htoprc, nvtop's interface.ini):
 * Setup's last choices, counter mode included, and the colour, in core/io/config's file. Saved
 * when the TUI closes; applied to Setup by choice label, so a choice this build or node lacks is
 * skipped and the field keeps its default. */
#ifndef LC_TUI_SETTINGS_H
#define LC_TUI_SETTINGS_H

#include <stdbool.h>

#include "core/io/config.h"
#include "core/model/status.h"
#include "tui/setup.h"

/* Loads the plugin files the settings list (kernel_libs, ':'-separated) not loaded yet, and lists
 * their kernels on Setup: before tui_settings_apply, so a plugin kernel chosen last time is
 * chosen again. The first file that fails stops the loading, named in err. */
enum lc_status tui_settings_load_libs(const struct config *c, struct tui_setup *s, char *err);
void tui_settings_apply(const struct config *c, struct tui_setup *s);
void tui_settings_store(struct config *c, const struct tui_setup *s, bool color);
bool tui_settings_color(const struct config *c); /* "color = off" turns colour off; default on */

#endif
