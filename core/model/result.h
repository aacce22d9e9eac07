/* What a run measured: each rank's own figures (EV_RESULT), and the run's one final result
 * merged from them on rank 0 (EV_RUN_DONE), which every front end reads. */
#ifndef LC_RESULT_H
#define LC_RESULT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model/status.h"

#define LC_KERNEL_VERSION_LEN 160

struct run_result {
    enum lc_status status; /* LC_OK, LC_ERR_UNSUPPORTED, LC_ERR_OOM, ... */
    char message[LC_ERRMSG_LEN];
    /* The kernel's own version string ("cuDNN 9.19.0 (path)" for cudnn), "" where it gives none:
     * which library a plugin ran is part of what was measured. */
    char kernel_version[LC_KERNEL_VERSION_LEN];
    double ms_median, ms_p20, ms_p80; /* this rank (the slowest rank when merged) */
    double ms_mean_ranks;             /* merged: mean over ranks of the median */
    double flops;                     /* whole run, all ranks */
    double tflops;                    /* merged: per rank, slowest rank */
    double tflops_mean;               /* merged: per rank, mean rank */
    double area;                      /* visible pairs summed over query heads / h_q */
    double density;                   /* area / S^2 */
    int64_t peak_mem_bytes;           /* max over ranks */
    bool check_ran, check_pass;
    double max_abs_err, max_rel_err;
    double work;                      /* this rank: visible pairs x query heads x batch it computed */
    double work_imbalance;            /* merged: max / mean of per-rank work */
    double comm_bytes;                /* per rank, per run */
    double algbw_gbs, busbw_gbs;
    int cores;                        /* host cores the run had (summed over ranks when merged) */
    int ranks;                        /* ranks merged into this result */
};

/* The run's result from the outcome of each of its n ranks (ranks first_rank, first_rank + 1, ...;
 * a rank that failed has its status and message): the slowest rank is the headline, TFLOP/s per
 * rank from the whole run's FLOPs, work imbalance max / mean, the first failing rank's status
 * named in the message. */
void run_result_merge(const struct run_result *per_rank, int n, int first_rank, struct run_result *out);

/* An outcome to record (unsupported, out of memory), as opposed to a failure of the tool. */
bool run_status_recorded(enum lc_status st);

#endif
