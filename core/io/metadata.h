/* Where an output came from, so a result file or capture read later says what produced it:
 * longca's version and git commit, the host, its CPU and the command line (taken once at start),
 * and each worker's device with its GPU stack (driver, CUDA, NCCL, cuDNN) from its hello. The
 * capture's first line, the JSON Lines header and the JSON document's "meta" all carry it. */
#ifndef LC_METADATA_H
#define LC_METADATA_H

#include <stdio.h>

#include "core/engine/device.h"
#include "core/model/event.h"

/* longca's version and the commit it was built from (CMake's project version, git at configure time). */
const char *metadata_version(void);
const char *metadata_commit(void);

void metadata_init(int argc, char **argv); /* main() calls it first */
/* An EV_SESSION event (rank 0, now) describing this process. */
void metadata_session(struct event *ev);
/* Fills hello's driver, CUDA, NCCL and cuDNN versions for an opened GPU (cuDNN: the one a loaded
 * kernel runs, "" when none does). */
void metadata_fill_stack(struct ev_hello *hello, const struct device_ops *gpu);

/* The header object ({"schema":..,"longca":{..},"host":..,"cpu":..,"command":..,"workers":[..]})
 * from a session and the workers' hellos (ranks[k] said hellos[k]); no newline. */
void metadata_write_json(FILE *f, const struct ev_session *s, const struct ev_hello *hellos, const int *ranks,
                         int n);

#endif
