/* Setup choices and the sweep they make (see setup.h). */
#include "tui/setup.h"

#include <stdio.h>
#include <string.h>

#include "core/engine/cp_method.h"
#include "core/engine/kernel.h"
#include "core/model/sweep.h"
#include "tui/model.h"
#include "core/mask/doclen.h"

static void add(struct tui_field *f, const char *label, int64_t value, bool selected)
{
    if (f->n_choices >= TUI_MAX_CHOICES) return;
    struct tui_choice *c = &f->choices[f->n_choices++];
    snprintf(c->label, sizeof(c->label), "%s", label);
    c->value = value;
    c->selected = selected;
}

static void add_number(struct tui_field *f, int64_t value, bool selected)
{
    char label[TUI_CHOICE_LEN];
    snprintf(label, sizeof(label), "%lld", (long long)value);
    add(f, label, value, selected);
}

static void add_tokens(struct tui_field *f, int64_t value, bool selected)
{
    char label[TUI_CHOICE_LEN];
    tui_format_tokens(value, label, sizeof(label));
    add(f, label, value, selected);
}

static int first_selected(const struct tui_field *f)
{
    for (int i = 0; i < f->n_choices; i++)
        if (f->choices[i].selected) return i;
    return -1;
}

/* A field whose default is not among its choices starts on its first choice. */
static void ensure_selected(struct tui_field *f)
{
    if (first_selected(f) < 0 && f->n_choices > 0) f->choices[0].selected = true;
}

static void init_heads(struct tui_field *f, const struct run_spec *d)
{
    static const int pairs[][2] = {{1, 1}, {8, 2}, {8, 8}, {16, 4}, {32, 8}, {64, 8}, {64, 64}};
    bool have_default = false;
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        char label[TUI_CHOICE_LEN];
        snprintf(label, sizeof(label), "%d:%d", pairs[i][0], pairs[i][1]);
        bool is_default = pairs[i][0] == d->heads_q && pairs[i][1] == d->heads_kv;
        have_default |= is_default;
        add(f, label, (int64_t)pairs[i][0] << 16 | pairs[i][1], is_default);
    }
    if (!have_default) {
        char label[TUI_CHOICE_LEN];
        snprintf(label, sizeof(label), "%d:%d", d->heads_q, d->heads_kv);
        add(f, label, (int64_t)d->heads_q << 16 | d->heads_kv, true);
    }
}

/* The label of Kernel libs' last choice, which starts typing a file name. */
static const char load_choice[] = "load a file...";

void tui_setup_list_kernels(struct tui_setup *s)
{
    struct tui_field *k = &s->fields[TUI_F_KERNELS];
    for (int i = 0; i < kernel_count(); i++) {
        bool listed = false;
        for (int c = 0; c < k->n_choices && !listed; c++) listed = !strcmp(k->choices[c].label, kernel_at(i)->name);
        if (!listed) add(k, kernel_at(i)->name, i, false);
    }
    struct tui_field *libs = &s->fields[TUI_F_KERNEL_LIBS];
    *libs = (struct tui_field){.label = "Kernel libs", .multi = true};
    const char *files[KERNEL_MAX];
    int n = kernel_libraries(files, KERNEL_MAX);
    for (int i = 0; i < n; i++) {
        const char *slash = strrchr(files[i], '/');
        add(libs, slash ? slash + 1 : files[i], i, true);
    }
    add(libs, load_choice, -1, false);
    s->generation++;
}

