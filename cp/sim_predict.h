/* One predicted CP run: what `longca run` would report for it (work imbalance and bytes per
 * rank from the method's own prediction, exactly as the run counts them) and the simulated times
 * of its schedule (cp/sim.h): the slowest rank's step time, TFLOP/s per GPU of the slowest and
 * of the mean rank, attention and exposed communication of the slowest rank. */
#ifndef LC_CP_SIM_PREDICT_H
#define LC_CP_SIM_PREDICT_H

#include "core/model/event.h"
#include "core/model/spec.h"
#include "cp/sim.h"

struct cp_model_row {
    struct run_spec spec;
    enum lc_status status;
    char message[LC_ERRMSG_LEN];
    double flops;                  /* the whole run */
    double ms, ms_mean;            /* slowest rank, mean over ranks */
    double tflops, tflops_mean;    /* per GPU */
    double imbalance;              /* max / mean work */
    double comm_bytes;             /* largest rank's, per rep, as the run records them */
    double compute_ms, exposed_ms; /* of the slowest rank */
    double wall_s;                 /* time the prediction took */
};

/* trace: when non-NULL, the simulated intervals of the first trace_ranks ranks are kept there
 * (free with cp_sim_result_free). A spec the method refuses gives a row with that status. */
void cp_model_predict(const struct run_spec *spec, const struct cp_topology *topo, const struct cp_cost *cost,
                      int trace_ranks, struct cp_sim_result *trace, struct cp_model_row *out);

/* The simulated intervals of one rank as timeline intervals, marked simulated (start at 0 ns). */
int cp_model_intervals(const struct cp_sim_result *trace, int rank, struct interval **out);

#endif
