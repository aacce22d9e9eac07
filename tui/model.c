/* The front end's state machine: every change comes from one event, so a live session and a
 * replayed capture build the same model. */
#include "tui/model.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tui_run_state_name(enum tui_run_state s)
{
    switch (s) {
    case TUI_RUN_QUEUED: return "queued";
    case TUI_RUN_RUNNING: return "running";
    case TUI_RUN_DONE: return "done";
    case TUI_RUN_FAILED: return "failed";
    case TUI_RUN_CANCELLED: return "cancelled";
    }
    return "?";
}

const char *tui_sort_key_name(enum tui_sort_key k)
{
    switch (k) {
    case TUI_SORT_ID: return "run";
    case TUI_SORT_MS: return "ms";
    case TUI_SORT_TFLOPS: return "TFLOP/s";
    case TUI_SORT_MEMORY: return "memory";
    case TUI_SORT_KEY_COUNT: break;
    }
    return "?";
}

void tui_model_init(struct tui_model *m)
{
    memset(m, 0, sizeof(*m));
    m->max_timeline_items = TUI_TIMELINE_MAX_ITEMS;
}

static void timeline_free(struct tui_timeline *tl)
{
    for (int i = 0; i < tl->n_lanes; i++) free(tl->lanes[i].items);
    free(tl->lanes);
}

void tui_model_free(struct tui_model *m)
{
    for (int i = 0; i < m->n_runs; i++) free(m->runs[i].ranks);
    free(m->runs);
    free(m->run_index);
    free(m->workers);
    free(m->series);
    for (int i = 0; i < m->n_timelines; i++) timeline_free(&m->timelines[i]);
    free(m->timelines);
    memset(m, 0, sizeof(*m));
}

/* Grows *items (of elem bytes each) to hold at least need; false when memory ran out. */
static bool grow(void **items, int *cap, int need, size_t elem)
{
    if (need <= *cap) return true;
    int n = *cap ? *cap : 8;
    while (n < need) n *= 2;
    void *p = realloc(*items, (size_t)n * elem);
    if (!p) return false;
    *items = p;
    *cap = n;
    return true;
}

static unsigned run_slot(int run_id, int cap)
{
    return ((unsigned)run_id * 2654435761u) & (unsigned)(cap - 1);
}

static struct tui_run *find_run(struct tui_model *m, int run_id)
{
    if (!m->run_index) return NULL;
    for (unsigned k = run_slot(run_id, m->run_index_cap);; k = (k + 1) & (unsigned)(m->run_index_cap - 1)) {
        int at = m->run_index[k];
        if (at == 0) return NULL;
        if (m->runs[at - 1].id == run_id) return &m->runs[at - 1];
    }
}

/* Indexes runs[n_runs - 1], doubling the table (and re-indexing) past half full: a lookup stays
 * O(1), so a capture of 100K runs loads in linear time. */
static bool index_run(struct tui_model *m)
{
    if (2 * m->n_runs > m->run_index_cap) {
        int cap = m->run_index_cap ? 2 * m->run_index_cap : 64;
        int *index = calloc((size_t)cap, sizeof *index);
        if (!index) return false;
        free(m->run_index);
        m->run_index = index;
        m->run_index_cap = cap;
        for (int i = 0; i + 1 < m->n_runs; i++) {
            unsigned k = run_slot(m->runs[i].id, cap);
            while (index[k]) k = (k + 1) & (unsigned)(cap - 1);
            index[k] = i + 1;
        }
    }
    unsigned k = run_slot(m->runs[m->n_runs - 1].id, m->run_index_cap);
    while (m->run_index[k]) k = (k + 1) & (unsigned)(m->run_index_cap - 1);
    m->run_index[k] = m->n_runs;
    return true;
}

static int run_rank_count(const struct run_spec *spec)
{
    return spec->cp_degree > 1 ? spec->cp_degree : 1;
}

/* The run with this id, created (queued, spec unknown) if it was never announced. */
static struct tui_run *get_run(struct tui_model *m, int run_id)
{
    struct tui_run *r = find_run(m, run_id);
    if (r) return r;
    if (!grow((void **)&m->runs, &m->cap_runs, m->n_runs + 1, sizeof(*m->runs))) {
        m->dropped = true;
        return NULL;
    }
    r = &m->runs[m->n_runs++];
    memset(r, 0, sizeof(*r));
    r->id = run_id;
    r->state = TUI_RUN_QUEUED;
    if (!index_run(m)) {
        m->n_runs--;
        m->dropped = true;
        return NULL;
    }
    return r;
}

