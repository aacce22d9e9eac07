#include "core/model/tally.h"

#include <string.h>

void tally_init(struct tally *t, int runs, bool strict)
{
    memset(t, 0, sizeof *t);
    t->runs = runs;
    t->strict = strict;
}

void tally_outcome(struct tally *t, const struct run_result *res)
{
    if (res->status == LC_ERR_UNSUPPORTED) t->unsupported++;
    else if (res->status == LC_OK && !(res->check_ran && !res->check_pass)) t->ok++;
    else t->failed++;
}

void tally_lost_worker(struct tally *t) { t->lost_workers++; }

/* Runs with no outcome (the sweep was cut short) count as failed. */
static int failed_runs(const struct tally *t)
{
    return t->runs - t->ok - (t->strict ? 0 : t->unsupported);
}

int tally_exit_status(const struct tally *t)
{
    if (failed_runs(t) > 0 || t->lost_workers > 0) return 1;
    if (t->runs > 0 && t->ok == 0) return 1; /* nothing could run */
    return 0;
}

void tally_summary(const struct tally *t, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%d of %d run%s failed", failed_runs(t), t->runs, t->runs == 1 ? "" : "s");
    int unfinished = t->runs - t->ok - t->unsupported - t->failed;
    if (n > 0 && (size_t)n < len && unfinished > 0)
        n += snprintf(buf + n, len - (size_t)n, " (%d without an outcome)", unfinished);
    if (n > 0 && (size_t)n < len && t->unsupported > 0)
        n += snprintf(buf + n, len - (size_t)n, "; %d unsupported%s", t->unsupported,
                      t->strict ? " (failed by --strict)" : t->ok == 0 ? " (no run could run)" : " (--strict fails them)");
    if (n > 0 && (size_t)n < len && t->lost_workers > 0)
        snprintf(buf + n, len - (size_t)n, "; %d worker%s lost", t->lost_workers, t->lost_workers == 1 ? "" : "s");
}
