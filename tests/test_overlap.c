/* The overlap breakdown on hand-built interval sets with known answers, then random sets
 * against a brute-force count over every nanosecond. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "profiling/overlap.h"

static struct interval iv(enum interval_kind kind, int64_t start, int64_t end, int stream)
{
    struct interval x;
    memset(&x, 0, sizeof x);
    x.kind = (uint8_t)kind;
    x.start_ns = start;
    x.end_ns = end;
    x.stream = (int16_t)stream;
    x.cp_step = -1;
    return x;
}

struct expect {
    int64_t span, busy, compute_only, comm_only, overlapped, other_only, idle;
    int64_t union_compute, union_comm, union_memory;
    double hta; /* NaN: expect NaN */
};

static void check_breakdown(const char *name, const struct interval *v, int n, const struct expect *e)
{
    check_context = name;
    struct prof_breakdown b;
    char err[LC_ERRMSG_LEN];
    CHECK(prof_breakdown_compute(v, n, &b, err) == LC_OK);
    CHECK(b.span_ns == e->span);
    CHECK(b.busy_ns == e->busy);
    CHECK(b.compute_only_ns == e->compute_only);
    CHECK(b.comm_only_ns == e->comm_only);
    CHECK(b.overlapped_ns == e->overlapped);
    CHECK(b.other_only_ns == e->other_only);
    CHECK(b.idle_ns == e->idle);
    CHECK(b.union_ns[IV_COMPUTE] == e->union_compute);
    CHECK(b.union_ns[IV_COMM] == e->union_comm);
    CHECK(b.union_ns[IV_MEMORY] == e->union_memory);
    CHECK(b.compute_only_ns + b.comm_only_ns + b.overlapped_ns + b.other_only_ns + b.idle_ns == b.span_ns);
    if (isnan(e->hta)) CHECK(isnan(b.hta_overlap_pct));
    else CHECK(fabs(b.hta_overlap_pct - e->hta) < 1e-9);
    if (b.span_ns > 0) {
        double sum = b.compute_only_pct + b.comm_only_pct + b.overlapped_pct + b.other_only_pct + b.idle_pct;
        CHECK(fabs(sum - 100.0) < 1e-9);
    }
}

static void test_known_sets(void)
{
    check_breakdown("empty", NULL, 0, &(struct expect){.hta = NAN});

    struct interval disjoint[] = {iv(IV_COMPUTE, 0, 10, 7), iv(IV_COMM, 20, 30, 9)};
    check_breakdown("disjoint", disjoint, 2,
                    &(struct expect){.span = 30, .busy = 20, .compute_only = 10, .comm_only = 10, .idle = 10,
                                     .union_compute = 10, .union_comm = 10, .hta = 0.0});

    struct interval nested[] = {iv(IV_COMPUTE, 0, 100, 7), iv(IV_COMM, 20, 50, 9)};
    check_breakdown("comm nested in compute", nested, 2,
                    &(struct expect){.span = 100, .busy = 100, .compute_only = 70, .overlapped = 30,
                                     .union_compute = 100, .union_comm = 30, .hta = 100.0});

    /* Compute kernels nested on one stream's timeline count once. */
    struct interval nested_same[] = {iv(IV_COMPUTE, 0, 100, 7), iv(IV_COMPUTE, 10, 20, 7),
                                     iv(IV_COMM, 90, 150, 9), iv(IV_COMM, 95, 120, 9)};
    check_breakdown("nested within one kind", nested_same, 4,
                    &(struct expect){.span = 150, .busy = 150, .compute_only = 90, .comm_only = 50,
                                     .overlapped = 10, .union_compute = 100, .union_comm = 60,
                                     .hta = 100.0 * 10 / 60});

    struct interval touching[] = {iv(IV_COMPUTE, 0, 10, 7), iv(IV_COMPUTE, 10, 20, 7), iv(IV_COMM, 20, 30, 9)};
    check_breakdown("touching", touching, 3,
                    &(struct expect){.span = 30, .busy = 30, .compute_only = 20, .comm_only = 10,
                                     .union_compute = 20, .union_comm = 10, .hta = 0.0});

    struct interval streams[] = {iv(IV_COMPUTE, 0, 40, 7), iv(IV_COMPUTE, 30, 60, 8), iv(IV_COMM, 50, 80, 9),
                                 iv(IV_COMM, 55, 70, 10)};
    check_breakdown("multi-stream", streams, 4,
                    &(struct expect){.span = 80, .busy = 80, .compute_only = 50, .comm_only = 20,
                                     .overlapped = 10, .union_compute = 60, .union_comm = 30,
                                     .hta = 100.0 / 3.0});

    /* Memory work under compute or comm belongs to that bucket; alone it is "other only". */
    struct interval memory[] = {iv(IV_COMPUTE, 0, 10, 7), iv(IV_MEMORY, 5, 25, 11), iv(IV_COMM, 20, 40, 9)};
    check_breakdown("memory kernels", memory, 3,
                    &(struct expect){.span = 40, .busy = 40, .compute_only = 10, .comm_only = 20,
                                     .other_only = 10, .union_compute = 10, .union_comm = 20,
                                     .union_memory = 20, .hta = 0.0});

    struct interval gaps[] = {iv(IV_OTHER, 100, 110, 0), iv(IV_COMPUTE, 0, 10, 7)};
    check_breakdown("idle gap, other kind, unsorted", gaps, 2,
                    &(struct expect){.span = 110, .busy = 20, .compute_only = 10, .other_only = 10, .idle = 90,
                                     .union_compute = 10, .hta = NAN});

    struct interval inverted[] = {iv(IV_COMPUTE, 0, 10, 7), iv(IV_COMM, 50, 20, 9)};
    check_breakdown("inverted interval skipped", inverted, 2,
                    &(struct expect){.span = 10, .busy = 10, .compute_only = 10, .union_compute = 10,
                                     .hta = NAN});

    struct interval shifted[] = {iv(IV_COMM, 1000000000000, 1000000000500, 9),
                                 iv(IV_COMPUTE, 1000000000100, 1000000000200, 7)};
    check_breakdown("large absolute times", shifted, 2,
                    &(struct expect){.span = 500, .busy = 500, .comm_only = 400, .overlapped = 100,
                                     .union_compute = 100, .union_comm = 500, .hta = 20.0});
}

