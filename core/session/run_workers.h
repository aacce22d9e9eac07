/* `longca run` through a session of worker ranks: under mpirun, with --workers, or for CP runs. */
#ifndef LC_RUN_WORKERS_H
#define LC_RUN_WORKERS_H

#include <signal.h>
#include <stdbool.h>

#include "core/model/event.h"
#include "core/io/report.h"
#include "core/model/spec.h"

struct run_options {
    enum report_format format;
    const char *capture;
    const char *output; /* -o: results written whole to this file */
    int workers;
    bool dry_run, quiet, strict;
    const volatile sig_atomic_t *stop; /* non-zero (Ctrl-C): cancel the sweep, finish what is in flight */
};

bool run_under_mpirun(void); /* started by mpirun with more than one rank */
bool run_needs_workers(const struct run_options *opt, const struct run_spec *runs, int n_runs);
/* Rank 0 submits the sweep and forwards events to sink until every run has an outcome; worker
 * ranks serve runs until goodbye. Returns the process exit status. */
int run_with_workers(const struct run_options *opt, const struct run_spec *runs, int n_runs,
                     const struct event_sink *sink);

/* Under mpirun, rank 0 must send the waiting workers home even when the sweep is rejected. */
int run_release_workers(int exit_status); /* returns exit_status */

/* Rank 0's last step under `mpirun --enable-recovery`, which would exit 0 whatever it returns:
 * a non-zero status stops mpirun (when it is this process's parent), so that mpirun exits 1.
 * Returns exit_status. */
int run_end_job(int exit_status);

#endif
