/* Rules: a rectangle plus a band of diagonals. Exact visible counts in O(1). */
#include "core/mask/mask.h"
#include "core/mask/mask_rule.h"

static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

const char *mask_slice_type_name(enum mask_slice_type t)
{
    switch (t) {
    case SLICE_FULL: return "full";
    case SLICE_CAUSAL: return "causal";
    case SLICE_INV_CAUSAL: return "inv_causal";
    case SLICE_BICAUSAL: return "bicausal";
    }
    return "?";
}

struct longca_rule mask_slice_rule(const struct mask_slice *s)
{
    struct longca_rule r = {(int32_t)s->q_begin, (int32_t)s->q_end, (int32_t)s->k_begin, (int32_t)s->k_end,
                          MASK_DIAG_NONE_LO, MASK_DIAG_NONE_HI};
    /* CAUSAL, bottom-right: row i of h sees j <= i + (w - h), i.e. k - q <= k_end - q_end. */
    if (s->type == SLICE_CAUSAL || s->type == SLICE_BICAUSAL) r.diag_hi = (int32_t)(s->k_end - s->q_end);
    /* INV_CAUSAL, top-left: row i sees j >= i, i.e. k - q >= k_begin - q_begin. */
    if (s->type == SLICE_INV_CAUSAL || s->type == SLICE_BICAUSAL) r.diag_lo = (int32_t)(s->k_begin - s->q_begin);
    return r;
}

/* The rule intersected with [qa, qb) x [ka, kb), diagonals clamped to what the rectangle can
 * hold. Returns false when nothing of the rule lies inside. */
struct clipped {
    int64_t a, b, c, d, lo, hi;
};

static bool clip(const struct longca_rule *r, int64_t qa, int64_t qb, int64_t ka, int64_t kb, struct clipped *o)
{
    o->a = max64(qa, r->q_begin);
    o->b = min64(qb, r->q_end);
    o->c = max64(ka, r->k_begin);
    o->d = min64(kb, r->k_end);
    if (o->a >= o->b || o->c >= o->d) return false;
    o->lo = max64(r->diag_lo, o->c - (o->b - 1));
    o->hi = min64(r->diag_hi, (o->d - 1) - o->a);
    return o->lo <= o->hi;
}

/* sum over t = 0..n of clamp(t, 0, w); 0 for n < 0. */
static int64_t ramp_sum(int64_t n, int64_t w)
{
    if (n < 0) return 0;
    if (n <= w) return n * (n + 1) / 2;
    return w * (w + 1) / 2 + (n - w) * w;
}

/* Pairs of [a, b) x [c, d) with k - q <= x: sum over rows q of clamp(q + x - c + 1, 0, d - c). */
static int64_t count_below(const struct clipped *o, int64_t x)
{
    int64_t w = o->d - o->c;
    int64_t t0 = o->a + x - o->c + 1, t1 = o->b - 1 + x - o->c + 1;
    return ramp_sum(t1, w) - ramp_sum(t0 - 1, w);
}

int64_t mask_rule_area_in(const struct longca_rule *r, int64_t qa, int64_t qb, int64_t ka, int64_t kb)
{
    struct clipped o;
    if (!clip(r, qa, qb, ka, kb, &o)) return 0;
    return count_below(&o, o.hi) - count_below(&o, o.lo - 1);
}

bool mask_rule_clip(const struct longca_rule *r, int64_t qa, int64_t qb, int64_t ka, int64_t kb,
                    struct longca_rule *out)
{
    struct clipped o;
    if (!clip(r, qa, qb, ka, kb, &o)) return false;
    /* Keep only the rows and columns that see something (non-empty since lo <= hi). */
    int64_t a = max64(o.a, o.c - o.hi), b = min64(o.b, o.d - o.lo);
    int64_t c = max64(o.c, o.a + o.lo), d = min64(o.d, o.b - 1 + o.hi + 1);
    out->q_begin = (int32_t)a;
    out->q_end = (int32_t)b;
    out->k_begin = (int32_t)c;
    out->k_end = (int32_t)d;
    /* A diagonal the rectangle already implies is dropped: kernels then skip the compare. */
    out->diag_lo = o.lo <= c - (b - 1) ? MASK_DIAG_NONE_LO : (int32_t)o.lo;
    out->diag_hi = o.hi >= (d - 1) - a ? MASK_DIAG_NONE_HI : (int32_t)o.hi;
    return true;
}