void tui_setup_init(struct tui_setup *s, int workers, bool gpu)
{
    memset(s, 0, sizeof(*s));
    struct run_spec d;
    run_spec_defaults(&d, gpu);
    struct tui_field *f = s->fields;

    f[TUI_F_KERNELS] = (struct tui_field){.label = "Kernels", .multi = true};
    for (int i = 0; i < kernel_count(); i++)
        add(&f[TUI_F_KERNELS], kernel_at(i)->name, i, !strcmp(kernel_at(i)->name, d.kernel));
    ensure_selected(&f[TUI_F_KERNELS]);
    tui_setup_list_kernels(s);

    f[TUI_F_MASKS] = (struct tui_field){.label = "Masks", .multi = true};
    for (int p = 0; p < MASK_PATTERN_COUNT; p++)
        add(&f[TUI_F_MASKS], mask_pattern_name((enum mask_pattern)p), p, p == (int)d.mask);

    f[TUI_F_WINDOW] = (struct tui_field){.label = "Window"};
    const int64_t windows[] = {128, 256, 512, 1024, 2048, 4096, 8192};
    for (int i = 0; i < 7; i++) add_tokens(&f[TUI_F_WINDOW], windows[i], windows[i] == 1024);

    f[TUI_F_GLOBAL] = (struct tui_field){.label = "Global"};
    const int64_t globals[] = {64, 256, 1024, 4096};
    for (int i = 0; i < 4; i++) add_tokens(&f[TUI_F_GLOBAL], globals[i], globals[i] == 1024);

    f[TUI_F_BLOCK] = (struct tui_field){.label = "Block"};
    add(&f[TUI_F_BLOCK], "default", 0, true);
    const int64_t blocks[] = {64, 128, 256, 512, 1024};
    for (int i = 0; i < 5; i++) add_tokens(&f[TUI_F_BLOCK], blocks[i], false);

    f[TUI_F_DENSITY] = (struct tui_field){.label = "Density"};
    const int densities[] = {10, 25, 50, 75, 90}; /* percent */
    for (int i = 0; i < 5; i++) {
        char label[TUI_CHOICE_LEN];
        snprintf(label, sizeof(label), "%.2f", densities[i] / 100.0);
        add(&f[TUI_F_DENSITY], label, densities[i], densities[i] == 50);
    }

    f[TUI_F_DOCLEN] = (struct tui_field){.label = "Doc lengths"};
    for (int src = DOCLEN_AUTO; src <= DOCLEN_LONG; src++)
        add(&f[TUI_F_DOCLEN], doclen_source_name((enum doclen_source)src), src, src == DOCLEN_AUTO);

    f[TUI_F_SEQLENS] = (struct tui_field){.label = "Seq lengths", .multi = true};
    const int64_t lens[] = {1024, 2048, 4096, 8192, 16384, 24576, 32768, 49152, 65536, 131072, 262144, 524288};
    for (int i = 0; i < 12; i++) add_tokens(&f[TUI_F_SEQLENS], lens[i], lens[i] == d.seqlen);
    ensure_selected(&f[TUI_F_SEQLENS]);

    f[TUI_F_HEADS] = (struct tui_field){.label = "Heads q:kv", .multi = true};
    init_heads(&f[TUI_F_HEADS], &d);

    f[TUI_F_HEAD_DIM] = (struct tui_field){.label = "Head dim", .multi = true};
    const int dims[] = {32, 64, 128, 256};
    for (int i = 0; i < 4; i++) add_number(&f[TUI_F_HEAD_DIM], dims[i], dims[i] == d.head_dim);
    ensure_selected(&f[TUI_F_HEAD_DIM]);

    f[TUI_F_DTYPE] = (struct tui_field){.label = "Dtype", .multi = true};
    for (int t = 0; t < LC_DTYPE_COUNT; t++)
        add(&f[TUI_F_DTYPE], dtype_name((enum lc_dtype)t), t, t == (int)d.dtype);

    f[TUI_F_DIRECTION] = (struct tui_field){.label = "Direction", .multi = true};
    const enum run_direction dirs[] = {DIR_FWD, DIR_BWD, DIR_FWD_BWD};
    for (int i = 0; i < 3; i++) add(&f[TUI_F_DIRECTION], direction_name(dirs[i]), dirs[i], dirs[i] == d.direction);

    f[TUI_F_CP] = (struct tui_field){.label = "CP method", .multi = true};
    for (int i = 0; i < cp_method_count(); i++)
        add(&f[TUI_F_CP], cp_method_at(i)->name, i, cp_method_at(i)->single_device);

    f[TUI_F_GPUS] = (struct tui_field){.label = "GPUs", .multi = true};
    int max_gpus = workers > 0 ? workers : 1;
    if (max_gpus > TUI_MAX_CHOICES) max_gpus = TUI_MAX_CHOICES;
    for (int g = 1; g <= max_gpus; g++) add_number(&f[TUI_F_GPUS], g, g == 1);

    f[TUI_F_ITERS] = (struct tui_field){.label = "Iterations"};
    const int iters[] = {1, 3, 5, 10, 20, 50, 100};
    for (int i = 0; i < 7; i++) add_number(&f[TUI_F_ITERS], iters[i], iters[i] == d.iters);
    ensure_selected(&f[TUI_F_ITERS]);

    f[TUI_F_CHECK] = (struct tui_field){.label = "Check"};
    add(&f[TUI_F_CHECK], "off", 0, gpu);
    add(&f[TUI_F_CHECK], "on", 1, !gpu);

    /* GPU counters: live PM sampling or range-profiler iterations, never both at once. */
    f[TUI_F_COUNTERS] = (struct tui_field){.label = "Counters"};
    for (int m = COUNTERS_PM; m <= COUNTERS_OFF; m++)
        add(&f[TUI_F_COUNTERS], counter_mode_name((enum counter_mode)m), m, m == COUNTERS_PM);
}

