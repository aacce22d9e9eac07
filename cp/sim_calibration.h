/* Kernel time as a function of tile-list work, measured on this machine's kernel
 * (`longca model --calibrate`) and kept in a file per device, kernel and version.
 *
 * The calibration sweep is a few dozen single-device runs (four masks whose tile lists mix full
 * and partial tiles in different shares, three lengths, forward and backward); each run's median
 * time and the tile lists its kernel sees (counted by the same code the model counts CP blocks
 * with) give, per direction, a least-squares fit in relative error of
 *     time = call + heads x (q_tile x query tiles + full_tile x full tiles + partial_tile x partial tiles)
 * with every coefficient kept >= 0, and one more term where the runs call for it: a kernel may
 * run slower per key tile when each query tile streams a long row of keys (cp/sim.h), so each key
 * tile may cost key_tile more per doubling of the row length (key tiles per query tile) past a
 * knot, up to the longest row the runs have and flat beyond it (nothing was measured there). The
 * knot is the row length of one of the runs, the one whose fit is best; the term stays only if it
 * earns its two parameters by the Bayesian information criterion, so runs of one row length, or
 * times the linear model already fits, give the model without it. Times may also come from a
 * results file of `longca run` (any build, any single-device runs of the kernel made with the
 * sweep's mask parameters: the file says what ran and how long), so a calibration can describe an
 * older kernel build; the file is plain text, portable between builds and machines. */
#ifndef LC_CP_SIM_CALIBRATION_H
#define LC_CP_SIM_CALIBRATION_H

#include "core/model/spec.h"
#include "cp/sim.h"

struct cp_calibration {
    char device[96], kernel[LC_NAME_LEN], version[96];
    enum lc_dtype dtype;
    int head_dim, tile, samples;
    struct cp_cost cost;
    double fwd_err, bwd_err; /* largest relative error of the fit over its samples */
};

/* A run of the sweep's kind: the kernel, dtype and head dim, heads 8:8, 1 warm-up and 3 timed
 * reps, and the sweep's mask parameters (a window of half the shortest length, ProLong-64K
 * documents drawn with seed 42); the caller sets the mask, S and the direction. */
void cp_calibration_spec_init(struct run_spec *s, const char *kernel, enum lc_dtype dtype, int head_dim);
/* The calibration sweep for a kernel, dtype and head dim (malloc'd). */
enum lc_status cp_calibration_specs(const char *kernel, enum lc_dtype dtype, int head_dim, struct run_spec **specs,
                                    int *n, char *err);
/* Fits from n runs and their median times (seconds; runs with time <= 0 are left out). */
enum lc_status cp_calibration_fit(const struct run_spec *specs, const double *seconds, int n, struct cp_calibration *out,
                                  char *err);

/* Plain text, written whole (temp file, fsync, rename); reading bounds every figure. Format 2
 * adds a line per direction for the row-length term (cost, knot, longest row); a file of format 1
 * reads as having none. */
enum lc_status cp_calibration_write(const char *path, const struct cp_calibration *c, char *err);
enum lc_status cp_calibration_read(const char *path, struct cp_calibration *c, char *err);

/* "<state folder>/calibration-<device>-<kernel>-<version>.txt", the folder made private. */
enum lc_status cp_calibration_path(const char *device, const char *kernel, const char *version, char *path,
                                   size_t len, char *err);
/* The most recent calibration of this kernel, dtype and head dim in the state folder, read into
 * c with its path; LC_ERR_UNSUPPORTED when there is none. */
enum lc_status cp_calibration_find(const char *kernel, enum lc_dtype dtype, int head_dim, struct cp_calibration *c,
                                   char *path, size_t len, char *err);

#endif
