/* The `local` method: a run on one device, i.e. CP degree 1. The whole sequence is the one
 * rank's shard and one kernel call covers it, so the run takes the same driver (inputs, timing,
 * counters, check, result) as every CP method. Any mask, block-sparse ones included. */
#include <stdlib.h>

#include "cp/methods.h"

struct local_state {
    void *plan;
};

static enum lc_status local_plan(struct cp_exec *run, char *err)
{
    const struct run_spec *s = run->spec;
    struct local_state *l = calloc(1, sizeof *l);
    run->layout.seg = malloc(sizeof *run->layout.seg);
    if (!l || !run->layout.seg) {
        free(l);
        return lc_fail(err, LC_ERR_OOM, "out of host memory");
    }
    run->state = l;
    run->layout.seg[0] = (struct cp_segment){.src = 0, .len = s->seqlen};
    run->layout.n = 1;
    run->layout.rows = s->seqlen;
    run->work = mask_area_for_heads(&run->mask, s->heads_q, s->heads_kv) * s->batch;
    return cp_exec_plan_kernel(run, s->heads_q, s->heads_kv, &run->view, &l->plan, err);
}

/* The shard as the kernel's tensors: K and V share one buffer, K first. */
static struct longca_tensors local_tensors(const struct cp_exec *run)
{
    const size_t kv_half = (size_t)run->spec->batch * (size_t)run->spec->seqlen * cp_row_elems(run, run->spec->heads_kv) *
                           run->esize;
    const struct cp_shard *sh = &run->shard;
    struct longca_tensors t = {.q = sh->q, .k = sh->kv, .v = (char *)sh->kv + kv_half, .o = sh->o, .lse = sh->lse,
                             .d_o = sh->d_o, .dq = sh->dq, .dk = sh->dkv,
                             .dv = sh->dkv ? (char *)sh->dkv + kv_half : NULL};
    return t;
}

static enum lc_status local_forward(struct cp_exec *run, char *err)
{
    struct local_state *l = run->state;
    struct longca_tensors t = local_tensors(run);
    return cp_exec_attention(run, l->plan, false, &t, -1, err);
}

static enum lc_status local_backward(struct cp_exec *run, char *err)
{
    struct local_state *l = run->state;
    struct longca_tensors t = local_tensors(run);
    return cp_exec_attention(run, l->plan, true, &t, -1, err);
}

static void local_release(struct cp_exec *run)
{
    struct local_state *l = run->state;
    if (!l) return;
    if (l->plan) kernel_destroy(run->kernel, l->plan);
    free(l);
    run->state = NULL;
}

static const struct cp_algo local_algo = {
    .plan = local_plan,
    .forward = local_forward,
    .backward = local_backward,
    .release = local_release,
};

static enum lc_status local_validate(const struct run_spec *spec, char *err)
{
    if (spec->cp_degree != 1)
        return lc_fail(err, LC_ERR_INVALID, "--gpus %d needs a context-parallel method (--cp ring, ...)", spec->cp_degree);
    return LC_OK;
}

/* What the run will report: the whole mask's work on its one rank, nothing on the wire. */
static enum lc_status local_predict(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                    double *work, double *bytes, char *err)
{
    (void)view, (void)err;
    work[0] = mask_area_for_heads(m, spec->heads_q, spec->heads_kv) * spec->batch;
    bytes[0] = 0;
    return LC_OK;
}

/* One attention call over the whole mask. */
static enum lc_status local_schedule(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                     struct cp_schedule *out, char *err)
{
    (void)m;
    struct cp_tile_work work;
    enum lc_status st = cp_schedule_count(view, out->tile, spec->heads_q * spec->batch, &work, err);
    if (st) return st;
    cp_schedule_rank(out, 0);
    if (spec->direction & DIR_FWD) cp_schedule_compute(out, &work, false, 0);
    if (spec->direction & DIR_BWD) cp_schedule_compute(out, &work, true, 0);
    return LC_OK;
}

static enum lc_status local_execute(const struct engine_env *env, const struct run_spec *spec, int run_id,
                                    struct run_result *out)
{
    const struct cp_degrees degrees = {1, 1};
    return cp_execute(env, spec, run_id, out, &local_algo, &degrees);
}

const struct cp_method_ops cp_method_local = {
    .name = CP_METHOD_LOCAL,
    .summary = "one device, no context parallelism (CP degree 1): the whole sequence in one kernel call",
    .single_device = true,
    .validate = local_validate,
    .execute = local_execute,
    .predict = local_predict,
    .schedule = local_schedule,
};