void tui_setup_move(struct tui_setup *s, int delta)
{
    if (s->in_choices) {
        int n = s->fields[s->field].n_choices;
        s->choice += delta;
        if (s->choice < 0) s->choice = 0;
        if (s->choice > n - 1) s->choice = n - 1;
    } else {
        s->field += delta;
        if (s->field < 0) s->field = 0;
        if (s->field > TUI_F_COUNT) s->field = TUI_F_COUNT;
    }
    s->generation++;
}

void tui_setup_enter(struct tui_setup *s)
{
    if (s->field >= TUI_F_COUNT || s->fields[s->field].n_choices == 0) return;
    s->in_choices = true;
    int first = first_selected(&s->fields[s->field]);
    s->choice = first > 0 ? first : 0;
    s->generation++;
}

void tui_setup_leave(struct tui_setup *s)
{
    s->in_choices = false;
    s->generation++;
}

void tui_setup_toggle(struct tui_setup *s)
{
    if (!s->in_choices || s->field >= TUI_F_COUNT) return;
    struct tui_field *f = &s->fields[s->field];
    if (s->choice < 0 || s->choice >= f->n_choices) return;
    struct tui_choice *c = &f->choices[s->choice];
    if (s->field == TUI_F_KERNEL_LIBS) { /* a loaded file stays loaded */
        if (c->value < 0) s->typing = true, s->typed[0] = 0;
    } else if (f->multi) {
        int selected = 0;
        for (int i = 0; i < f->n_choices; i++) selected += f->choices[i].selected;
        if (c->selected && selected == 1) return; /* an axis needs a value */
        c->selected = !c->selected;
    } else {
        for (int i = 0; i < f->n_choices; i++) f->choices[i].selected = i == s->choice;
    }
    s->generation++;
}

void tui_setup_summary(const struct tui_setup *s, int field, char *buf, size_t len)
{
    const struct tui_field *f = &s->fields[field];
    size_t used = 0;
    int n = 0;
    buf[0] = 0;
    for (int i = 0; i < f->n_choices; i++) {
        if (!f->choices[i].selected) continue;
        if (used < len) used += (size_t)snprintf(buf + used, len - used, "%s%s", n ? "," : "", f->choices[i].label);
        n++;
    }
    if (used >= len && len > 4) snprintf(buf, len, "%d of %d", n, f->n_choices); /* too long to list */
    if (f->n_choices == 0) snprintf(buf, len, "(none available)");
    if (field == TUI_F_KERNEL_LIBS && n == 0) snprintf(buf, len, "none (Enter: load a plugin)");
}

static int64_t selected_value(const struct tui_field *f)
{
    int i = first_selected(f);
    return i >= 0 ? f->choices[i].value : 0;
}

static struct mask_params chosen_params(const struct tui_setup *s)
{
    struct mask_params p;
    memset(&p, 0, sizeof(p));
    p.window = selected_value(&s->fields[TUI_F_WINDOW]);
    p.global_tokens = selected_value(&s->fields[TUI_F_GLOBAL]);
    p.block = selected_value(&s->fields[TUI_F_BLOCK]);
    p.density = (double)selected_value(&s->fields[TUI_F_DENSITY]) / 100.0;
    p.doclen = (enum doclen_source)selected_value(&s->fields[TUI_F_DOCLEN]);
    return p;
}

