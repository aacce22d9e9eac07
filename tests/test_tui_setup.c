/* The Setup screen's state: choices from the registries, selection invariants, and the sweep it
 * builds through core's sweep_expand (with run_spec_validate's message when invalid). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "cp/cp.h"
#include "kernels/kernels.h"
#include "tui/setup.h"

static int choice_index(const struct tui_setup *s, int field, const char *label)
{
    for (int i = 0; i < s->fields[field].n_choices; i++)
        if (!strcmp(s->fields[field].choices[i].label, label)) return i;
    return -1;
}

/* Focus field, move the cursor onto label and toggle it, as the keys do. */
static void toggle(struct tui_setup *s, int field, const char *label)
{
    s->field = field;
    s->in_choices = false;
    tui_setup_enter(s);
    int want = choice_index(s, field, label);
    CHECK(want >= 0);
    tui_setup_move(s, want - s->choice);
    tui_setup_toggle(s);
    tui_setup_leave(s);
}

int main(void)
{
    kernels_register_all();
    cp_register_all();
    struct tui_setup s;
    tui_setup_init(&s, 2, false);
    char summary[160];

    /* CPU defaults: one run, valid. */
    struct run_spec *runs = NULL;
    int n = 0;
    char err[LC_ERRMSG_LEN];
    CHECK(tui_setup_build(&s, &runs, &n, err) == LC_OK && n == 1);
    if (n == 1) {
        struct run_spec d;
        run_spec_defaults(&d, false);
        CHECK(!strcmp(runs[0].kernel, d.kernel) && runs[0].mask == d.mask && runs[0].seqlen == d.seqlen);
        CHECK(runs[0].heads_q == d.heads_q && runs[0].heads_kv == d.heads_kv && runs[0].check);
    }
    free(runs);

    /* Two masks x two lengths = four runs, in the sweep's order. */
    toggle(&s, TUI_F_MASKS, "sliding_window");
    toggle(&s, TUI_F_SEQLENS, "2K");
    tui_setup_summary(&s, TUI_F_MASKS, summary, sizeof(summary));
    CHECK(!strcmp(summary, "causal,sliding_window"));
    CHECK(tui_setup_build(&s, &runs, &n, err) == LC_OK && n == 4);
    if (n == 4) {
        CHECK(runs[0].mask == MASK_CAUSAL && runs[0].seqlen == 1024 && runs[1].seqlen == 2048);
        CHECK(runs[2].mask == MASK_SLIDING_WINDOW && runs[3].seqlen == 2048);
    }
    free(runs);

    /* A multi field never empties: toggling its last choice off is refused. */
    toggle(&s, TUI_F_KERNELS, "cpu");
    tui_setup_summary(&s, TUI_F_KERNELS, summary, sizeof(summary));
    CHECK(!strcmp(summary, "cpu"));
    /* A single field holds exactly one choice. */
    toggle(&s, TUI_F_ITERS, "100");
    tui_setup_summary(&s, TUI_F_ITERS, summary, sizeof(summary));
    CHECK(!strcmp(summary, "100"));

    /* The counter mode reaches every run. */
    toggle(&s, TUI_F_COUNTERS, "range");
    runs = NULL;
    CHECK(tui_setup_build(&s, &runs, &n, err) == LC_OK && n > 0 && runs[0].counters == COUNTERS_RANGE, "%s", err);
    free(runs);

    /* Invalid: 2 GPUs without a CP method; the message is run_spec_validate's. */
    toggle(&s, TUI_F_GPUS, "2");
    toggle(&s, TUI_F_GPUS, "1");
    runs = NULL;
    CHECK(tui_setup_build(&s, &runs, &n, err) == LC_ERR_INVALID && runs == NULL);
    CHECK(strstr(err, "context-parallel") != NULL);

    /* The picture follows the cursor while browsing masks, else the first selected one. */
    enum mask_pattern mask;
    int64_t seqlen;
    struct mask_params params;
    int heads_kv;
    tui_setup_preview(&s, &mask, &seqlen, &params, &heads_kv);
    CHECK(mask == MASK_CAUSAL && seqlen == 1024 && params.window == 1024 && heads_kv == 2);
    s.field = TUI_F_MASKS;
    tui_setup_enter(&s);
    tui_setup_move(&s, choice_index(&s, TUI_F_MASKS, "block_sparse") - s.choice);
    tui_setup_preview(&s, &mask, &seqlen, &params, &heads_kv);
    CHECK(mask == MASK_BLOCK_SPARSE);

    /* Cursor moves stay inside the lists; the Start button is one past the last field. */
    tui_setup_leave(&s);
    tui_setup_move(&s, 1000);
    CHECK(s.field == TUI_F_COUNT);
    tui_setup_enter(&s);
    CHECK(!s.in_choices);
    tui_setup_move(&s, -1000);
    CHECK(s.field == 0);

    /* GPU workers: LongCA-bench's shape by default. */
    tui_setup_init(&s, 8, true);
    tui_setup_summary(&s, TUI_F_HEADS, summary, sizeof(summary));
    CHECK(!strcmp(summary, "64:8"));
    CHECK(s.fields[TUI_F_GPUS].n_choices == 8);

    return check_report("tui setup");
}
