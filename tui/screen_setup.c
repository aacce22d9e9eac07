/* Setup: the sweep to run, one field per axis, the choices of the focused field, and the
 * selected mask drawn as a picture (coverage per cell from core's mask picture). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mask/mask_picture.h"
#include "core/mask/mask.h"
#include "core/mask/mask_view.h"
#include "tui/app.h"
#include "tui/widgets.h"

#define LABEL_W 12

/* Rebuilds the picture when the mask, its parameters or the room for it changed. */
static void picture_refresh(struct tui_picture *p, const struct tui_setup *s, int cells)
{
    enum mask_pattern mask;
    int64_t seqlen;
    struct mask_params params;
    int heads_kv;
    tui_setup_preview(s, &mask, &seqlen, &params, &heads_kv);
    if (p->valid && p->mask == mask && p->seqlen == seqlen && p->heads_kv == heads_kv && p->cells == cells &&
        !memcmp(&p->params, &params, sizeof(params)))
        return;
    free(p->coverage);
    memset(p, 0, sizeof(*p));
    p->valid = true;
    p->mask = mask;
    p->seqlen = seqlen;
    p->params = params;
    p->heads_kv = heads_kv;
    p->cells = cells;
    if (cells <= 0) return;
    p->coverage = malloc(sizeof(float) * (size_t)cells * (size_t)cells);
    if (!p->coverage) {
        snprintf(p->error, sizeof(p->error), "no memory for the picture");
        return;
    }
    struct mask m;
    if (mask_build(mask, &params, seqlen, heads_kv > 0 ? heads_kv : 1, &m, p->error) != LC_OK) {
        free(p->coverage);
        p->coverage = NULL;
        return;
    }
    struct longca_mask v;
    enum lc_status st = mask_view_build(&m, &v, p->error);
    if (st == LC_OK) {
        st = mask_picture(&v, 0, cells, cells, p->coverage, p->error);
        mask_view_free(&v);
    }
    if (st != LC_OK) {
        free(p->coverage);
        p->coverage = NULL;
    }
    p->density = mask_density(&m);
    mask_free(&m);
}

static void draw_fields(WINDOW *win, const struct tui_rect *r, const struct tui_app *app)
{
    const struct tui_setup *s = &app->setup;
    tui_put(win, r->y, r->x, r->w, TUI_ROLE_HEADER, "Sweep");
    tui_fill(win, r->y, r->x + 5, r->w - 5, TUI_ROLE_HEADER);
    for (int f = 0; f < TUI_F_COUNT && f + 1 < r->h; f++) {
        int y = r->y + 1 + f;
        bool focus = f == s->field;
        enum tui_role role = focus ? (s->in_choices ? TUI_ROLE_CURSOR : TUI_ROLE_SELECTED) : TUI_ROLE_NORMAL;
        char value[160];
        tui_setup_summary(s, f, value, sizeof(value));
        if (focus) tui_fill(win, y, r->x, r->w - 1, role);
        tui_putf(win, y, r->x, r->w - 1, role, "%-*s %s", LABEL_W - 1, s->fields[f].label, value);
    }
    /* The Start button, the sweep size or why it cannot start. */
    int y = r->y + 1 + TUI_F_COUNT + 1;
    if (y >= r->y + r->h) y = r->y + r->h - 1;
    bool focus = s->field == TUI_F_COUNT;
    struct run_spec *runs = NULL;
    int n = 0;
    char err[LC_ERRMSG_LEN];
    enum lc_status st = tui_setup_build(s, &runs, &n, err);
    free(runs);
    char button[64];
    if (st == LC_OK)
        snprintf(button, sizeof(button), "[ Start %d run%s (F5) ]", n, n == 1 ? "" : "s");
    else
        snprintf(button, sizeof(button), "[ Start (F5) ]");
    tui_put(win, y, r->x, r->w - 1, focus ? TUI_ROLE_SELECTED : TUI_ROLE_OK, button);
    if (st != LC_OK) tui_put_wrapped(win, y + 1, r->x, r->w - 1, r->y + r->h - (y + 1), TUI_ROLE_FAIL, err);
}

static void draw_choices(WINDOW *win, const struct tui_rect *r, const struct tui_app *app)
{
    const struct tui_setup *s = &app->setup;
    if (s->field >= TUI_F_COUNT) {
        tui_put(win, r->y, r->x, r->w, TUI_ROLE_HEADER, "Start");
        tui_put(win, r->y + 2, r->x, r->w - 1, TUI_ROLE_NORMAL, "Enter: queue the sweep");
        return;
    }
    const struct tui_field *f = &s->fields[s->field];
    tui_fill(win, r->y, r->x, r->w - 1, TUI_ROLE_HEADER);
    tui_putf(win, r->y, r->x, r->w - 1, TUI_ROLE_HEADER, "%s%s", f->label, f->multi ? " (any)" : "");
    int visible = r->h - 1;
    int cursor = s->in_choices ? s->choice : 0;
    int top = tui_scroll_top(cursor, 0, visible, f->n_choices);
    for (int i = 0; i < visible && top + i < f->n_choices; i++) {
        const struct tui_choice *c = &f->choices[top + i];
        int y = r->y + 1 + i;
        bool at = s->in_choices && top + i == s->choice;
        enum tui_role role = at ? TUI_ROLE_SELECTED : c->selected ? TUI_ROLE_OK : TUI_ROLE_NORMAL;
        if (at) tui_fill(win, y, r->x, r->w - 1, role);
        tui_putf(win, y, r->x, r->w - 1, role, "%s %s", f->multi ? (c->selected ? "[x]" : "[ ]") : (c->selected ? "(*)" : "( )"),
                 c->label);
    }
    if (f->n_choices == 0) tui_put(win, r->y + 1, r->x, r->w - 1, TUI_ROLE_DIM, "(none available)");
    if (s->field == TUI_F_KERNEL_LIBS && f->n_choices + 3 < r->h) {
        int y = r->y + 2 + f->n_choices;
        if (s->typing) {
            tui_putf(win, y, r->x, r->w - 1, TUI_ROLE_WARN, "File: %s_", s->typed);
            tui_put(win, y + 1, r->x, r->w - 1, TUI_ROLE_DIM, "Enter loads, Esc cancels");
        } else {
            tui_put(win, y, r->x, r->w - 1, TUI_ROLE_DIM, "--kernel-lib files");
        }
    }
}