/* Progress slot of rank on run r, widening the run when a rank beyond its spec reports. */
static struct tui_rank_progress *run_rank(struct tui_model *m, struct tui_run *r, int rank)
{
    if (rank < 1) return NULL;
    if (rank > r->n_ranks) {
        if (m->rank_slots + (rank - r->n_ranks) > TUI_MAX_RANK_SLOTS) return NULL;
        struct tui_rank_progress *p = realloc(r->ranks, (size_t)rank * sizeof(*p));
        if (!p) {
            m->dropped = true;
            return NULL;
        }
        memset(p + r->n_ranks, 0, (size_t)(rank - r->n_ranks) * sizeof(*p));
        r->ranks = p;
        m->rank_slots += rank - r->n_ranks;
        r->n_ranks = rank;
    }
    return &r->ranks[rank - 1];
}

static struct tui_worker *get_worker(struct tui_model *m, int rank)
{
    for (int i = 0; i < m->n_workers; i++)
        if (m->workers[i].rank == rank) return &m->workers[i];
    struct tui_worker *w = realloc(m->workers, (size_t)(m->n_workers + 1) * sizeof(*w));
    if (!w) {
        m->dropped = true;
        return NULL;
    }
    m->workers = w;
    int at = m->n_workers;
    while (at > 0 && m->workers[at - 1].rank > rank) {
        m->workers[at] = m->workers[at - 1];
        at--;
    }
    m->n_workers++;
    memset(&m->workers[at], 0, sizeof(m->workers[at]));
    m->workers[at].rank = rank;
    return &m->workers[at];
}

static bool run_finished(const struct tui_run *r)
{
    return r->state == TUI_RUN_DONE || r->state == TUI_RUN_FAILED || r->state == TUI_RUN_CANCELLED;
}

static void on_queued(struct tui_model *m, const struct event *ev)
{
    struct tui_run *r = get_run(m, ev->run_id);
    if (!r) return;
    r->spec = ev->u.spec;
    r->have_spec = true;
    run_rank(m, r, run_rank_count(&r->spec));
    m->sweep_done = false;
}

static void on_progress(struct tui_model *m, const struct event *ev)
{
    struct tui_run *r = get_run(m, ev->run_id);
    if (!r) return;
    if (!run_finished(r)) r->state = TUI_RUN_RUNNING;
    struct tui_rank_progress *p = run_rank(m, r, ev->rank);
    if (!p) return;
    p->started = true;
    if (ev->type == EV_PROGRESS) {
        p->phase = ev->u.progress.phase;
        p->iter = ev->u.progress.iter;
        p->total = ev->u.progress.total;
    }
}

/* A rank's own measurements: that rank is through; the run's result comes with EV_RUN_DONE. */
static void on_result(struct tui_model *m, const struct event *ev)
{
    struct tui_run *r = get_run(m, ev->run_id);
    if (!r) return;
    struct tui_rank_progress *p = run_rank(m, r, ev->rank);
    if (p) p->finished = true;
}

/* The run's outcome as its state and the fields the screens read. */
static void show_outcome(struct tui_run *r)
{
    const struct run_outcome *o = &r->outcome;
    enum lc_status st = o->result.status;
    if (st != LC_OK && !run_status_recorded(st)) {
        r->state = st == LC_ERR_CANCELLED ? TUI_RUN_CANCELLED : TUI_RUN_FAILED;
        r->error_rank = o->rank;
        snprintf(r->error, sizeof(r->error), "%s", o->result.message);
        return;
    }
    r->result = o->result;
    r->have_result = true;
    r->state = TUI_RUN_DONE;
}

/* An outcome the front end knows before any event says it (a lost worker, the sweep's end): the
 * first cause, kept as an EV_ERROR's would be. */
static void settle(struct tui_run *r, enum lc_status st, int rank, const char *reason)
{
    memset(&r->outcome, 0, sizeof r->outcome);
    r->outcome.known = true;
    r->outcome.rank = rank;
    r->outcome.result.status = st;
    snprintf(r->outcome.result.message, sizeof r->outcome.result.message, "%s", reason);
    show_outcome(r);
}