static void test_window(void)
{
    check_context = "window";
    struct interval streams[] = {iv(IV_COMPUTE, 0, 40, 7), iv(IV_COMPUTE, 30, 60, 8), iv(IV_COMM, 50, 80, 9),
                                 iv(IV_COMM, 55, 70, 10)};
    struct prof_breakdown b;
    char err[LC_ERRMSG_LEN];
    CHECK(prof_breakdown_window(streams, 4, 45, 65, &b, err) == LC_OK);
    CHECK(b.n_intervals == 3);
    CHECK(b.span_ns == 20);
    CHECK(b.compute_only_ns == 5 && b.overlapped_ns == 10 && b.comm_only_ns == 5 && b.idle_ns == 0);
    CHECK(fabs(b.hta_overlap_pct - 100.0 * 10 / 15) < 1e-9);
    CHECK(prof_breakdown_window(streams, 4, 200, 300, &b, err) == LC_OK);
    CHECK(b.n_intervals == 0 && b.span_ns == 0 && isnan(b.hta_overlap_pct));
    CHECK(prof_breakdown_window(streams, 4, 10, 5, &b, err) == LC_ERR_INVALID);

    char buf[16];
    CHECK(strcmp(prof_pct_format(NAN, buf, sizeof buf), "n/a") == 0);
    CHECK(strcmp(prof_pct_format(42.66, buf, sizeof buf), "42.7") == 0);
}

/* Brute force: classify every nanosecond of [0, horizon). */
static void test_random_against_brute_force(void)
{
    check_context = "random vs brute force";
    enum { HORIZON = 400, N = 40, ROUNDS = 300 };
    srand(12345);
    for (int round = 0; round < ROUNDS; round++) {
        struct interval v[N];
        int n = 1 + rand() % N;
        for (int i = 0; i < n; i++) {
            int64_t s = rand() % HORIZON, len = rand() % 60;
            int64_t e = s + len < HORIZON ? s + len : HORIZON;
            v[i] = iv((enum interval_kind)(rand() % IV_KIND_COUNT), s, e, 7 + rand() % 4);
        }
        int64_t first = HORIZON, last = 0, busy = 0, conly = 0, monly = 0, both = 0, other = 0;
        int64_t uni[IV_KIND_COUNT] = {0};
        for (int i = 0; i < n; i++) {
            if (v[i].start_ns < first) first = v[i].start_ns;
            if (v[i].end_ns > last) last = v[i].end_ns;
        }
        for (int64_t t = 0; t < HORIZON; t++) {
            int on[IV_KIND_COUNT] = {0};
            for (int i = 0; i < n; i++)
                if (v[i].start_ns <= t && t < v[i].end_ns) on[v[i].kind] = 1;
            int any = 0;
            for (int k = 0; k < IV_KIND_COUNT; k++) uni[k] += on[k], any |= on[k];
            busy += any;
            if (on[IV_COMPUTE] && on[IV_COMM]) both++;
            else if (on[IV_COMPUTE]) conly++;
            else if (on[IV_COMM]) monly++;
            else if (any) other++;
        }
        struct prof_breakdown b;
        char err[LC_ERRMSG_LEN];
        CHECK(prof_breakdown_compute(v, n, &b, err) == LC_OK);
        CHECK(b.span_ns == last - first);
        CHECK(b.busy_ns == busy);
        CHECK(b.idle_ns == last - first - busy);
        CHECK(b.overlapped_ns == both && b.compute_only_ns == conly && b.comm_only_ns == monly);
        CHECK(b.other_only_ns == other);
        for (int k = 0; k < IV_KIND_COUNT; k++) CHECK(b.union_ns[k] == uni[k]);
        if (uni[IV_COMM] > 0) CHECK(fabs(b.hta_overlap_pct - 100.0 * (double)both / (double)uni[IV_COMM]) < 1e-9);
        else CHECK(isnan(b.hta_overlap_pct));
        if (failures) return;
    }
}

int main(void)
{
    test_known_sets();
    test_window();
    test_random_against_brute_force();
    return check_report("test_overlap");
}
