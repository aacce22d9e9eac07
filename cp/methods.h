/* The CP methods' tables and the algorithms behind them (registered by cp/cp.c). */
#ifndef LC_CP_METHODS_H
#define LC_CP_METHODS_H

#include "core/engine/cp_method.h"
#include "cp/driver.h"

/* Ulysses all-to-all groups of `ulysses` consecutive ranks around (double) rings across them:
 * ulysses (rings of one), ring (no all-to-all, one window), double_ring, usp (cp/hybrid.c). */
extern const struct cp_algo cp_hybrid_algo;
/* Each rank's work and bytes of a run of cp_hybrid_algo with these degrees (core/engine/cp_method.h). */
enum lc_status cp_hybrid_predict(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                 const struct cp_degrees *degrees, double *work, double *bytes, char *err);
/* Every rank's schedule of such a run (core/engine/cp_schedule.h). */
enum lc_status cp_hybrid_schedule(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                  const struct cp_degrees *degrees, struct cp_schedule *out, char *err);
/* Llama-3 style all-gather of K, V and reduce-scatter of dK, dV (cp/method_allgather.c). */
extern const struct cp_algo cp_allgather_algo;

/* Checks every method shares: a static mask, and the sequence divisible by `unit` tokens. */
enum lc_status cp_validate_common(const struct run_spec *spec, int64_t unit, const char *why_unit, char *err);
/* Heads split over `degree` all-to-all ranks: query heads divisible, KV heads divisible or
 * replicated (degree a multiple of them). */
enum lc_status cp_validate_heads(const struct run_spec *spec, int degree, const char *what, char *err);

extern const struct cp_method_ops cp_method_local, cp_method_allgather, cp_method_ring, cp_method_ulysses,
    cp_method_usp, cp_method_double_ring, cp_method_balanced;

#endif