/* EV_ERROR and EV_RUN_DONE. */
static void on_outcome(struct tui_model *m, const struct event *ev)
{
    struct tui_run *r = get_run(m, ev->run_id);
    if (r && event_run_outcome(ev, &r->outcome)) show_outcome(r);
}

static void on_error(struct tui_model *m, const struct event *ev)
{
    if (ev->run_id < 0) { /* about the session, not a run: a note, never a phantom failed run */
        snprintf(m->note, sizeof(m->note), "rank %d: %s", ev->rank, ev->u.error.message);
        return;
    }
    on_outcome(m, ev);
}

static void on_worker_lost(struct tui_model *m, const struct event *ev)
{
    struct tui_worker *w = get_worker(m, ev->rank);
    if (w) {
        w->lost = true;
        snprintf(w->reason, sizeof(w->reason), "%s", ev->u.error.message);
    }
    /* Runs in flight on that rank cannot finish. */
    for (int i = 0; i < m->n_runs; i++) {
        struct tui_run *r = &m->runs[i];
        if (r->state != TUI_RUN_RUNNING || r->outcome.known || ev->rank < 1 || ev->rank > r->n_ranks) continue;
        char reason[LC_ERRMSG_LEN];
        snprintf(reason, sizeof reason, "worker lost: %.200s", ev->u.error.message);
        settle(r, LC_ERR_COMM, ev->rank, reason);
    }
}

static void on_sweep_done(struct tui_model *m)
{
    m->sweep_done = true;
    for (int i = 0; i < m->n_runs; i++) {
        struct tui_run *r = &m->runs[i];
        if (!run_finished(r) && !r->outcome.known) settle(r, LC_ERR_CANCELLED, 0, "no outcome: the sweep ended");
    }
}

static struct tui_timeline *find_timeline(struct tui_model *m, int run_id)
{
    for (int i = m->n_timelines - 1; i >= 0; i--) /* newest first: intervals come for the live run */
        if (m->timelines[i].run_id == run_id) return &m->timelines[i];
    return NULL;
}

static struct tui_timeline *get_timeline(struct tui_model *m, struct tui_run *r, int run_id)
{
    struct tui_timeline *tl = r && !r->has_timeline ? NULL : find_timeline(m, run_id);
    if (tl) return tl;
    if (r) r->has_timeline = true;
    if (!grow((void **)&m->timelines, &m->cap_timelines, m->n_timelines + 1, sizeof(*m->timelines))) {
        m->dropped = true;
        return NULL;
    }
    tl = &m->timelines[m->n_timelines++];
    memset(tl, 0, sizeof(*tl));
    tl->run_id = run_id;
    return tl;
}

static void drop_oldest_timeline(struct tui_model *m)
{
    struct tui_timeline *old = &m->timelines[0];
    struct tui_run *r = find_run(m, old->run_id);
    if (r) r->timeline_dropped = true;
    m->timeline_items -= old->n_items;
    m->timelines_dropped++;
    timeline_free(old);
    m->n_timelines--;
    memmove(m->timelines, m->timelines + 1, (size_t)m->n_timelines * sizeof(*m->timelines));
}

static struct tui_lane *timeline_lane(struct tui_model *m, struct tui_timeline *tl, int rank)
{
    for (int i = 0; i < tl->n_lanes; i++)
        if (tl->lanes[i].rank == rank) return &tl->lanes[i];
    struct tui_lane *l = realloc(tl->lanes, (size_t)(tl->n_lanes + 1) * sizeof(*l));
    if (!l) {
        m->dropped = true;
        return NULL;
    }
    tl->lanes = l;
    int at = tl->n_lanes;
    while (at > 0 && tl->lanes[at - 1].rank > rank) {
        tl->lanes[at] = tl->lanes[at - 1];
        at--;
    }
    tl->n_lanes++;
    memset(&tl->lanes[at], 0, sizeof(tl->lanes[at]));
    tl->lanes[at].rank = rank;
    return &tl->lanes[at];
}

