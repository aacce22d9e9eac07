/* What core needs from the other rooms beyond kernels and CP methods, as one table that main()
 * fills at start (cp/ makes CP groups, profiling/ aligns clocks and records GPU timelines), so
 * core never includes them. A NULL member means this program does without: a CP run then fails
 * with a clear error, clocks stay unaligned (offset 0), GPU runs have no device timeline. */
#ifndef LC_SERVICES_H
#define LC_SERVICES_H

#include <mpi.h>
#include <stdint.h>

#include "core/engine/device.h"
#include "core/model/status.h"
#include "core/model/timeline.h"

struct cp_group; /* cp/: the communicator of the ranks sharing one CP run */

/* This rank's clock against rank 0's, measured once when the session forms. */
struct clock_alignment {
    int64_t offset_ns;   /* add to this rank's clock to read rank 0's */
    int64_t residual_ns; /* what an independent second measurement still found off */
};

struct lc_services {
    /* Collective over comm (exactly the ranks sharing the run); destroy is collective too. */
    enum lc_status (*cp_group_create)(MPI_Comm comm, const struct device_ops *dev, struct cp_group **out,
                                      char *err);
    void (*cp_group_destroy)(struct cp_group *g);
    /* Collective over the session communicator (rank 0 = the front end), before any other
     * traffic on it; each wait for a peer bounded by timeout_s. */
    enum lc_status (*clock_sync)(MPI_Comm comm, double timeout_s, struct clock_alignment *out, char *err);
    /* Fills a timeline with what the GPU executed (started once per process, after the device opened). */
    const struct timeline_recorder *gpu_recorder;
    /* The GPU communication library's version ("2.27.3" for NCCL), for the worker's hello. */
    void (*comm_version)(char *buf, size_t len);
    /* Loads a kernel plugin file and registers its kernels, after start: the TUI's Setup loads
     * one, and a worker loads the file of a run's kernel it lacks. */
    enum lc_status (*load_kernel_library)(const char *path, char *err);
    /* The same for a file the TUI's settings remember: a kernel name already given is passed
     * over and a file no longer there skipped, so a plugin saved from another build folder does
     * not stand in the way of this build's own. */
    enum lc_status (*load_remembered_kernel_library)(const char *path, char *err);
};

void services_register(const struct lc_services *s); /* copied; call before anything runs */
const struct lc_services *services(void);             /* never NULL: all members NULL until registered */

/* Starts the registered GPU recorder on tl. *out is the recorder to give runs, NULL when none is
 * registered or it failed to start. note (LC_ERRMSG_LEN) says what the user should know, empty
 * when nothing: why it did not start (the status returned), or the part it runs without (LC_OK). */
enum lc_status services_start_gpu_recorder(struct timeline *tl, const struct timeline_recorder **out, char *note);

#endif
