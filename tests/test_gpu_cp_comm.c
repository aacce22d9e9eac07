/* The NCCL communicator and the CUDA array kernels of CP, on every rank of MPI_COMM_WORLD (one
 * GPU each; tests/cp_gpu_test.sh runs it on 2 GPUs, alone it is one rank): all-gather,
 * all-to-all, paired send/recv, fp32 reduce-scatter and a split, each checked element by element;
 * an operation sees what the compute stream wrote just before it is posted, and the compute
 * stream sees what it received after wait; records carry nccl-tests' sizes and ordered times;
 * copy/convert/accumulate and the LSE merge equal the host versions. Skipped without a GPU. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/rng.h"
#include "cp/array.h"
#include "cp/group.h"
#include "kernels/cuda/cuda_backend.h"

static int failures, rank, size;

static void expect(bool ok, const char *what)
{
    if (rank == 0 || !ok) printf("rank %d: %s %s\n", rank, ok ? "pass" : "FAIL", what);
    failures += !ok;
}

static const struct device_ops *dev = &device_cuda;

static float *device_floats(size_t n)
{
    void *p = NULL;
    char err[LC_ERRMSG_LEN];
    if (dev->alloc(n * sizeof(float), &p, err) != LC_OK) {
        fprintf(stderr, "rank %d: %s\n", rank, err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return p;
}

static void upload(float *d, const float *h, size_t n)
{
    char err[LC_ERRMSG_LEN];
    dev->upload(d, h, n * sizeof(float), err);
}

static void download(float *h, const float *d, size_t n)
{
    char err[LC_ERRMSG_LEN];
    dev->sync(err);
    dev->download(h, d, n * sizeof(float), err);
}

/* Value of element i of rank r's block for peer p. */
static float pattern(int r, int p, size_t i) { return (float)(r * 100000 + p * 1000) + (float)(i % 997); }

static void test_collectives(struct cp_comm *c)
{
    char err[LC_ERRMSG_LEN] = "";
    const size_t n = 4096;
    const int P = c->size, me = c->rank;
    float *send = device_floats(n * P), *recv = device_floats(n * P);
    float *host = malloc(n * P * sizeof *host), *back = malloc(n * P * sizeof *back);
    uint64_t t = 0;

    /* all-gather: the compute stream writes the send buffer right before the post. */
    for (size_t i = 0; i < n; i++) host[i] = pattern(me, 0, i);
    upload(send, host, n);
    cp_array_cuda.fill_f32(send, n / 2, (float)(me + 1), err); /* queued, not yet run when posting */
    bool ok = c->ops->all_gather(c, send, recv, n * sizeof(float), &t, err) == LC_OK && c->ops->wait(c, t, err) == LC_OK;
    download(back, recv, n * P);
    for (int r = 0; r < P && ok; r++)
        for (size_t i = 0; i < n && ok; i++) ok = back[r * n + i] == (i < n / 2 ? (float)(r + 1) : pattern(r, 0, i));
    expect(ok, "all_gather sees the compute stream's last write and delivers every rank's block");

    /* all-to-all */
    for (int p = 0; p < P; p++)
        for (size_t i = 0; i < n; i++) host[p * n + i] = pattern(me, p, i);
    upload(send, host, n * P);
    ok = c->ops->all_to_all(c, send, recv, n * sizeof(float), &t, err) == LC_OK && c->ops->wait(c, t, err) == LC_OK;
    download(back, recv, n * P);
    for (int s = 0; s < P && ok; s++)
        for (size_t i = 0; i < n && ok; i++) ok = back[s * n + i] == pattern(s, me, i);
    expect(ok, "all_to_all: block p of rank s lands as block s on rank p");

    /* send/recv around the ring, then the compute stream reads it after wait. */
    for (size_t i = 0; i < n; i++) host[i] = pattern(me, 1, i);
    upload(send, host, n);
    ok = c->ops->send_recv(c, send, n * sizeof(float), (me + 1) % P, recv, n * sizeof(float), (me - 1 + P) % P, &t, err) == LC_OK &&
         c->ops->wait(c, t, err) == LC_OK &&
         cp_array_cuda.copy2d(send, LC_FP32, n, recv, LC_FP32, n, n, 1, false, err) == LC_OK;
    download(back, send, n);
    for (size_t i = 0; i < n && ok; i++) ok = back[i] == pattern((me - 1 + P) % P, 1, i);
    expect(ok, "send_recv from the previous rank, read by the compute stream after wait");

    /* fp32 reduce-scatter */
    for (int p = 0; p < P; p++)
        for (size_t i = 0; i < n; i++) host[p * n + i] = (float)(me + 1) * (float)(p + 1) + (float)(i % 7);
    upload(send, host, n * P);
    ok = c->ops->reduce_scatter_f32(c, send, recv, n, &t, err) == LC_OK && c->ops->wait(c, t, err) == LC_OK;
    download(back, recv, n);
    for (size_t i = 0; i < n && ok; i++)
        ok = back[i] == (float)(P * (P + 1) / 2) * (float)(me + 1) + (float)P * (float)(i % 7);
    expect(ok, "reduce_scatter_f32 sums block `rank` over ranks");

    ok = c->ops->barrier(c, err) == LC_OK;
    expect(ok, "barrier");
    struct cp_comm_record *recs = NULL;
    int nr = c->ops->take_records(c, &recs);
    ok = nr == 4;
    const double factor = P > 1 ? (double)(P - 1) / P : 0;
    const double want_alg[4] = {(double)n * 4 * P, (double)n * 4 * P, (double)n * 4, (double)n * 4 * P};
    const double want_bus[4] = {want_alg[0] * factor, want_alg[1] * factor, want_alg[2], want_alg[3] * factor};
    for (int i = 0; i < nr && ok; i++)
        ok = recs[i].alg_bytes == want_alg[i] && recs[i].bus_bytes == want_bus[i] && recs[i].start_ns <= recs[i].end_ns &&
             (i == 0 || recs[i].start_ns >= recs[i - 1].start_ns);
    expect(ok, "records: nccl-tests' S and bus bytes, start <= end, in order");
    if (!ok) fprintf(stderr, "rank %d: %d records (%s)\n", rank, nr, err);
    free(recs);
    dev->free(send), dev->free(recv);
    free(host), free(back);
}

