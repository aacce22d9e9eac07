#include "profiling/overlap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HTA's sweep weights: communication +1, computation +2; memory and other extend the mask. */
static const int kind_bit[IV_KIND_COUNT] = {[IV_COMM] = 1, [IV_COMPUTE] = 2, [IV_MEMORY] = 4, [IV_OTHER] = 8};
#define MASK_COUNT 16

struct span {
    int64_t start, end;
    int kind;
};

struct edge {
    int64_t t;
    int delta;
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->kind != y->kind) return x->kind - y->kind;
    return (x->start > y->start) - (x->start < y->start);
}

static int edge_cmp(const void *a, const void *b)
{
    const struct edge *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

/* Merges spans sorted by (kind, start) in place into per-kind unions (HTA's merge: a span that
 * starts at or before the running end joins the group, so touching spans merge). Returns the
 * merged count and adds each kind's union length to union_ns. */
static int merge_unions(struct span *s, int n, int64_t *union_ns)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m > 0 && s[m - 1].kind == s[i].kind && s[i].start <= s[m - 1].end) {
            if (s[i].end > s[m - 1].end) s[m - 1].end = s[i].end;
            continue;
        }
        s[m++] = s[i];
    }
    for (int i = 0; i < m; i++) union_ns[s[i].kind] += s[i].end - s[i].start;
    return m;
}

static void fill_percentages(struct prof_breakdown *b)
{
    if (b->span_ns > 0) {
        double span = (double)b->span_ns;
        b->compute_only_pct = 100.0 * (double)b->compute_only_ns / span;
        b->comm_only_pct = 100.0 * (double)b->comm_only_ns / span;
        b->overlapped_pct = 100.0 * (double)b->overlapped_ns / span;
        b->other_only_pct = 100.0 * (double)b->other_only_ns / span;
        b->idle_pct = 100.0 * (double)b->idle_ns / span;
    }
    int64_t comm = b->union_ns[IV_COMM];
    b->hta_overlap_pct = comm > 0 ? 100.0 * (double)b->overlapped_ns / (double)comm : NAN;
}

static enum lc_status breakdown(const struct interval *iv, int n, int clip, int64_t t0, int64_t t1,
                                struct prof_breakdown *out, char *err)
{
    memset(out, 0, sizeof *out);
    out->hta_overlap_pct = NAN;
    if (n <= 0) return LC_OK;

    struct span *spans = malloc((size_t)n * sizeof *spans);
    struct edge *edges = malloc((size_t)n * 2 * sizeof *edges);
    if (!spans || !edges) {
        free(spans);
        free(edges);
        return lc_fail(err, LC_ERR_OOM, "overlap breakdown: no memory for %d intervals", n);
    }

    int count = 0;
    int64_t first = INT64_MAX, last = INT64_MIN;
    for (int i = 0; i < n; i++) {
        int64_t s = iv[i].start_ns, e = iv[i].end_ns;
        if (e < s) continue;
        if (clip) {
            if (s < t0) s = t0;
            if (e > t1) e = t1;
            if (e <= s) continue; /* nothing of it inside the window */
        }
        int kind = iv[i].kind < IV_KIND_COUNT ? iv[i].kind : IV_OTHER;
        spans[count++] = (struct span){s, e, kind};
        if (s < first) first = s;
        if (e > last) last = e;
    }
    out->n_intervals = count;
    if (count == 0) {
        free(spans);
        free(edges);
        return LC_OK;
    }
    out->start_ns = first;
    out->span_ns = last - first;

    qsort(spans, (size_t)count, sizeof *spans, span_cmp);
    int merged = merge_unions(spans, count, out->union_ns);

    int n_edges = 0;
    for (int i = 0; i < merged; i++) {
        if (spans[i].end == spans[i].start) continue;
        edges[n_edges++] = (struct edge){spans[i].start, kind_bit[spans[i].kind]};
        edges[n_edges++] = (struct edge){spans[i].end, -kind_bit[spans[i].kind]};
    }
    qsort(edges, (size_t)n_edges, sizeof *edges, edge_cmp);

    /* Within one kind the merged spans neither overlap nor touch, so the running sum is the set
     * of kinds running; every edge at one instant is applied before the next segment counts. */
    int64_t bucket[MASK_COUNT] = {0};
    int running = 0;
    for (int i = 0; i < n_edges;) {
        int64_t t = edges[i].t;
        while (i < n_edges && edges[i].t == t) running += edges[i++].delta;
        if (i < n_edges) bucket[running] += edges[i].t - t;
    }

    const int comm = kind_bit[IV_COMM], compute = kind_bit[IV_COMPUTE];
    for (int mask = 1; mask < MASK_COUNT; mask++) {
        out->busy_ns += bucket[mask];
        if ((mask & comm) && (mask & compute)) out->overlapped_ns += bucket[mask];
        else if (mask & compute) out->compute_only_ns += bucket[mask];
        else if (mask & comm) out->comm_only_ns += bucket[mask];
        else out->other_only_ns += bucket[mask];
    }
    out->idle_ns = out->span_ns - out->busy_ns;
    fill_percentages(out);

    free(spans);
    free(edges);
    return LC_OK;
}

enum lc_status prof_breakdown_compute(const struct interval *iv, int n, struct prof_breakdown *out, char *err)
{
    return breakdown(iv, n, 0, 0, 0, out, err);
}

enum lc_status prof_breakdown_window(const struct interval *iv, int n, int64_t t0, int64_t t1,
                                     struct prof_breakdown *out, char *err)
{
    if (t1 < t0) return lc_fail(err, LC_ERR_INVALID, "overlap window ends before it starts");
    return breakdown(iv, n, 1, t0, t1, out, err);
}

const char *prof_pct_format(double pct, char *buf, int len)
{
    if (isnan(pct)) snprintf(buf, (size_t)len, "n/a");
    else snprintf(buf, (size_t)len, "%.1f", pct);
    return buf;
}
