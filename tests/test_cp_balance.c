#define _POSIX_C_SOURCE 200809L
/* The balanced CP method's plan against its targets, without running anything: on every static
 * mask at S = 32K (documents from the ProLong-64K table) on 4 and 8 ranks, the largest rank's
 * work is within 5 % of the mean (zigzag ring's figure printed beside it), and the bytes the
 * busiest rank moves stay at or below ring's (at or below 0.75x on causal_document), forward and
 * forward + backward. Also: every chunk owned once, equal chunk counts, work summing to the
 * mask's area, and stage lists that agree between sender and receiver; over whole nodes, a plan
 * dealt again with another variant (or back to earlier owners) is the plan built with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "core/mask/mask.h"
#include "core/mask/doclen.h"
#include "core/mask/mask_view.h"
#include "cp/plan_balanced.h"
#include "cp/shard.h"

#define SEQLEN 32768
#define TILE_Q 64

static double zigzag_imbalance(const struct mask *m, const struct longca_mask *v, int P)
{
    double work[16], total = 0, top = 0;
    char err[LC_ERRMSG_LEN];
    for (int r = 0; r < P; r++) {
        struct cp_layout l;
        CHECK(cp_layout_zigzag(m, P, r, 2 * P, &l, err) == LC_OK, "%s", err);
        work[r] = (double)cp_layout_area(v, &l);
        total += work[r];
        if (work[r] > top) top = work[r];
        cp_layout_free(&l);
    }
    return top / (total / P);
}

/* The plan's own invariants: ownership, counts, work, and the stage lists of both sides. */
static void check_plan(const struct cp_balanced_plan *p, const struct mask *m, const struct longca_mask *v)
{
    char err[LC_ERRMSG_LEN];
    int *count = calloc((size_t)p->ranks, sizeof *count);
    double total = 0;
    for (int i = 0; i < p->n_chunks; i++) count[p->owner[i]]++;
    for (int r = 0; r < p->ranks; r++) {
        CHECK(count[r] == p->n_chunks / p->ranks, "rank %d owns %d of %d chunks", r, count[r], p->n_chunks);
        struct cp_layout l;
        CHECK(cp_balanced_layout(p, r, &l, err) == LC_OK, "%s", err);
        CHECK((double)cp_layout_area(v, &l) == p->area[r], "rank %d: area %.0f, plan says %.0f", r, (double)cp_layout_area(v, &l), p->area[r]);
        total += p->area[r];
        cp_layout_free(&l);
        for (int s = 1; s < p->ranks; s++) {
            int *list = NULL, n = 0;
            CHECK(cp_balanced_needed(p, r, (r - s + p->ranks) % p->ranks, &list, &n, err) == LC_OK, "%s", err);
            CHECK(n * p->chunk == cp_balanced_recv_rows(p, r, s), "rank %d stage %d: %d chunks listed", r, s, n);
            free(list);
        }
    }
    CHECK(total == (double)mask_area_sum(m), "areas sum to %.0f, the mask has %lld", total,
          (long long)mask_area_sum(m));
    free(count);
}

/* Same owners, areas and stage counts. */
static bool same_plan(const struct cp_balanced_plan *a, const struct cp_balanced_plan *b)
{
    const size_t P = (size_t)a->ranks;
    return a->n_chunks == b->n_chunks && !memcmp(a->owner, b->owner, (size_t)a->n_chunks * sizeof *a->owner) &&
           !memcmp(a->area, b->area, P * sizeof *a->area) && !memcmp(a->received, b->received, P * P * sizeof *a->received);
}

