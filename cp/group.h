/* Inside a CP group: the device communicator of all its ranks, and the host-side collectives the
 * methods' driver uses around the timed work (agreeing on failure and cancel, reducing figures,
 * gathering outputs for the check), all bounded in time. */
#ifndef LC_CP_GROUP_H
#define LC_CP_GROUP_H

#include <mpi.h>
#include <stddef.h>

#include "cp/comm.h"
#include "cp/cp.h"

#define CP_CHECK_TIMEOUT_S 3600.0 /* the reference on rank 0 may take long; peers wait this much */

struct cp_group {
    MPI_Comm comm; /* host side, a duplicate of the worker's; MPI_COMM_NULL for one rank */
    int rank, size;
    const struct device_ops *dev;
    struct cp_comm *all; /* device communicator of every rank: the methods split it; NULL for one rank */
};

/* The group of a single-device run: one rank, no communicator, collectives that return at once.
 * Needs no MPI. Freed with cp_group_destroy. */
enum lc_status cp_group_local(const struct device_ops *dev, struct cp_group **out, char *err);

/* Every rank offers a value; all get the largest and the lowest rank offering it (MAXLOC). */
enum lc_status cp_group_agree(struct cp_group *g, int mine, int *max, int *who, char *err);
/* In-place MPI_MAX or MPI_SUM over ranks. */
enum lc_status cp_group_allreduce(struct cp_group *g, double *values, int n, MPI_Op op, char *err);
/* Rank 0 gets every rank's bytes one after another (*all, malloc'd, with offsets[size + 1]);
 * other ranks get NULLs. */
enum lc_status cp_group_gather(struct cp_group *g, const void *mine, size_t bytes, double timeout_s, char **all,
                               size_t **offsets, char *err);
/* Rank 0's bytes to every rank, waiting up to timeout_s. */
enum lc_status cp_group_bcast(struct cp_group *g, void *buf, size_t bytes, double timeout_s, char *err);

#endif
