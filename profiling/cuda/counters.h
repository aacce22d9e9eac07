/* Hardware counters through CUPTI, with ncu's metric names so `ncu --metrics` reproduces them:
 *   - the range profiler (user ranges, user replay) over profiling iterations kept apart from
 *     the timed ones: SM throughput %, DRAM throughput %, tensor pipe %, achieved occupancy, SM
 *     active %, duration; the set costs 8 passes with SM throughput and falls back to the
 *     single-pass set without it where the device refuses (range profiling never overlaps PM
 *     sampling: HARDWARE_BUSY, so sampling pauses meanwhile);
 *   - PM sampling every millisecond during the run, decoded by a helper thread every 50 ms,
 *     for live sparklines: DRAM %, tensor pipe %, occupancy, SM active % (and NVLink bytes where
 *     the device accepts them). The first sample (it starts before Start) and zero-length stale
 *     samples are dropped; a sample that does not start where the previous ended marks lost data
 *     with a NaN sample per metric at the gap, so no front end draws across it.
 * Refusals (privileges, counters held by DCGM or another profiler, unsupported device) come back
 * as LC_ERR_UNSUPPORTED with the CUPTI call and its error string; nothing else stops. */
#ifndef LC_PROF_COUNTERS_H
#define LC_PROF_COUNTERS_H

#include <stdbool.h>

#include "core/model/event.h"

#define PROF_PM_INTERVAL_NS 1000000

/* Range profiler on the current CUDA context (see timeline_recorder.counters_begin / _end). */
enum lc_status prof_range_begin(const char *range_name, char *err);
enum lc_status prof_range_end(bool *replay, char *err);

/* PM sampling on the current device. */
enum lc_status prof_pm_start(char *err);
void prof_pm_poll(void); /* decode what the hardware holds now */
void prof_pm_stop(void);

/* Samples gathered since the last call, in CUPTI's clock (caller frees *out). */
int prof_counters_take(struct counter_sample **out);

#endif
