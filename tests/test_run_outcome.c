/* A run's outcome from its events (core/model/event.h event_run_outcome), the rule view, diff
 * and the TUI share: each case as the stream delivers it. */
#include <string.h>

#include "tests/check.h"
#include "core/model/event.h"

static struct event error_from(int rank, enum lc_status st, const char *reason)
{
    struct event ev;
    event_init(&ev, EV_ERROR, 4, rank);
    ev.u.error.status = st;
    snprintf(ev.u.error.message, sizeof ev.u.error.message, "%s", reason);
    return ev;
}

static struct event run_done(enum lc_status st, const char *message, double ms)
{
    struct event ev;
    event_init(&ev, EV_RUN_DONE, 4, -1);
    ev.u.result.status = st;
    snprintf(ev.u.result.message, sizeof ev.u.result.message, "%s", message);
    ev.u.result.ms_median = ms;
    return ev;
}

int main(void)
{
    struct run_result row;

    check_context = "run_done alone";
    struct run_outcome o = {0};
    struct event done = run_done(LC_OK, "", 2.5);
    CHECK(event_run_outcome(&done, &o) && o.known && o.final && o.result.ms_median == 2.5);
    struct event late = error_from(1, LC_ERR_COMM, "after the end");
    CHECK(!event_run_outcome(&late, &o) && o.result.status == LC_OK, "an event after run_done changed it");

    check_context = "a worker's failure, then the merged failure";
    o = (struct run_outcome){0};
    struct event first = error_from(2, LC_ERR_INTERNAL, "kernel launch failed");
    CHECK(event_run_outcome(&first, &o) && o.known && !o.final && o.rank == 2);
    struct event second = error_from(1, LC_ERR_COMM, "peer gone");
    CHECK(!event_run_outcome(&second, &o) && o.rank == 2, "the second error replaced the first cause");
    done = run_done(LC_ERR_COMM, "rank 1: peer gone", 0);
    CHECK(event_run_outcome(&done, &o) && o.final && o.result.status == LC_ERR_INTERNAL && o.rank == 2);
    run_outcome_result(&o, &row);
    CHECK(!strcmp(row.message, "rank 2: kernel launch failed"), "row message '%s'", row.message);

    check_context = "the front end refuses a run as unsupported";
    o = (struct run_outcome){0};
    struct event refused = error_from(0, LC_ERR_UNSUPPORTED, "needs 4 workers; this session has 2");
    CHECK(!event_run_outcome(&refused, &o) && !o.known, "an outcome to record settled the run as failed");
    done = run_done(LC_ERR_UNSUPPORTED, "needs 4 workers; this session has 2", 0);
    CHECK(event_run_outcome(&done, &o) && o.result.status == LC_ERR_UNSUPPORTED && o.rank == 0);
    run_outcome_result(&o, &row);
    CHECK(!strcmp(row.message, "needs 4 workers; this session has 2"), "row message '%s'", row.message);

    check_context = "a failure the merged result does not confirm";
    o = (struct run_outcome){0};
    struct event lost = error_from(1, LC_ERR_INTERNAL, "progress event lost");
    CHECK(event_run_outcome(&lost, &o));
    done = run_done(LC_OK, "", 1.0);
    CHECK(event_run_outcome(&done, &o) && o.result.status == LC_OK && o.rank == 0 && o.result.ms_median == 1.0);

    check_context = "events that are not outcomes";
    o = (struct run_outcome){0};
    struct event session_error = error_from(1, LC_ERR_COMM, "clocks not aligned");
    session_error.run_id = -1;
    struct event result;
    event_init(&result, EV_RESULT, 4, 1);
    CHECK(!event_run_outcome(&session_error, &o) && !event_run_outcome(&result, &o) && !o.known);
    return check_report("test_run_outcome");
}