static void test_split(struct cp_comm *all)
{
    char err[LC_ERRMSG_LEN] = "";
    struct cp_comm *half = NULL;
    bool ok = all->ops->split(all, all->rank % 2, all->rank, "half", &half, err) == LC_OK;
    expect(ok && half->size == (all->size + 1 - all->rank % 2) / 2 && half->rank == all->rank / 2,
           "split by parity: sizes and ranks");
    if (!ok) {
        fprintf(stderr, "rank %d: %s\n", rank, err);
        return;
    }
    const size_t n = 1024;
    float *send = device_floats(n), *recv = device_floats(n), *host = malloc(n * sizeof *host);
    for (size_t i = 0; i < n; i++) host[i] = pattern(all->rank, 2, i);
    upload(send, host, n);
    uint64_t t = 0;
    const int P = half->size, me = half->rank;
    ok = half->ops->send_recv(half, send, n * sizeof(float), (me + 1) % P, recv, n * sizeof(float), (me - 1 + P) % P, &t,
                                 err) == LC_OK &&
         half->ops->wait(half, t, err) == LC_OK;
    download(host, recv, n);
    const int from = ((me - 1 + P) % P) * 2 + all->rank % 2;
    for (size_t i = 0; i < n && ok; i++) ok = host[i] == pattern(from, 2, i);
    expect(ok, "send_recv on the split communicator");
    half->ops->destroy(half);
    dev->free(send), dev->free(recv);
    free(host);
}

