/* The front end's layout arithmetic at the sizes users have: 80x24, wide, tiny. */
#include <stdio.h>
#include <string.h>

#include "tests/check.h"
#include "tui/layout.h"

static bool inside(const struct tui_rect *inner, const struct tui_rect *outer)
{
    return inner->h >= 0 && inner->w >= 0 && inner->y >= outer->y && inner->x >= outer->x &&
           inner->y + inner->h <= outer->y + outer->h && inner->x + inner->w <= outer->x + outer->w;
}

static void test_screen(void)
{
    struct tui_screen_layout l;
    tui_layout_screen(24, 80, &l);
    CHECK(!l.too_small);
    CHECK(l.title.y == 0 && l.tabs.y == 1 && l.body.y == 2);
    CHECK(l.body.h == 20 && l.body.w == 80);
    CHECK(l.status.y == 22 && l.fbar.y == 23);

    tui_layout_screen(5, 30, &l);
    CHECK(l.too_small);
    tui_layout_screen(TUI_MIN_ROWS, TUI_MIN_COLS, &l);
    CHECK(!l.too_small && l.body.h == TUI_MIN_ROWS - 4);
}

static void test_buttons(void)
{
    const char *keys[] = {"F1", "F2", "F10"};
    const char *labels[] = {"Help", "Setup", "Quit"};
    struct tui_button b[3];
    CHECK(tui_layout_buttons(keys, labels, 3, 80, 1, b) == 3);
    CHECK(b[0].x == 0 && b[0].w == 6 && b[0].key_w == 2);
    CHECK(b[1].x == 7 && b[1].w == 7);
    CHECK(b[2].x == 15 && b[2].w == 7 && b[2].key_w == 3);
    CHECK(tui_button_at(b, 3, 0) == 0);
    CHECK(tui_button_at(b, 3, 6) == -1); /* the gap */
    CHECK(tui_button_at(b, 3, 7) == 1);
    CHECK(tui_button_at(b, 3, 21) == 2);
    CHECK(tui_button_at(b, 3, 22) == -1);
    /* Too narrow: the last button is dropped, never half drawn, and never clickable. */
    CHECK(tui_layout_buttons(keys, labels, 3, 20, 1, b) == 2);
    CHECK(b[2].w == 0 && tui_button_at(b, 3, 19) == -1);
}

static void test_columns(void)
{
    struct tui_column c[4] = {{4, 0, false}, {10, 0, true}, {8, 1, false}, {8, 2, false}};
    int x[4], w[4];
    CHECK(tui_layout_columns(c, 4, 80, x, w) == 4);
    CHECK(x[0] == 0 && w[0] == 4 && x[1] == 5);
    CHECK(w[1] == 80 - (4 + 8 + 8 + 3)); /* the growing column takes the spare width */
    CHECK(x[3] + w[3] == 80);
    /* 4+10+8 + 2 gaps = 24: the priority-2 column goes first. */
    CHECK(tui_layout_columns(c, 4, 24, x, w) == 3);
    CHECK(w[3] == 0 && w[2] == 8);
    CHECK(tui_layout_columns(c, 4, 20, x, w) == 2);
    CHECK(w[2] == 0 && w[3] == 0 && w[0] + 1 + w[1] <= 20);
    /* Narrower than the essentials: they are clipped, never drawn past the edge. */
    tui_layout_columns(c, 4, 9, x, w);
    CHECK(x[1] + w[1] <= 9);
}

static void test_scroll(void)
{
    CHECK(tui_scroll_top(0, 0, 10, 100) == 0);
    CHECK(tui_scroll_top(10, 0, 10, 100) == 1);
    CHECK(tui_scroll_top(5, 8, 10, 100) == 5);
    CHECK(tui_scroll_top(99, 0, 10, 100) == 90);
    CHECK(tui_scroll_top(3, 50, 10, 5) == 0); /* the list shrank */
    CHECK(tui_scroll_top(0, 0, 0, 5) == 0);
    CHECK(tui_clamp(7, 0, 4) == 4 && tui_clamp(-1, 0, 4) == 0 && tui_clamp(3, 0, -1) == 0);
}

static void test_axis(void)
{
    CHECK(tui_axis_col(0, 0, 1000, 100) == 0);
    CHECK(tui_axis_col(500, 0, 1000, 100) == 50);
    CHECK(tui_axis_col(1000, 0, 1000, 100) == 99);
    CHECK(tui_axis_col(-5, 0, 1000, 100) == 0);
    CHECK(tui_axis_col(5, 0, 0, 100) == 0);
    int c0, c1;
    tui_axis_span(100, 200, 0, 1000, 100, &c0, &c1);
    CHECK(c0 == 10 && c1 == 19);
    tui_axis_span(100, 101, 0, 1000000, 100, &c0, &c1); /* tiny intervals still show */
    CHECK(c0 == 0 && c1 == 0);
    CHECK(tui_axis_step(10, 5) == 2);
    CHECK(tui_axis_step(7.3, 4) == 2);
    CHECK(tui_axis_step(1000, 3) == 500);
    CHECK(tui_axis_step(0.9, 10) > 0.099 && tui_axis_step(0.9, 10) < 0.101);
}

static void test_panes(void)
{
    struct tui_screen_layout s;
    const int sizes[][2] = {{24, 80}, {30, 100}, {60, 240}, {TUI_MIN_ROWS, TUI_MIN_COLS}};
    for (int i = 0; i < 4; i++) {
        tui_layout_screen(sizes[i][0], sizes[i][1], &s);
        struct tui_setup_layout su;
        tui_layout_setup(&s.body, &su);
        CHECK(inside(&su.fields, &s.body) && inside(&su.choices, &s.body) && inside(&su.picture, &s.body));
        CHECK(su.fields.w + su.choices.w + su.picture.w == s.body.w);

        struct tui_runs_layout ru;
        tui_layout_runs(&s.body, 8, 8, &ru);
        CHECK(inside(&ru.workers, &s.body) && inside(&ru.progress, &s.body) && inside(&ru.table, &s.body));
        CHECK(ru.table.y >= ru.progress.y + ru.progress.h && ru.detail.y >= ru.table.y + ru.table.h);
        if (s.body.h >= 12) CHECK(ru.table.h >= 5);

        struct tui_timeline_layout tl;
        tui_layout_timeline(&s.body, 2, 2, 6, &tl);
        CHECK(inside(&tl.lanes, &s.body) && inside(&tl.axis, &s.body) && inside(&tl.breakdown, &s.body));
        CHECK(1 + tl.lanes_shown * 2 <= tl.lanes.h || tl.lanes_shown == 0);
        CHECK(tl.breakdown.y == tl.axis.y + 2);
        if (s.body.h >= 20) CHECK(tl.lanes_shown == 2 && tl.breakdown.h == 6);
    }
    /* Eight ranks at 80x24: the breakdown keeps half the body, the lanes fall back to one row. */
    struct tui_timeline_layout tl8;
    tui_layout_screen(24, 80, &s);
    tui_layout_timeline(&s.body, 8, 1, 18, &tl8);
    CHECK(tl8.breakdown.h == 10 && tl8.lanes_shown == 7);
    CHECK(tui_picture_cells(20, 40) == 20);
    CHECK(tui_picture_cells(20, 24) == 12);
    CHECK(tui_picture_cells(0, 24) == 0);
}

int main(void)
{
    test_screen();
    test_buttons();
    test_columns();
    test_scroll();
    test_axis();
    test_panes();
    return check_report("tui layout");
}
