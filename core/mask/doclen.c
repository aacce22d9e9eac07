/* Document lengths as LongCA-bench draws them: pick a histogram bin by weight, a length
 * uniformly inside the bin, cut at what is left of the sequence; repeat until the lengths
 * sum to S. */
#include <stdlib.h>
#include <string.h>

#include "core/mask/doclen_tables.h"
#include "core/model/rng.h"
#include "core/mask/doclen.h"

static const char *const source_names[] = {"auto", "pile", "prolong64k", "prolong512k", "long"};

const char *doclen_source_name(enum doclen_source s)
{
    if ((unsigned)s >= sizeof source_names / sizeof source_names[0]) return "?";
    return source_names[s];
}

int doclen_source_parse(const char *name, enum doclen_source *out)
{
    for (unsigned i = 0; i < sizeof source_names / sizeof source_names[0]; i++) {
        if (name && !strcmp(name, source_names[i])) {
            *out = (enum doclen_source)i;
            return 0;
        }
    }
    return -1;
}

/* LongCA picks the histogram by sequence length. */
static enum doclen_source source_for_seqlen(int64_t seqlen)
{
    if (seqlen <= 12 * 1024) return DOCLEN_PILE;
    if (seqlen <= 64 * 1024) return DOCLEN_PROLONG64K;
    return DOCLEN_PROLONG512K;
}

/* A growable list of lengths. */
struct len_list {
    int64_t *v;
    int n, cap;
};

static int list_push(struct len_list *l, int64_t len)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        int64_t *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = len;
    return 0;
}

static int64_t draw_from_table(const struct doclen_table *t, double total_weight, struct rng *r)
{
    double x = rng_double(r) * total_weight;
    int i = 0;
    while (i < t->n_bins - 1 && x >= t->bins[i].weight) x -= t->bins[i++].weight;
    int64_t lo = t->bins[i].lo > 1 ? t->bins[i].lo : 1; /* a document holds at least one token */
    int64_t hi = t->bins[i].hi - 1;
    return hi < lo ? lo : rng_range(r, lo, hi);
}

/* Appends documents drawn from the histogram until they sum to `tokens`. */
static int fill_from_table(const struct doclen_table *t, int64_t tokens, struct rng *r, struct len_list *out)
{
    double total = 0;
    for (int i = 0; i < t->n_bins; i++) total += t->bins[i].weight;
    while (tokens > 0) {
        int64_t len = draw_from_table(t, total, r);
        if (len > tokens) len = tokens;
        if (list_push(out, len)) return -1;
        tokens -= len;
    }
    return 0;
}

/* LongCA's CP variant: 40% of tokens from the histogram, 60% in documents of uniform length
 * in [8K, 30K], in shuffled order. */
static int fill_long(int64_t seqlen, struct rng *r, struct len_list *out)
{
    int64_t from_table = (int64_t)(0.4 * (double)seqlen);
    if (fill_from_table(doclen_table_of(source_for_seqlen(seqlen)), from_table, r, out)) return -1;
    for (int64_t left = seqlen - from_table; left > 0;) {
        int64_t len = rng_range(r, 8 * 1024, 30 * 1024);
        if (len > left) len = left;
        if (list_push(out, len)) return -1;
        left -= len;
    }
    for (int i = out->n - 1; i > 0; i--) {
        int j = (int)rng_range(r, 0, i);
        int64_t t = out->v[i];
        out->v[i] = out->v[j];
        out->v[j] = t;
    }
    return 0;
}

enum lc_status doclen_sample(enum doclen_source source, int64_t seqlen, uint64_t seed, int64_t **lens,
                             int *n_docs, char *err)
{
    if (seqlen <= 0) return lc_fail(err, LC_ERR_INVALID, "document lengths need a positive sequence length");
    if ((unsigned)source > DOCLEN_LONG) return lc_fail(err, LC_ERR_INVALID, "unknown document length source");
    struct rng r;
    rng_seed(&r, seed, 1);
    struct len_list list = {0};
    int fail;
    if (source == DOCLEN_LONG)
        fail = fill_long(seqlen, &r, &list);
    else
        fail = fill_from_table(doclen_table_of(source == DOCLEN_AUTO ? source_for_seqlen(seqlen) : source),
                               seqlen, &r, &list);
    if (fail) {
        free(list.v);
        return lc_fail(err, LC_ERR_OOM, "out of host memory sampling document lengths");
    }
    *lens = list.v;
    *n_docs = list.n;
    return LC_OK;
}