void tui_setup_preview(const struct tui_setup *s, enum mask_pattern *mask, int64_t *seqlen,
                       struct mask_params *params, int *heads_kv)
{
    const struct tui_field *masks = &s->fields[TUI_F_MASKS];
    bool browsing = s->in_choices && s->field == TUI_F_MASKS && s->choice < masks->n_choices;
    *mask = (enum mask_pattern)(browsing ? masks->choices[s->choice].value : selected_value(masks));
    *seqlen = selected_value(&s->fields[TUI_F_SEQLENS]);
    *params = chosen_params(s);
    *heads_kv = (int)(selected_value(&s->fields[TUI_F_HEADS]) & 0xffff);
}

enum lc_status tui_setup_build(const struct tui_setup *s, struct run_spec **runs, int *n_runs, char *err)
{
    struct sweep_axes axes;
    sweep_init(&axes);
    const struct tui_field *f = s->fields;
    for (int i = 0; i < f[TUI_F_KERNELS].n_choices; i++)
        if (f[TUI_F_KERNELS].choices[i].selected)
            snprintf(axes.kernels[axes.n_kernels++], LC_NAME_LEN, "%s", f[TUI_F_KERNELS].choices[i].label);
    if (axes.n_kernels == 0) return lc_fail(err, LC_ERR_INVALID, "no kernel is registered in this build");
    for (int i = 0; i < f[TUI_F_MASKS].n_choices; i++)
        if (f[TUI_F_MASKS].choices[i].selected) axes.masks[axes.n_masks++] = (enum mask_pattern)f[TUI_F_MASKS].choices[i].value;
    for (int i = 0; i < f[TUI_F_SEQLENS].n_choices; i++)
        if (f[TUI_F_SEQLENS].choices[i].selected) axes.seqlens[axes.n_seqlens++] = f[TUI_F_SEQLENS].choices[i].value;
    for (int i = 0; i < f[TUI_F_HEADS].n_choices; i++)
        if (f[TUI_F_HEADS].choices[i].selected) {
            axes.heads[axes.n_heads][0] = (int)(f[TUI_F_HEADS].choices[i].value >> 16);
            axes.heads[axes.n_heads][1] = (int)(f[TUI_F_HEADS].choices[i].value & 0xffff);
            axes.n_heads++;
        }
    for (int i = 0; i < f[TUI_F_HEAD_DIM].n_choices; i++)
        if (f[TUI_F_HEAD_DIM].choices[i].selected) axes.head_dims[axes.n_head_dims++] = (int)f[TUI_F_HEAD_DIM].choices[i].value;
    for (int i = 0; i < f[TUI_F_DTYPE].n_choices; i++)
        if (f[TUI_F_DTYPE].choices[i].selected) axes.dtypes[axes.n_dtypes++] = (enum lc_dtype)f[TUI_F_DTYPE].choices[i].value;
    for (int i = 0; i < f[TUI_F_DIRECTION].n_choices; i++)
        if (f[TUI_F_DIRECTION].choices[i].selected)
            axes.directions[axes.n_directions++] = (enum run_direction)f[TUI_F_DIRECTION].choices[i].value;
    for (int i = 0; i < f[TUI_F_CP].n_choices; i++)
        if (f[TUI_F_CP].choices[i].selected)
            snprintf(axes.cp_methods[axes.n_cp_methods++], LC_NAME_LEN, "%s", f[TUI_F_CP].choices[i].label);
    for (int i = 0; i < f[TUI_F_GPUS].n_choices; i++)
        if (f[TUI_F_GPUS].choices[i].selected) axes.gpus[axes.n_gpus++] = (int)f[TUI_F_GPUS].choices[i].value;
    axes.iters = (int)selected_value(&f[TUI_F_ITERS]);
    axes.check = selected_value(&f[TUI_F_CHECK]) != 0;
    axes.counters = (enum counter_mode)selected_value(&f[TUI_F_COUNTERS]);
    axes.mask_params = chosen_params(s);
    return sweep_expand(&axes, runs, n_runs, err);
}
