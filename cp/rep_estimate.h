/* A run's time per rep, estimated before its reps start, so that one predicted to take over a
 * minute says so first (EV_ESTIMATE): the rank's FLOPs from the mask's exact area (fwd
 * 4*area*h_q*d, bwd 2.5x) over a rate for the kernel on this device. The rate is a `longca model`
 * calibration of a GPU kernel where one exists (its full tiles' rate), otherwise measured here
 * once per process, kernel and shape: the kernel's forward on a full mask of a few thousand
 * tokens with the run's heads, head dim and dtype, lengthened until a rep takes 0.1 s. Runs that
 * would take seconds even at a rate no device of their kind reaches measure nothing. */
#ifndef LC_CP_REP_ESTIMATE_H
#define LC_CP_REP_ESTIMATE_H

#include "cp/driver.h"

#define CP_LONG_REP_S 60.0

/* On every rank of the run after its mask is built; rank 0 of the group emits EV_ESTIMATE when
 * the estimate is over CP_LONG_REP_S. A rate that cannot be had (the probe refused) says nothing. */
void cp_announce_long_rep(const struct cp_exec *run);

#endif
