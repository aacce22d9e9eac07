/* One predicted CP run (cp/sim_predict.h). */
#include "cp/sim_predict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/cp_method.h"

static void fail(struct cp_model_row *out, enum lc_status st, const char *why)
{
    out->status = st;
    snprintf(out->message, sizeof out->message, "%s", why);
}

void cp_model_predict(const struct run_spec *spec, const struct cp_topology *topo, const struct cp_cost *cost,
                      int trace_ranks, struct cp_sim_result *trace, struct cp_model_row *out)
{
    memset(out, 0, sizeof *out);
    out->spec = *spec;
    const int64_t t0 = lc_now_ns();
    char err[LC_ERRMSG_LEN];
    struct cp_prediction p;
    struct cp_schedule s;
    enum lc_status st = cp_method_model(spec, &p, &s, err);
    if (st) {
        fail(out, st, err);
        return;
    }
    out->imbalance = p.imbalance;
    out->comm_bytes = p.max_bytes;
    out->flops = p.flops;
    cp_prediction_free(&p);
    struct cp_sim_result r;
    st = cp_simulate(&s, topo, cost, trace ? trace_ranks : 0, &r, err);
    cp_schedule_free(&s);
    if (st) {
        fail(out, st, err);
        return;
    }
    const int P = spec->cp_degree;
    out->ms = r.slowest_s * 1e3;
    out->ms_mean = r.mean_s * 1e3;
    out->tflops = r.slowest_s > 0 ? out->flops / (P * r.slowest_s) / 1e12 : 0;
    out->tflops_mean = r.mean_s > 0 ? out->flops / (P * r.mean_s) / 1e12 : 0;
    out->compute_ms = r.rank[r.slowest].compute * 1e3;
    out->exposed_ms = r.rank[r.slowest].exposed * 1e3;
    if (trace) *trace = r;
    else cp_sim_result_free(&r);
    out->wall_s = (double)(lc_now_ns() - t0) * 1e-9;
}

int cp_model_intervals(const struct cp_sim_result *trace, int rank, struct interval **out)
{
    int n = 0;
    for (int i = 0; i < trace->n_trace; i++) n += trace->trace[i].rank == rank;
    *out = n ? calloc((size_t)n, sizeof **out) : NULL;
    if (n && !*out) return -1;
    int k = 0;
    for (int i = 0; i < trace->n_trace; i++) {
        const struct cp_sim_interval *s = &trace->trace[i];
        if (s->rank != rank) continue;
        struct interval *iv = &(*out)[k++];
        iv->start_ns = (int64_t)(s->start * 1e9);
        iv->end_ns = (int64_t)(s->end * 1e9);
        iv->kind = s->kind == CP_SIM_COMPUTE ? IV_COMPUTE : s->kind == CP_SIM_COPY ? IV_MEMORY : IV_COMM;
        iv->stream = (int16_t)(s->kind == CP_SIM_COMM ? 1 + s->lane : 0);
        iv->cp_step = s->step;
        iv->launch_ns = iv->launch_end_ns = iv->start_ns;
        snprintf(iv->name, sizeof iv->name, "%s",
                 s->kind == CP_SIM_COMPUTE ? "attention (simulated)" : s->kind == CP_SIM_COPY ? "memory pass (simulated)"
                                                                                            : "transfer (simulated)");
        iv->simulated = true;
    }
    return n;
}
