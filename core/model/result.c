/* The one merge of a run's per-rank measurements into its result. */
#include "core/model/result.h"

#include <stdio.h>
#include <string.h>

bool run_status_recorded(enum lc_status st) { return st == LC_ERR_UNSUPPORTED || st == LC_ERR_OOM; }

void run_result_merge(const struct run_result *per_rank, int n, int first_rank, struct run_result *out)
{
    memset(out, 0, sizeof *out);
    if (n < 1) return;
    double sum_ms = 0, max_work = 0;
    int slowest = 0;
    out->check_ran = out->check_pass = true;
    out->algbw_gbs = out->busbw_gbs = -1;
    for (int r = 0; r < n; r++) {
        const struct run_result *x = &per_rank[r];
        if (x->ms_median > per_rank[slowest].ms_median) slowest = r;
        sum_ms += x->ms_median;
        out->work += x->work;
        if (x->work > max_work) max_work = x->work;
        if (x->flops > out->flops) out->flops = x->flops; /* whole-run FLOPs: every rank reports the same */
        if (x->peak_mem_bytes > out->peak_mem_bytes) out->peak_mem_bytes = x->peak_mem_bytes;
        out->check_ran &= x->check_ran;
        out->check_pass &= x->check_pass;
        if (x->max_abs_err > out->max_abs_err) out->max_abs_err = x->max_abs_err;
        if (x->max_rel_err > out->max_rel_err) out->max_rel_err = x->max_rel_err;
        if (x->comm_bytes > out->comm_bytes) out->comm_bytes = x->comm_bytes;
        /* Bandwidth is what the slowest link achieved. */
        if (out->algbw_gbs < 0 || x->algbw_gbs < out->algbw_gbs) out->algbw_gbs = x->algbw_gbs;
        if (out->busbw_gbs < 0 || x->busbw_gbs < out->busbw_gbs) out->busbw_gbs = x->busbw_gbs;
        out->cores += x->cores;
        if (!out->kernel_version[0]) snprintf(out->kernel_version, sizeof out->kernel_version, "%s", x->kernel_version);
        /* The run's failure is the first rank's that is a cause, not a rank stopped because of
         * another (cancelled): that one speaks only when every failure is a cancellation. */
        bool cause = x->status != LC_OK && (out->status == LC_OK ||
                                            (out->status == LC_ERR_CANCELLED && x->status != LC_ERR_CANCELLED));
        if (cause) {
            out->status = x->status;
            /* One rank's own verdict on its configuration speaks for the run; otherwise say who. */
            if (n == 1 && run_status_recorded(x->status)) snprintf(out->message, sizeof out->message, "%s", x->message);
            else snprintf(out->message, sizeof out->message, "rank %d: %.200s", first_rank + r, x->message);
        }
    }
    if (out->status == LC_OK) /* an ok run may carry a note (counters unavailable) */
        for (int r = 0; r < n && !out->message[0]; r++) snprintf(out->message, sizeof out->message, "%s", per_rank[r].message);
    const struct run_result *head = &per_rank[slowest];
    out->ms_median = head->ms_median;
    out->ms_p20 = head->ms_p20;
    out->ms_p80 = head->ms_p80;
    out->ms_mean_ranks = sum_ms / n;
    out->area = head->area;
    out->density = head->density;
    out->tflops = out->ms_median > 0 ? out->flops / (n * out->ms_median * 1e-3) / 1e12 : 0;
    out->tflops_mean = out->ms_mean_ranks > 0 ? out->flops / (n * out->ms_mean_ranks * 1e-3) / 1e12 : 0;
    out->work_imbalance = out->work > 0 ? max_work / (out->work / n) : 0;
    out->ranks = n;
}
