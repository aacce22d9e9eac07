/* The exit status rules of a sweep (core/model/tally.h), each case by its outcomes. */
#include <string.h>

#include "check.h"
#include "core/model/tally.h"

static struct run_result outcome(enum lc_status st, bool check_ran, bool check_pass)
{
    struct run_result r;
    memset(&r, 0, sizeof r);
    r.status = st;
    r.check_ran = check_ran;
    r.check_pass = check_pass;
    return r;
}

/* A sweep of the given outcomes: its exit status, and its summary must hold want. */
static void expect(const char *name, const enum lc_status *sts, int n, bool strict, int lost, int runs, int status,
                   const char *want)
{
    struct tally t;
    tally_init(&t, runs, strict);
    for (int k = 0; k < n; k++) {
        struct run_result r = outcome(sts[k], sts[k] == LC_OK && k == 0, true);
        tally_outcome(&t, &r);
    }
    for (int k = 0; k < lost; k++) tally_lost_worker(&t);
    char line[LC_ERRMSG_LEN];
    tally_summary(&t, line, sizeof line);
    check_context = name;
    CHECK(tally_exit_status(&t) == status, " status %d, summary '%s'", tally_exit_status(&t), line);
    CHECK(strstr(line, want) != NULL, " summary '%s' lacks '%s'", line, want);
}

int main(void)
{
    const enum lc_status ok3[] = {LC_OK, LC_OK, LC_OK};
    expect("all ok", ok3, 3, false, 0, 3, 0, "0 of 3 runs failed");
    const enum lc_status oom[] = {LC_OK, LC_ERR_OOM};
    expect("out of memory", oom, 2, false, 0, 2, 1, "1 of 2 runs failed");
    const enum lc_status err[] = {LC_ERR_DEVICE};
    expect("one error", err, 1, false, 0, 1, 1, "1 of 1 run failed");
    const enum lc_status some_unsupported[] = {LC_OK, LC_ERR_UNSUPPORTED, LC_ERR_UNSUPPORTED};
    expect("unsupported beside runs that ran", some_unsupported, 3, false, 0, 3, 0, "0 of 3 runs failed; 2 unsupported");
    expect("--strict", some_unsupported, 3, true, 0, 3, 1, "2 of 3 runs failed; 2 unsupported (failed by --strict)");
    const enum lc_status none_ran[] = {LC_ERR_UNSUPPORTED, LC_ERR_UNSUPPORTED};
    expect("no run could run", none_ran, 2, false, 0, 2, 1, "no run could run");
    expect("a lost idle worker", ok3, 3, false, 1, 3, 1, "1 worker lost");
    expect("cut short (Ctrl-C)", ok3, 1, false, 0, 3, 1, "2 of 3 runs failed (2 without an outcome)");
    const enum lc_status cancelled[] = {LC_OK, LC_ERR_CANCELLED};
    expect("cancelled", cancelled, 2, false, 0, 2, 1, "1 of 2 runs failed");

    /* A --check mismatch fails a run whose status is ok. */
    struct tally t;
    tally_init(&t, 1, false);
    struct run_result mismatch = outcome(LC_OK, true, false);
    tally_outcome(&t, &mismatch);
    check_context = "check mismatch";
    CHECK(tally_exit_status(&t) == 1);
    return check_report("test_tally");
}