static void draw_picture(WINDOW *win, const struct tui_rect *r, struct tui_app *app)
{
    int cells = tui_picture_cells(r->h - 3, r->w - 2);
    struct tui_picture *p = &app->picture;
    picture_refresh(p, &app->setup, cells);
    char len[16];
    tui_format_tokens(p->seqlen, len, sizeof(len));
    tui_fill(win, r->y, r->x, r->w, TUI_ROLE_HEADER);
    tui_putf(win, r->y, r->x, r->w, TUI_ROLE_HEADER, "%s S=%s", mask_pattern_name(p->mask), len);
    if (!p->coverage) {
        tui_put(win, r->y + 2, r->x + 1, r->w - 1, TUI_ROLE_FAIL, p->error[0] ? p->error : "no room for the picture");
        return;
    }
    tui_put(win, r->y + 1, r->x + 1, r->w - 1, TUI_ROLE_DIM, "q down, k across");
    tui_draw_picture(win, r->y + 2, r->x + 1, cells, p->coverage);
    tui_putf(win, r->y + 2 + cells, r->x + 1, r->w - 1, TUI_ROLE_NORMAL, "density %.2f%%", 100.0 * p->density);
}

static void draw(WINDOW *win, const struct tui_rect *r, struct tui_app *app)
{
    struct tui_setup_layout l;
    tui_layout_setup(r, &l);
    draw_fields(win, &l.fields, app);
    draw_choices(win, &l.choices, app);
    draw_picture(win, &l.picture, app);
}

/* A plugin file name being typed: Enter loads it, Esc gives up. */
static void type_key(struct tui_app *app, int k)
{
    struct tui_setup *s = &app->setup;
    size_t n = strlen(s->typed);
    if (k == 27) {
        s->typing = false;
    } else if (k == '\n' || k == '\r' || k == KEY_ENTER) {
        if (n) tui_app_load_kernel_lib(app, s->typed);
        else s->typing = false;
    } else if (k == KEY_BACKSPACE || k == 127 || k == 8) {
        if (n) s->typed[n - 1] = 0;
    } else if (k >= 32 && k < 127 && n + 1 < sizeof s->typed) {
        s->typed[n] = (char)k;
        s->typed[n + 1] = 0;
    }
    s->generation++;
}

static bool key(struct tui_app *app, int k)
{
    struct tui_setup *s = &app->setup;
    if (s->typing) {
        type_key(app, k);
        return true;
    }
    int d = tui_key_delta(k, 5);
    if (d) {
        tui_setup_move(s, d);
        return true;
    }
    switch (k) {
    case KEY_RIGHT:
    case 'l':
        tui_setup_enter(s);
        return true;
    case KEY_LEFT:
    case 'h':
    case 27: /* Esc */
        tui_setup_leave(s);
        return true;
    case '\n':
    case '\r':
    case KEY_ENTER:
    case ' ':
        if (s->field == TUI_F_COUNT)
            tui_app_start_sweep(app);
        else if (!s->in_choices)
            tui_setup_enter(s);
        else
            tui_setup_toggle(s);
        return true;
    }
    return false;
}

static void click(struct tui_app *app, const struct tui_rect *r, int y, int x)
{
    struct tui_setup_layout l;
    tui_layout_setup(r, &l);
    struct tui_setup *s = &app->setup;
    if (tui_rect_contains(&l.fields, y, x) && y > l.fields.y) {
        int f = y - l.fields.y - 1;
        if (f < TUI_F_COUNT) {
            s->field = f;
            tui_setup_enter(s);
        } else {
            s->field = TUI_F_COUNT;
            s->in_choices = false;
        }
        s->generation++;
    } else if (tui_rect_contains(&l.choices, y, x) && y > l.choices.y && s->in_choices) {
        int visible = l.choices.h - 1;
        int top = tui_scroll_top(s->choice, 0, visible, s->fields[s->field].n_choices);
        int c = top + (y - l.choices.y - 1);
        if (c < s->fields[s->field].n_choices) {
            s->choice = c;
            tui_setup_toggle(s);
        }
    }
}

const struct tui_screen tui_screen_setup = {
    .name = "Setup",
    .draw = draw,
    .key = key,
    .click = click,
    .hint = "jk move  l/Enter choose a field  Space toggle  h/Esc back  F5 start",
};
