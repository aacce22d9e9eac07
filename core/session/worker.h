/* A worker rank: one device (the GPU of its index among the workers of its node, else the
 * CPU), serving the front end's runs one at a time. Started either by MPI_Comm_spawn from a
 * plain `longca` (the `longca worker` command) or as rank 1..N of `mpirun -np N+1 longca`. */
#ifndef LC_WORKER_H
#define LC_WORKER_H

#include <mpi.h>
#include <stdbool.h>

/* The worker loop. session: front end = rank 0, this process one of 1..N; workers: the
 * workers only (this rank's GPU index, CP groups). Both are collectively set up by the caller,
 * in the same order as session_open does on rank 0. Sends EV_HELLO, executes runs, forwards
 * their events, answers pings, honours cancel, and on goodbye sends EV_GOODBYE, frees both
 * communicators and finalizes MPI (bounded). Returns the process exit status. */
int worker_main(MPI_Comm session, MPI_Comm workers);

/* `longca worker`: a rank MPI_Comm_spawn started (refused, exit status 2, when started by hand);
 * joins the spawning front end's session and runs the worker loop. Its exit status. */
int worker_run_spawned(void);

/* For a `longca` started under mpirun with more than one rank: initialises MPI and, on ranks
 * above 0, runs the worker loop, returning true with its exit status in *exit_status. Returns
 * false on rank 0 and in a plain process: the caller then opens its session (session_open).
 * Call it before anything else touches MPI or the terminal. */
bool worker_take_rank(int *exit_status);

#endif
