/* Shared drawing pieces (see widgets.h). */
#include "tui/widgets.h"

#include "core/mask/mask_picture.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static attr_t role_attr[TUI_ROLE_COUNT];

void tui_theme_init(bool want_color)
{
    /* Monochrome: roles told apart by reverse, bold, underline and dim alone. */
    const attr_t mono[TUI_ROLE_COUNT] = {
        [TUI_ROLE_NORMAL] = A_NORMAL,   [TUI_ROLE_TITLE] = A_REVERSE,  [TUI_ROLE_TAB] = A_NORMAL,
        [TUI_ROLE_TAB_ACTIVE] = A_REVERSE | A_BOLD, [TUI_ROLE_FKEY] = A_BOLD, [TUI_ROLE_FLABEL] = A_REVERSE,
        [TUI_ROLE_HEADER] = A_BOLD | A_UNDERLINE, [TUI_ROLE_SELECTED] = A_REVERSE, [TUI_ROLE_CURSOR] = A_UNDERLINE,
        [TUI_ROLE_OK] = A_NORMAL,       [TUI_ROLE_FAIL] = A_BOLD,      [TUI_ROLE_WARN] = A_BOLD,
        [TUI_ROLE_DIM] = A_DIM,         [TUI_ROLE_COMPUTE] = A_NORMAL, [TUI_ROLE_COMM] = A_NORMAL,
        [TUI_ROLE_OVERLAP] = A_BOLD,    [TUI_ROLE_MEMORY] = A_DIM,
    };
    memcpy(role_attr, mono, sizeof(role_attr));
    if (!want_color || !has_colors() || start_color() == ERR) return;
    use_default_colors();
    /* Eight colours are enough: pair i is role i. Background -1 is the terminal's own. */
    const short pairs[TUI_ROLE_COUNT][2] = {
        [TUI_ROLE_TITLE] = {COLOR_BLACK, COLOR_CYAN},   [TUI_ROLE_TAB] = {COLOR_CYAN, -1},
        [TUI_ROLE_TAB_ACTIVE] = {COLOR_BLACK, COLOR_GREEN}, [TUI_ROLE_FKEY] = {COLOR_WHITE, -1},
        [TUI_ROLE_FLABEL] = {COLOR_BLACK, COLOR_CYAN},  [TUI_ROLE_HEADER] = {COLOR_BLACK, COLOR_GREEN},
        [TUI_ROLE_SELECTED] = {COLOR_BLACK, COLOR_CYAN}, [TUI_ROLE_CURSOR] = {COLOR_CYAN, -1},
        [TUI_ROLE_OK] = {COLOR_GREEN, -1},              [TUI_ROLE_FAIL] = {COLOR_RED, -1},
        [TUI_ROLE_WARN] = {COLOR_YELLOW, -1},           [TUI_ROLE_DIM] = {COLOR_BLUE, -1},
        [TUI_ROLE_COMPUTE] = {COLOR_GREEN, -1},         [TUI_ROLE_COMM] = {COLOR_CYAN, -1},
        [TUI_ROLE_OVERLAP] = {COLOR_YELLOW, -1},        [TUI_ROLE_MEMORY] = {COLOR_MAGENTA, -1},
    };
    for (int r = 1; r < TUI_ROLE_COUNT; r++) {
        if (init_pair((short)r, pairs[r][0], pairs[r][1]) == ERR) continue;
        attr_t extra = r == TUI_ROLE_FAIL || r == TUI_ROLE_OVERLAP || r == TUI_ROLE_FKEY || r == TUI_ROLE_WARN
                           ? A_BOLD
                           : A_NORMAL;
        role_attr[r] = COLOR_PAIR(r) | extra;
    }
}

attr_t tui_attr(enum tui_role role)
{
    return role >= 0 && role < TUI_ROLE_COUNT ? role_attr[role] : A_NORMAL;
}

