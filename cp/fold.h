/* One KV block's attention for a rank's rows, folded into the running fp32 results of the blocks
 * before it (core/engine/kernel.h, struct longca_fold): by the kernel in its own epilogues where it can
 * (flash, flash_mma), otherwise the kernel writes the block's own outputs into scratch and array
 * passes (cp/array.h) fold them in, the same arithmetic one pass later. */
#ifndef LC_CP_FOLD_H
#define LC_CP_FOLD_H

#include "cp/driver.h"

struct cp_fold_scratch {
    int64_t q_rows, kv_rows;
    int heads_q, heads_kv;
    void *o_part, *dq_part, *dkv_part; /* the run's dtype; NULL where the kernel folds */
    float *lse_part;
};

/* Scratch for blocks of q_rows x kv_rows with these heads, only where the run's kernel cannot fold. */
enum lc_status cp_fold_prepare(struct cp_exec *run, struct cp_fold_scratch *s, int64_t q_rows, int64_t kv_rows,
                               int heads_q, int heads_kv, char *err);
/* t->fold set; t->q, k, v (and o, lse, d_o for the backward) as for a whole call. */
enum lc_status cp_fold_attention(struct cp_exec *run, void *plan, bool backward, const struct longca_tensors *t,
                                 const struct cp_fold_scratch *s, int step, char *err);

#endif