static void on_intervals(struct tui_model *m, const struct event *ev)
{
    if (ev->n_intervals <= 0 || !ev->intervals || ev->run_id < 0) return; /* every interval is of a run */
    struct tui_run *r = find_run(m, ev->run_id);
    if (r && r->timeline_dropped) return; /* a partial timeline would pass for the whole run */
    /* Room first, by letting the oldest other runs go; the run sending now is kept. */
    while (m->n_timelines > 0 && m->timelines[0].run_id != ev->run_id &&
           m->timeline_items + ev->n_intervals > m->max_timeline_items)
        drop_oldest_timeline(m);
    struct tui_timeline *tl = get_timeline(m, r, ev->run_id);
    if (!tl) return;
    struct tui_lane *lane = timeline_lane(m, tl, ev->rank);
    if (!lane) return;
    int64_t room = m->max_timeline_items - m->timeline_items;
    int take = ev->n_intervals < room ? ev->n_intervals : (int)(room > 0 ? room : 0);
    if (take < ev->n_intervals) tl->truncated = true;
    if (!grow((void **)&lane->items, &lane->cap, lane->n + take, sizeof(*lane->items))) {
        m->dropped = true;
        return;
    }
    for (int i = 0; i < take; i++) {
        const struct interval *iv = &ev->intervals[i];
        if (iv->end_ns < iv->start_ns) continue; /* a broken record says nothing */
        lane->items[lane->n++] = *iv;
        bool first = tl->n_items++ == 0;
        m->timeline_items++;
        if (first || iv->start_ns < tl->t0_ns) tl->t0_ns = iv->start_ns;
        if (first || iv->end_ns > tl->t1_ns) tl->t1_ns = iv->end_ns;
    }
}

static struct tui_series *get_series(struct tui_model *m, int rank, const char *metric)
{
    for (int i = 0; i < m->n_series; i++)
        if (m->series[i].rank == rank && !strcmp(m->series[i].metric, metric)) return &m->series[i];
    if (!grow((void **)&m->series, &m->cap_series, m->n_series + 1, sizeof(*m->series))) {
        m->dropped = true;
        return NULL;
    }
    struct tui_series *s = &m->series[m->n_series++];
    memset(s, 0, sizeof(*s));
    s->rank = rank;
    snprintf(s->metric, sizeof(s->metric), "%s", metric);
    return s;
}

static void on_counters(struct tui_model *m, const struct event *ev)
{
    for (int i = 0; i < ev->n_samples && ev->samples; i++) {
        const struct counter_sample *c = &ev->samples[i];
        struct tui_series *s = get_series(m, ev->rank, c->metric);
        if (!s) return;
        s->values[(s->head + s->n) % TUI_SERIES_LEN] = c->value;
        if (s->n < TUI_SERIES_LEN)
            s->n++;
        else
            s->head = (s->head + 1) % TUI_SERIES_LEN;
        s->last = c->value;
    }
}

void tui_model_apply(struct tui_model *m, const struct event *ev)
{
    struct tui_worker *w;
    switch (ev->type) {
    case EV_HELLO:
        w = get_worker(m, ev->rank);
        if (w) {
            w->hello = ev->u.hello;
            w->lost = w->left = false;
            w->reason[0] = 0;
        }
        break;
    case EV_GOODBYE:
        w = get_worker(m, ev->rank);
        if (w) w->left = true;
        break;
    case EV_WORKER_LOST: on_worker_lost(m, ev); break;
    case EV_RUN_QUEUED: on_queued(m, ev); break;
    case EV_RUN_STARTED:
    case EV_PROGRESS: on_progress(m, ev); break;
    case EV_RESULT: on_result(m, ev); break;
    case EV_RUN_DONE: on_outcome(m, ev); break;
    case EV_ERROR: on_error(m, ev); break;
    case EV_INTERVALS: on_intervals(m, ev); break;
    case EV_COUNTERS: on_counters(m, ev); break;
    case EV_SWEEP_DONE: on_sweep_done(m); break;
    case EV_SESSION: m->session = ev->u.session; break;
    case EV_ESTIMATE: {
        struct tui_run *r = get_run(m, ev->run_id);
        if (r) r->estimate = ev->u.estimate;
        break;
    }
    case EV_TYPE_COUNT: return;
    }
    m->events++;
    m->generation++;
}

