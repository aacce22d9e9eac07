/* Context parallelism as the rest of the program sees it: the communicator group of one CP run
 * (made by the worker loop from an MPI communicator of exactly the ranks sharing the run) and the
 * registration of the CP methods into core's table (core/engine/cp_method.h). */
#ifndef LC_CP_H
#define LC_CP_H

#include <mpi.h>

#include "core/engine/device.h"
#include "core/model/status.h"

struct cp_group; /* opaque; core/engine/engine.h forward-declares it for engine_env.cp */

/* Collective over comm: every rank of comm calls it, with the same device kind. comm is
 * duplicated (the caller keeps and frees its own). The group talks NCCL when dev is a CUDA
 * device (built with NCCL), MPI otherwise (host buffers, nonblocking, progressed beside the
 * computation; MPI_THREAD_MULTIPLE gives real overlap, lower thread levels still work).
 * Every rank gets the same status: if one rank fails, all return LC_ERR_COMM naming it. */
enum lc_status cp_group_create(MPI_Comm comm, const struct device_ops *dev, struct cp_group **out, char *err);
/* Collective too (frees the communicators); NULL is a no-op. */
void cp_group_destroy(struct cp_group *g);

int cp_group_rank(const struct cp_group *g); /* 0-based rank within the CP run */
int cp_group_size(const struct cp_group *g);

/* Registers local, allgather, ring, ulysses, usp, double_ring and balanced with cp_method_register. */
void cp_register_all(void);

#endif
