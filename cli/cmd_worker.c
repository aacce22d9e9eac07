/* `longca worker`: what a plain `longca` spawns (MPI_Comm_spawn) as each worker rank; the
 * loop itself is core/session/worker.c's. Not for use by hand. */
#include "cli/commands.h"
#include "core/session/worker.h"

int cmd_worker(int argc, char **argv)
{
    (void)argc, (void)argv;
    return worker_run_spawned();
}