static void dealt_again(const struct mask *m, const struct longca_mask *v, int P)
{
    char err[LC_ERRMSG_LEN];
    struct cp_balanced_plan p, first;
    CHECK(cp_balanced_plan_build(m, v, P, TILE_Q, cp_balanced_variant_at(0), &p, err) == LC_OK, "%s", err);
    CHECK(cp_balanced_plan_build(m, v, P, TILE_Q, cp_balanced_variant_at(0), &first, err) == LC_OK, "%s", err);
    for (int i = 1; i < CP_BALANCED_VARIANTS; i++) {
        struct cp_balanced_plan built;
        CHECK(cp_balanced_plan_build(m, v, P, TILE_Q, cp_balanced_variant_at(i), &built, err) == LC_OK, "%s", err);
        int *owner = malloc((size_t)p.n_chunks * sizeof *owner);
        CHECK(owner && cp_balanced_plan_solve(&p, cp_balanced_variant_at(i), owner, err) == LC_OK, "%s", err);
        CHECK(owner && cp_balanced_plan_take(&p, owner, err) == LC_OK, "%s", err);
        free(owner);
        CHECK(same_plan(&p, &built), "%d ranks: variant %d dealt again differs from its build", P, i);
        cp_balanced_plan_free(&built);
    }
    CHECK(cp_balanced_plan_take(&p, first.owner, err) == LC_OK, "%s", err);
    CHECK(same_plan(&p, &first), "%d ranks: variant 0's owners taken back differ from its build", P);
    cp_balanced_plan_free(&first);
    cp_balanced_plan_free(&p);
}

int main(void)
{
    const int ranks[] = {4, 8};
    /* 8:8 heads, d 128, bf16: bytes of one token's K and V, and of its dK, dV in fp32. */
    const double kv_row = 2.0 * 8 * 128 * 2, grad_row = 2.0 * 8 * 128 * 4;
    printf("%-22s %5s %9s %9s %12s %12s %9s\n", "mask", "ranks", "imb", "imb ring", "fwd B/ring", "f+b B/ring",
           "ms plan");
    for (int pat = 0; pat < MASK_PATTERN_COUNT; pat++) {
        if (mask_pattern_is_block_sparse((enum mask_pattern)pat)) continue;
        struct mask m;
        struct longca_mask v;
        struct mask_params params;
        memset(&params, 0, sizeof params);
        params.doclen = DOCLEN_PROLONG64K;
        char err[LC_ERRMSG_LEN];
        if (mask_build((enum mask_pattern)pat, &params, SEQLEN, 1, &m, err) || mask_view_build(&m, &v, err)) {
            fprintf(stderr, "%s: %s\n", mask_pattern_name((enum mask_pattern)pat), err);
            return 1;
        }
        for (size_t k = 0; k < sizeof ranks / sizeof *ranks; k++) {
            const int P = ranks[k];
            check_context = mask_pattern_name(m.pattern);
            struct cp_balanced_plan p;
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            enum lc_status st = cp_balanced_plan_build(&m, &v, P, TILE_Q, cp_balanced_variant_at(0), &p, err);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            CHECK(st == LC_OK, "%s", err);
            if (st) continue;
            check_plan(&p, &m, &v);
            double top = 0, total = 0, bytes_f = 0, bytes_fb = 0;
            for (int r = 0; r < P; r++) {
                total += p.area[r];
                if (p.area[r] > top) top = p.area[r];
                double f = cp_balanced_rank_bytes(&p, r, kv_row, grad_row, true, false);
                double fb = cp_balanced_rank_bytes(&p, r, kv_row, grad_row, true, true);
                if (f > bytes_f) bytes_f = f;
                if (fb > bytes_fb) bytes_fb = fb;
            }
            const double imb = top / (total / P), zz_rows = (double)cp_zigzag_rows(&m, P, 2 * P);
            const double ring_f = (P - 1) * zz_rows * kv_row, ring_fb = ring_f + (P - 1) * zz_rows * kv_row + P * zz_rows * grad_row;
            const double limit = m.pattern == MASK_CAUSAL_DOCUMENT ? 0.75 : 1.0;
            printf("%-22s %5d %9.4f %9.4f %12.3f %12.3f %9.1f\n", mask_pattern_name(m.pattern), P, imb,
                   zigzag_imbalance(&m, &v, P), bytes_f / ring_f, bytes_fb / ring_fb,
                   (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6);
            CHECK(imb <= 1.05, "%d ranks: imbalance %.4f", P, imb);
            CHECK(bytes_f <= limit * ring_f && bytes_fb <= limit * ring_fb, "%d ranks: %.3f / %.3f of ring's bytes", P,
                  bytes_f / ring_f, bytes_fb / ring_fb);
            cp_balanced_plan_free(&p);
        }
        for (int P = 16; P <= 32; P *= 2) dealt_again(&m, &v, P);
        mask_view_free(&v);
        mask_free(&m);
    }
    check_context = NULL;
    return check_report("test_cp_balance");
}