/* The CUDA array kernels against the host ones on the same random data. */
static void test_array_kernels(void)
{
    char err[LC_ERRMSG_LEN] = "";
    enum { B = 2, ROWS = 37, HEADS = 3, D = 80 };
    const size_t no = (size_t)B * ROWS * HEADS * D, nl = (size_t)B * HEADS * ROWS;
    struct rng r;
    rng_seed(&r, 11, (uint64_t)rank);
    float *acc = malloc(no * 4), *lse = malloc(nl * 4), *part = malloc(no * 4), *plse = malloc(nl * 4);
    float *acc_h = malloc(no * 4), *lse_h = malloc(nl * 4), *back = malloc(no * 4);
    for (size_t i = 0; i < no; i++) acc[i] = (float)rng_double(&r), part[i] = (float)rng_double(&r);
    for (size_t i = 0; i < nl; i++) {
        int kind = (int)rng_range(&r, 0, 5);
        lse[i] = kind == 0 ? -INFINITY : (float)(4 * rng_double(&r));
        plse[i] = kind == 1 ? -INFINITY : kind == 2 ? INFINITY : (float)(4 * rng_double(&r));
    }
    /* Host reference on bf16 partials. */
    uint16_t *part_bf16 = malloc(no * 2);
    dtype_from_f32(LC_BF16, part_bf16, part, no);
    memcpy(acc_h, acc, no * 4), memcpy(lse_h, lse, nl * 4);
    cp_lse_merge_host(acc_h, lse_h, part_bf16, LC_BF16, plse, B, ROWS, HEADS, D);
    float *d_acc = device_floats(no), *d_lse = device_floats(nl), *d_plse = device_floats(nl);
    void *d_part = NULL;
    dev->alloc(no * 2, &d_part, err);
    upload(d_acc, acc, no), upload(d_lse, lse, nl), upload(d_plse, plse, nl);
    dev->upload(d_part, part_bf16, no * 2, err);
    bool ok = cp_array_cuda.lse_merge(d_acc, d_lse, d_part, LC_BF16, d_plse, B, ROWS, HEADS, D, err) == LC_OK;
    download(back, d_acc, no);
    double worst = 0;
    for (size_t i = 0; i < no; i++) worst = fmax(worst, fabs(back[i] - acc_h[i]));
    download(back, d_lse, nl);
    for (size_t i = 0; i < nl; i++)
        worst = fmax(worst, isinf(lse_h[i]) ? (back[i] == lse_h[i] ? 0 : INFINITY) : fabs(back[i] - lse_h[i]));
    expect(ok && worst < 1e-5, "LSE merge on the GPU equals the host merge (guards included)");

    /* Strided bf16 -> fp32 copy, then accumulate, against the host table. */
    const size_t rows = 19, cols = 50, ld = 64;
    float *h_dst = calloc(rows * ld, 4), *g_dst = calloc(rows * ld, 4);
    cp_array_host.copy2d(h_dst, LC_FP32, ld, part_bf16, LC_BF16, ld + 3, cols, rows, false, err);
    cp_array_host.copy2d(h_dst, LC_FP32, ld, part_bf16, LC_BF16, ld + 3, cols, rows, true, err);
    float *d_dst = device_floats(rows * ld);
    upload(d_dst, g_dst, rows * ld);
    ok = cp_array_cuda.copy2d(d_dst, LC_FP32, ld, d_part, LC_BF16, ld + 3, cols, rows, false, err) == LC_OK &&
         cp_array_cuda.copy2d(d_dst, LC_FP32, ld, d_part, LC_BF16, ld + 3, cols, rows, true, err) == LC_OK;
    download(g_dst, d_dst, rows * ld);
    ok = ok && !memcmp(g_dst, h_dst, rows * ld * 4);
    expect(ok, "strided bf16 -> fp32 copy and accumulate equal the host table");
    dev->free(d_acc), dev->free(d_lse), dev->free(d_plse), dev->free(d_part), dev->free(d_dst);
    free(acc), free(lse), free(part), free(plse), free(acc_h), free(lse_h), free(back), free(part_bf16);
    free(h_dst), free(g_dst);
}

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int gpus = device_cuda.count(), skip = gpus == 0;
    MPI_Allreduce(MPI_IN_PLACE, &skip, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (skip) {
        if (rank == 0) printf("SKIP: no CUDA GPU visible to this process\n");
        MPI_Finalize();
        return 77;
    }
    char describe[128] = "", err[LC_ERRMSG_LEN] = "";
    if (device_cuda.open(rank % gpus, describe, sizeof describe, err) != LC_OK) {
        fprintf(stderr, "rank %d: GPU %d: %s\n", rank, rank % gpus, err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    printf("rank %d of %d: %s\n", rank, size, describe);
    struct cp_group *g = NULL;
    if (cp_group_create(MPI_COMM_WORLD, dev, &g, err) != LC_OK) {
        fprintf(stderr, "rank %d: %s\n", rank, err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    expect(!strcmp(g->all->ops->backend, "nccl"), "CUDA devices get the NCCL communicator");
    test_collectives(g->all);
    test_split(g->all);
    test_array_kernels();
    cp_group_destroy(g);
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0 && total) printf("cp comm on %d GPU rank(s): %d check(s) failed\n", size, total);
    if (rank == 0 && !total) printf("cp comm on %d GPU rank(s): all checks passed\n", size);
    device_cuda.close();
    MPI_Finalize();
    return total ? 1 : 0;
}
