/* The CP group (cp/cp.h, cp/group.h). */
#include "cp/group.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum lc_status mpi_call(int rc, const char *what, char *err)
{
    if (rc == MPI_SUCCESS) return LC_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return lc_fail(err, LC_ERR_COMM, "%s: %s", what, text);
}

/* A one-rank group's collectives return at once, as llm.c's multi-GPU steps do at one process:
 * a single-device run takes the same driver as a CP run without paying for MPI. */
enum lc_status cp_group_agree(struct cp_group *g, int mine, int *max, int *who, char *err)
{
    if (g->size == 1) {
        *max = mine;
        if (who) *who = 0;
        return LC_OK;
    }
    int in[2] = {mine, g->rank}, out[2] = {0, 0};
    MPI_Request req;
    enum lc_status st = mpi_call(MPI_Iallreduce(in, out, 1, MPI_2INT, MPI_MAXLOC, g->comm, &req), "CP agreement", err);
    if (st == LC_OK) st = cp_mpi_wait(&req, 1, CP_COMM_TIMEOUT_S, "CP agreement", err);
    if (st != LC_OK) return st;
    *max = out[0];
    if (who) *who = out[1];
    return LC_OK;
}

enum lc_status cp_group_allreduce(struct cp_group *g, double *values, int n, MPI_Op op, char *err)
{
    if (g->size == 1) return LC_OK;
    MPI_Request req;
    enum lc_status st = mpi_call(MPI_Iallreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, op, g->comm, &req), "CP reduction", err);
    if (st == LC_OK) st = cp_mpi_wait(&req, 1, CP_COMM_TIMEOUT_S, "CP reduction", err);
    return st;
}

enum lc_status cp_group_gather(struct cp_group *g, const void *mine, size_t bytes, double timeout_s, char **all,
                               size_t **offsets, char *err)
{
    *all = NULL;
    *offsets = NULL;
    if (g->size == 1) {
        *all = malloc(bytes ? bytes : 1);
        *offsets = malloc(2 * sizeof **offsets);
        if (!*all || !*offsets) {
            free(*all), free(*offsets);
            *all = NULL;
            *offsets = NULL;
            return lc_fail(err, LC_ERR_OOM, "check: out of host memory");
        }
        if (bytes) memcpy(*all, mine, bytes);
        (*offsets)[0] = 0;
        (*offsets)[1] = bytes;
        return LC_OK;
    }
    if (bytes > (size_t)INT_MAX) return lc_fail(err, LC_ERR_UNSUPPORTED, "check: %.2f GiB per rank exceeds MPI's 2 GiB message limit", (double)bytes / (1u << 30));
    int count = (int)bytes;
    int *counts = g->rank == 0 ? calloc((size_t)g->size, sizeof *counts) : NULL;
    int *displs = g->rank == 0 ? calloc((size_t)g->size, sizeof *displs) : NULL;
    if (g->rank == 0 && (!counts || !displs)) {
        free(counts), free(displs);
        return lc_fail(err, LC_ERR_OOM, "check: out of host memory");
    }
    MPI_Request req;
    enum lc_status st = mpi_call(MPI_Igather(&count, 1, MPI_INT, counts, 1, MPI_INT, 0, g->comm, &req), "check gather", err);
    if (st == LC_OK) st = cp_mpi_wait(&req, 1, timeout_s, "check gather", err);
    size_t total = 0;
    if (st == LC_OK && g->rank == 0) {
        *offsets = malloc(((size_t)g->size + 1) * sizeof **offsets);
        for (int r = 0; r < g->size && *offsets; r++) {
            (*offsets)[r] = total;
            total += (size_t)counts[r];
        }
        if (*offsets) (*offsets)[g->size] = total;
        if (total > (size_t)INT_MAX) st = lc_fail(err, LC_ERR_UNSUPPORTED, "check: %.2f GiB in all exceeds MPI's 2 GiB limit", (double)total / (1u << 30));
        for (int r = 0; r < g->size && *offsets; r++) displs[r] = (int)(*offsets)[r];
        *all = malloc(total ? total : 1);
        if (st == LC_OK && (!*offsets || !*all)) st = lc_fail(err, LC_ERR_OOM, "check: out of host memory");
    }
    /* Rank 0 says whether it can take the data, so nobody is left sending into the void. */
    int go = st == LC_OK;
    if (st == LC_OK || g->rank == 0) {
        enum lc_status st2 = cp_group_bcast(g, &go, sizeof go, timeout_s, err);
        if (st == LC_OK) st = st2;
        if (st == LC_OK && !go) st = lc_fail(err, LC_ERR_COMM, "check gather: rank 0 could not take the outputs");
    }
    if (st == LC_OK) {
        st = mpi_call(MPI_Igatherv(mine, count, MPI_BYTE, *all, counts, displs, MPI_BYTE, 0, g->comm, &req),
                      "check gather", err);
        if (st == LC_OK) st = cp_mpi_wait(&req, 1, timeout_s, "check gather", err);
    }
    free(counts);
    free(displs);
    if (st != LC_OK) {
        free(*all), free(*offsets);
        *all = NULL;
        *offsets = NULL;
    }
    return st;
}