static void sink_emit(void *ctx, const struct event *ev)
{
    tui_model_apply(ctx, ev);
}

struct event_sink tui_model_sink(struct tui_model *m)
{
    struct event_sink s = {sink_emit, m};
    return s;
}

const struct tui_run *tui_model_run(const struct tui_model *m, int run_id)
{
    return find_run((struct tui_model *)m, run_id);
}

const struct tui_worker *tui_model_worker(const struct tui_model *m, int rank)
{
    for (int i = 0; i < m->n_workers; i++)
        if (m->workers[i].rank == rank) return &m->workers[i];
    return NULL;
}

int tui_model_count(const struct tui_model *m, enum tui_run_state state)
{
    int n = 0;
    for (int i = 0; i < m->n_runs; i++) n += m->runs[i].state == state;
    return n;
}

const struct tui_run *tui_model_current(const struct tui_model *m)
{
    for (int i = 0; i < m->n_runs; i++)
        if (m->runs[i].state == TUI_RUN_RUNNING) return &m->runs[i];
    return NULL;
}

const struct tui_timeline *tui_model_timeline(const struct tui_model *m, int run_id)
{
    return find_timeline((struct tui_model *)m, run_id);
}

const struct tui_timeline *tui_model_latest_timeline(const struct tui_model *m)
{
    return m->n_timelines > 0 ? &m->timelines[m->n_timelines - 1] : NULL;
}

bool tui_model_cpu_only(const struct tui_model *m)
{
    for (int i = 0; i < m->n_workers; i++)
        if (strcmp(m->workers[i].hello.backend, "cpu") != 0) return false;
    return true;
}

void tui_format_tokens(int64_t n, char *buf, size_t len)
{
    if (n >= (1 << 20) && n % (1 << 20) == 0)
        snprintf(buf, len, "%lldM", (long long)(n >> 20));
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(buf, len, "%lldK", (long long)(n >> 10));
    else
        snprintf(buf, len, "%lld", (long long)n);
}

void tui_run_label(const struct tui_run *r, char *buf, size_t len)
{
    if (!r->have_spec) {
        snprintf(buf, len, "run %d", r->id);
        return;
    }
    run_spec_describe(&r->spec, buf, len);
}

static bool contains_caseless(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return true;
    }
    return n == 0;
}

/* The figure a run is sorted by; false when it has none (not run, failed, unsupported). */
static bool sort_value(const struct tui_run *r, enum tui_sort_key key, double *v)
{
    if (key == TUI_SORT_ID) {
        *v = r->id;
        return true;
    }
    if (!r->have_result || r->result.status != LC_OK) return false;
    switch (key) {
    case TUI_SORT_MS: *v = r->result.ms_median; return true;
    case TUI_SORT_TFLOPS: *v = r->result.tflops; return true;
    case TUI_SORT_MEMORY: *v = (double)r->result.peak_mem_bytes; return true;
    default: return false;
    }
}

struct sort_ctx {
    const struct tui_model *m;
    enum tui_sort_key key;
    bool descending;
};

/* Insertion sort: stable, no global state, and tables hold at most a few thousand runs. */
static bool sorts_before(const struct sort_ctx *c, int a, int b)
{
    const struct tui_run *ra = &c->m->runs[a], *rb = &c->m->runs[b];
    double va = 0, vb = 0;
    bool ha = sort_value(ra, c->key, &va), hb = sort_value(rb, c->key, &vb);
    if (ha != hb) return ha; /* runs without the figure go last either way */
    if (!ha || va == vb) return ra->id < rb->id;
    return c->descending ? va > vb : va < vb;
}

int tui_model_select(const struct tui_model *m, const char *filter, enum tui_sort_key key, bool descending,
                     int *idx)
{
    int n = 0;
    char label[160];
    for (int i = 0; i < m->n_runs; i++) {
        if (filter && filter[0]) {
            tui_run_label(&m->runs[i], label, sizeof(label));
            if (!contains_caseless(label, filter)) continue;
        }
        idx[n++] = i;
    }
    struct sort_ctx c = {m, key, descending};
    for (int i = 1; i < n; i++) {
        int v = idx[i], j = i;
        while (j > 0 && sorts_before(&c, v, idx[j - 1])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
    return n;
}