int tui_put(WINDOW *win, int y, int x, int w, enum tui_role role, const char *text)
{
    int n = (int)strlen(text);
    if (n > w) n = w;
    if (n <= 0 || y < 0 || x < 0) return 0;
    wattrset(win, tui_attr(role));
    mvwaddnstr(win, y, x, text, n);
    wattrset(win, A_NORMAL);
    return n;
}

int tui_putf(WINDOW *win, int y, int x, int w, enum tui_role role, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return tui_put(win, y, x, w, role, buf);
}

void tui_put_right(WINDOW *win, int y, int x, int w, enum tui_role role, const char *text)
{
    int n = (int)strlen(text);
    if (n > w) n = w;
    tui_put(win, y, x + w - n, n, role, text);
}

void tui_fill(WINDOW *win, int y, int x, int w, enum tui_role role)
{
    if (w <= 0) return;
    wattrset(win, tui_attr(role));
    mvwhline(win, y, x, ' ', w);
    wattrset(win, A_NORMAL);
}

void tui_draw_buttons(WINDOW *win, int y, const struct tui_button *b, const char *const *keys,
                      const char *const *labels, int n, int active, bool tabs)
{
    for (int i = 0; i < n; i++) {
        if (b[i].w == 0) continue;
        if (tabs) {
            enum tui_role role = i == active ? TUI_ROLE_TAB_ACTIVE : TUI_ROLE_TAB;
            tui_put(win, y, b[i].x, b[i].key_w, role, keys[i]);
            tui_put(win, y, b[i].x + b[i].key_w, b[i].w - b[i].key_w, role, labels[i]);
        } else {
            tui_put(win, y, b[i].x, b[i].key_w, TUI_ROLE_FKEY, keys[i]);
            tui_put(win, y, b[i].x + b[i].key_w, b[i].w - b[i].key_w, TUI_ROLE_FLABEL, labels[i]);
        }
    }
}

void tui_draw_bar(WINDOW *win, int y, int x, int w, double frac, const char *label)
{
    int lw = (int)strlen(label);
    int bw = w - lw - 3; /* "[" bar "] " */
    if (bw < 4) {
        tui_put(win, y, x, w, TUI_ROLE_NORMAL, label);
        return;
    }
    if (!(frac >= 0)) frac = 0;
    if (frac > 1) frac = 1;
    int filled = (int)lround(frac * bw);
    tui_put(win, y, x, 1, TUI_ROLE_NORMAL, "[");
    wattrset(win, tui_attr(TUI_ROLE_OK));
    mvwhline(win, y, x + 1, '|', filled);
    wattrset(win, tui_attr(TUI_ROLE_DIM));
    mvwhline(win, y, x + 1 + filled, '.', bw - filled);
    wattrset(win, A_NORMAL);
    tui_put(win, y, x + 1 + bw, 2, TUI_ROLE_NORMAL, "] ");
    tui_put(win, y, x + bw + 3, lw, TUI_ROLE_NORMAL, label);
}

void tui_draw_sparkline(WINDOW *win, int y, int x, int w, const double *values, int n, double lo, double hi)
{
    static const char levels[] = "_.-:=+*#";
    int first = n > w ? n - w : 0;
    wattrset(win, tui_attr(TUI_ROLE_OK));
    for (int i = first; i < n; i++) {
        double f = hi > lo ? (values[i] - lo) / (hi - lo) : 0.5;
        int lv = (int)(f * 7.999);
        if (lv < 0) lv = 0;
        if (lv > 7) lv = 7;
        mvwaddch(win, y, x + i - first, (chtype)levels[lv]);
    }
    wattrset(win, A_NORMAL);
}

