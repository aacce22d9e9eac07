/* The outcomes of a sweep counted for the exit status and the last summary line:
 * 0 when every run that could run succeeded; 1 when a run failed (an error, out of memory, a
 * lost worker, a --check mismatch, a run cancelled or never finished), or when no run could run
 * at all (every run unsupported); with --strict an unsupported run fails too. */
#ifndef LC_TALLY_H
#define LC_TALLY_H

#include <stdbool.h>
#include <stdio.h>

#include "core/model/event.h"

struct tally {
    int runs;         /* in the sweep */
    int ok;           /* ran and passed (or had no --check) */
    int unsupported;  /* this kernel / method cannot do it */
    int failed;       /* errors, out of memory, check mismatches, cancelled */
    int lost_workers; /* EV_WORKER_LOST seen */
    bool strict;      /* unsupported runs fail */
};

void tally_init(struct tally *t, int runs, bool strict);
/* One run's final outcome (its row). */
void tally_outcome(struct tally *t, const struct run_result *res);
void tally_lost_worker(struct tally *t);
int tally_exit_status(const struct tally *t);
/* "N of M runs failed" with what is behind it, e.g. "1 of 12 runs failed (1 out of memory);
 * 2 unsupported (--strict fails them)". */
void tally_summary(const struct tally *t, char *buf, size_t len);

#endif
