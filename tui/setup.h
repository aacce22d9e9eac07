/* The Setup screen's state: one field per axis of a sweep, each with its choices, and the
 * sweep they make (through core's sweep_expand, so the TUI builds exactly the runs that
 * `longca run` would from the same flags). No ncurses here. */
#ifndef LC_TUI_SETUP_H
#define LC_TUI_SETUP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model/spec.h"
#include "core/model/status.h"

enum tui_field_id {
    TUI_F_KERNELS = 0,
    TUI_F_MASKS,
    TUI_F_WINDOW,
    TUI_F_GLOBAL,
    TUI_F_BLOCK,
    TUI_F_DENSITY,
    TUI_F_DOCLEN,
    TUI_F_SEQLENS,
    TUI_F_HEADS,
    TUI_F_HEAD_DIM,
    TUI_F_DTYPE,
    TUI_F_DIRECTION,
    TUI_F_CP,
    TUI_F_GPUS,
    TUI_F_ITERS,
    TUI_F_CHECK,
    TUI_F_COUNTERS,
    TUI_F_KERNEL_LIBS, /* not an axis: the plugin files loaded (--kernel-lib), and "load a file..." */
    TUI_F_COUNT
};

#define TUI_MAX_CHOICES 64
#define TUI_CHOICE_LEN 32
#define TUI_PATH_LEN 1024

struct tui_choice {
    char label[TUI_CHOICE_LEN];
    int64_t value;  /* the number it stands for (sizes, counts, enum values); heads: q << 16 | kv */
    bool selected;
};

struct tui_field {
    const char *label;
    bool multi; /* a sweep axis: any number of choices (at least one); otherwise exactly one */
    struct tui_choice choices[TUI_MAX_CHOICES];
    int n_choices;
};

struct tui_setup {
    struct tui_field fields[TUI_F_COUNT];
    int field;        /* focused field; TUI_F_COUNT = the Start button */
    int choice;       /* cursor in the focused field's choices */
    bool in_choices;  /* the choices pane has the focus */
    bool typing;      /* a plugin file name is being typed (Kernel libs' last choice) */
    char typed[TUI_PATH_LEN];
    unsigned generation; /* moves on every change (the sweep summary and picture follow it) */
};

/* Choices from the registries (kernels, CP methods) and defaults from run_spec_defaults;
 * workers bounds the GPU count; gpu picks the GPU defaults. */
void tui_setup_init(struct tui_setup *s, int workers, bool gpu);

/* Kernels and Kernel libs again from the registry, after a plugin loaded: kernels keep their
 * selection, new ones come unselected. */
void tui_setup_list_kernels(struct tui_setup *s);

/* Cursor moves and choice toggles; each keeps the state valid (a multi field never empties, a
 * single field always has one choice). On Kernel libs the files are listed, not toggled, and the
 * last choice starts typing a file name. */
void tui_setup_move(struct tui_setup *s, int delta);
void tui_setup_enter(struct tui_setup *s); /* into the focused field's choices */
void tui_setup_leave(struct tui_setup *s);
void tui_setup_toggle(struct tui_setup *s); /* the choice under the cursor */

/* Human summary of a field's selection ("causal, sliding_window", "3 of 14"). */
void tui_setup_summary(const struct tui_setup *s, int field, char *buf, size_t len);

/* The mask to picture: the one under the cursor while choosing masks, else the first selected;
 * with the first selected sequence length and the chosen parameters. */
void tui_setup_preview(const struct tui_setup *s, enum mask_pattern *mask, int64_t *seqlen,
                       struct mask_params *params, int *heads_kv);

/* Expands the selection into runs (caller frees *runs); on an invalid run, err holds
 * run_spec_validate's message and nothing is allocated. */
enum lc_status tui_setup_build(const struct tui_setup *s, struct run_spec **runs, int *n_runs, char *err);

#endif
