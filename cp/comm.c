/* What both communicators share: names, tags, and bounded waiting on MPI requests. */
#define _POSIX_C_SOURCE 200809L
#include "cp/comm.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/model/event.h"

const char *cp_op_kind_name(enum cp_op_kind k)
{
    switch (k) {
    case CP_OP_ALL_GATHER: return "all_gather";
    case CP_OP_ALL_TO_ALL: return "alltoall";
    case CP_OP_SEND_RECV: return "sendrecv";
    case CP_OP_REDUCE_SCATTER: return "reduce_scatter";
    case CP_OP_KIND_COUNT: break;
    }
    return "?";
}

void cp_comm_tag(struct cp_comm *c, int32_t step, const char *label)
{
    c->step = step;
    snprintf(c->label, sizeof c->label, "%s", label ? label : "");
}

enum lc_status cp_mpi_wait(MPI_Request *reqs, int n, double timeout_s, const char *what, char *err)
{
    const int64_t deadline = lc_now_ns() + (int64_t)(timeout_s * 1e9);
    const struct timespec nap = {0, 50000};
    for (;;) {
        int done = 0;
        int rc = MPI_Testall(n, reqs, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) {
            char text[MPI_MAX_ERROR_STRING];
            int len = 0;
            MPI_Error_string(rc, text, &len);
            return lc_fail(err, LC_ERR_COMM, "%s failed: %s", what, text);
        }
        if (done) return LC_OK;
        if (lc_now_ns() > deadline)
            return lc_fail(err, LC_ERR_COMM, "%s: no answer from a peer within %.0f s", what, timeout_s);
        nanosleep(&nap, NULL); /* leave the cores to the computation */
    }
}

void cp_op_bytes(enum cp_op_kind kind, int size, double block, double *alg, double *bus)
{
    if (kind == CP_OP_SEND_RECV) {
        *alg = *bus = block;
        return;
    }
    *alg = block * size;
    *bus = size > 1 ? *alg * ((double)(size - 1) / size) : 0.0;
}