enum lc_status cp_group_bcast(struct cp_group *g, void *buf, size_t bytes, double timeout_s, char *err)
{
    if (g->size == 1) return LC_OK;
    MPI_Request req;
    enum lc_status st = mpi_call(MPI_Ibcast(buf, (int)bytes, MPI_BYTE, 0, g->comm, &req), "CP broadcast", err);
    if (st == LC_OK) st = cp_mpi_wait(&req, 1, timeout_s, "CP broadcast", err);
    return st;
}

int cp_group_rank(const struct cp_group *g) { return g->rank; }
int cp_group_size(const struct cp_group *g) { return g->size; }

static enum lc_status make_device_comm(struct cp_group *g, char *err)
{
    if (g->dev->kind == DEVICE_CPU) return comm_mpi_create(g->comm, "cp", &g->all, err);
#ifdef LONGCA_HAVE_NCCL
    return comm_nccl_create(g->comm, g->dev, "cp", &g->all, err);
#else
    return lc_fail(err, LC_ERR_UNSUPPORTED, "context parallelism on %s needs NCCL, which this build lacks", g->dev->name);
#endif
}

enum lc_status cp_group_create(MPI_Comm comm, const struct device_ops *dev, struct cp_group **out, char *err)
{
    *out = NULL;
    struct cp_group *g = calloc(1, sizeof *g);
    if (!g) return lc_fail(err, LC_ERR_OOM, "out of host memory for the CP group");
    g->dev = dev;
    enum lc_status st = mpi_call(MPI_Comm_dup(comm, &g->comm), "CP group", err);
    if (st != LC_OK) {
        free(g);
        return st;
    }
    MPI_Comm_set_errhandler(g->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(g->comm, &g->rank);
    MPI_Comm_size(g->comm, &g->size);
    /* One kind of communicator for all (NCCL on GPUs, MPI on CPUs): a rank left without a GPU
     * (more CP ranks than GPUs on its node) would keep the others waiting in NCCL's set-up. */
    int most = 0, least = 0, gpu_rank = 0, cpu_rank = 0;
    st = cp_group_agree(g, (int)dev->kind, &most, &gpu_rank, err);
    if (st == LC_OK) st = cp_group_agree(g, -(int)dev->kind, &least, &cpu_rank, err);
    if (st == LC_OK && most != -least)
        st = lc_fail(err, LC_ERR_UNSUPPORTED, "CP rank %d has no GPU while CP rank %d has one: a GPU run needs a GPU "
                     "for each of its ranks (more ranks than GPUs on a node?)", cpu_rank, gpu_rank);
    if (st != LC_OK) {
        MPI_Comm_free(&g->comm);
        free(g);
        return st;
    }
    char mine[LC_ERRMSG_LEN] = "";
    st = make_device_comm(g, mine);
    /* One answer for everybody: a rank whose communicator failed takes the others down with it. */
    int worst = 0, who = 0;
    enum lc_status agreed = cp_group_agree(g, st != LC_OK ? (int)st : 0, &worst, &who, err);
    if (agreed == LC_OK && worst == 0) {
        *out = g;
        return LC_OK;
    }
    if (agreed == LC_OK) {
        if (st != LC_OK) lc_fail(err, st, "%s", mine);
        else lc_fail(err, LC_ERR_COMM, "CP group: rank %d could not set up its communicator", who);
    }
    if (g->all) g->all->ops->destroy(g->all);
    MPI_Comm_free(&g->comm);
    free(g);
    return agreed != LC_OK ? agreed : st != LC_OK ? st : LC_ERR_COMM;
}

enum lc_status cp_group_local(const struct device_ops *dev, struct cp_group **out, char *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return lc_fail(err, LC_ERR_OOM, "out of host memory for the CP group");
    (*out)->comm = MPI_COMM_NULL;
    (*out)->size = 1;
    (*out)->dev = dev;
    return LC_OK;
}

void cp_group_destroy(struct cp_group *g)
{
    if (!g) return;
    if (g->all) g->all->ops->destroy(g->all);
    if (g->comm != MPI_COMM_NULL) MPI_Comm_free(&g->comm);
    free(g);
}