void tui_draw_axis(WINDOW *win, int y, int x, int w, int64_t origin_ns, int64_t t0_ns, int64_t t1_ns)
{
    if (w < 2 || t1_ns <= t0_ns) return;
    double span_ms = (double)(t1_ns - t0_ns) / 1e6;
    double step = tui_axis_step(span_ms, w / 10 > 1 ? w / 10 : 1);
    wattrset(win, tui_attr(TUI_ROLE_DIM));
    mvwhline(win, y, x, '-', w);
    wattrset(win, A_NORMAL);
    int next_free = 0; /* labels never overlap */
    double from_ms = (double)(t0_ns - origin_ns) / 1e6, to_ms = (double)(t1_ns - origin_ns) / 1e6;
    double first = ceil(from_ms / step - 1e-9) * step; /* the first tick inside the view */
    for (double t = first; t <= to_ms + step * 1e-9; t += step) {
        int c = tui_axis_col(origin_ns + (int64_t)llround(t * 1e6), t0_ns, t1_ns, w);
        mvwaddch(win, y, x + c, '+');
        char label[32];
        snprintf(label, sizeof(label), "%g", fabs(t) < step * 1e-6 ? 0.0 : t);
        int lw = (int)strlen(label);
        int lx = c + lw > w ? w - lw : c;
        if (lx < next_free) continue;
        tui_put(win, y + 1, x + lx, lw, TUI_ROLE_NORMAL, label);
        next_free = lx + lw + 1;
    }
    if (next_free + 3 <= w) tui_put(win, y + 1, x + w - 2, 2, TUI_ROLE_DIM, "ms");
}

void tui_draw_picture(WINDOW *win, int y, int x, int n, const float *coverage)
{
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++) {
            int shade = mask_picture_shade(coverage[(size_t)r * (size_t)n + (size_t)c]);
            const char *glyph = mask_picture_glyph(shade, true);
            enum tui_role role = shade == 4 ? TUI_ROLE_COMPUTE : TUI_ROLE_OVERLAP;
            char cell[3] = {glyph[0], glyph[0], 0};
            tui_put(win, y + r, x + 2 * c, 2, role, cell);
        }
}

void tui_format_number(double v, char *buf, size_t len)
{
    double a = fabs(v);
    if (!isfinite(v))
        snprintf(buf, len, "n/a");
    else if (a >= 1000)
        snprintf(buf, len, "%.0f", v);
    else if (a >= 100)
        snprintf(buf, len, "%.1f", v);
    else if (a >= 1)
        snprintf(buf, len, "%.2f", v);
    else
        snprintf(buf, len, "%.4f", v);
}

void tui_fit_path(const char *path, int w, char *buf, size_t len)
{
    size_t n = strlen(path);
    if (w < 0) w = 0;
    if (n <= (size_t)w) snprintf(buf, len, "%s", path);
    else if (w <= 3) snprintf(buf, len, "%.*s", w, "...");
    else snprintf(buf, len, "...%s", path + n - (size_t)(w - 3));
}

int tui_put_wrapped(WINDOW *win, int y, int x, int w, int rows, enum tui_role role, const char *text)
{
    if (w < 4 || rows < 1) return 0;
    int used = 0;
    while (*text && used < rows) {
        int n = (int)strlen(text);
        if (n > w) { /* break at the last space that fits, else mid-word */
            n = w;
            for (int k = w; k > w / 2; k--)
                if (text[k] == ' ') {
                    n = k;
                    break;
                }
        }
        bool more = text[n] != 0;
        if (more && used == rows - 1) { /* the last row: mark what does not fit */
            char last[512];
            snprintf(last, sizeof last, "%.*s...", w - 3 < (int)sizeof last - 4 ? w - 3 : (int)sizeof last - 4, text);
            tui_put(win, y + used, x, w, role, last);
            return rows;
        }
        char line[512];
        snprintf(line, sizeof line, "%.*s", n < (int)sizeof line - 1 ? n : (int)sizeof line - 1, text);
        tui_put(win, y + used++, x, w, role, line);
        text += n;
        while (*text == ' ') text++;
    }
    return used;
}
