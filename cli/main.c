/* longca: wires the rooms together (kernels, CP methods, CP groups, clock alignment and the GPU
 * recorder register into core's tables) and dispatches to a sub-command. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/engine/services.h"
#include "core/io/metadata.h"
#include "cp/comm.h"
#include "cp/cp.h"
#include "kernels/kernels.h"
#include "kernels/plugins.h"
#include "profiling/clock_sync.h"
#ifdef LONGCA_HAVE_CUDA
#include "profiling/cuda/cupti_trace.h"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: longca [COMMAND] [OPTIONS]\n"
            "  (no command)   the live terminal profiler (ncurses front end on MPI rank 0)\n"
            "  run            execute a sweep headless and print a table (csv/json with --format)\n"
            "  mask NAME      print a mask's slices, area, density and picture\n"
            "  list           kernels, masks and CP methods with their capabilities\n"
            "  view FILE      open a saved capture in the TUI (no MPI, no GPU)\n"
            "  export FILE    write a capture as Chrome trace JSON or Perfetto protobuf (--format)\n"
            "  diff A B       compare two results files (captures, json, jsonl) run by run\n"
            "  model          predict CP runs at 2..1024 GPUs (calibrated simulator; --calibrate)\n"
            "Each command takes --help; longca --version names the build. Anywhere on the line:\n"
            "  --kernel-lib PATH   load kernels from a plugin (repeatable; kernels/longca_kernel.h);\n"
            "                      also every liblongca_*.so in LONGCA_KERNEL_PATH's folders and the\n"
            "                      installed plugin folder\n");
}

#ifndef LONGCA_HAVE_TUI
/* Built without ncurses headers (e.g. on a GPU node): the headless commands still work. */
static int no_tui(void)
{
    fprintf(stderr, "longca: this build has no TUI (ncurses headers were missing); use longca run\n");
    return LC_EXIT_USAGE;
}
int cmd_tui(int argc, char **argv) { return no_tui(); }
int cmd_view(int argc, char **argv) { return no_tui(); }
#endif

static const struct lc_services wiring = {
    .cp_group_create = cp_group_create,
    .cp_group_destroy = cp_group_destroy,
    .clock_sync = prof_clock_align,
#ifdef LONGCA_HAVE_CUDA
    .gpu_recorder = &prof_cupti_recorder,
#endif
#ifdef LONGCA_HAVE_NCCL
    .comm_version = comm_nccl_version,
#endif
    .load_kernel_library = plugins_load,
    .load_remembered_kernel_library = plugins_load_remembered,
};

int main(int argc, char **argv)
{
    metadata_init(argc, argv); /* the command line as given, --kernel-lib included */
    char err[LC_ERRMSG_LEN];
    /* Kernel libraries load in every process (front end, workers under mpirun, spawned workers
     * get the same --kernel-lib flags), before any command reads the registry. */
    if (kernels_register_all(err) || plugins_load_from_args(&argc, argv, err)) {
        fprintf(stderr, "longca: %s\n", err);
        return LC_EXIT_USAGE;
    }
    cp_register_all();
    services_register(&wiring);

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && !strcmp(argv[1], "--version")) {
            printf("longca %s (commit %s)\n", metadata_version(), metadata_commit());
            return LC_EXIT_OK;
        }
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            usage(stdout);
            return LC_EXIT_OK;
        }
        return cmd_tui(argc, argv);
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "mask")) return cmd_mask(argc - 1, argv + 1);
    if (!strcmp(cmd, "list")) return cmd_list(argc - 1, argv + 1);
    if (!strcmp(cmd, "view")) return cmd_view(argc - 1, argv + 1);
    if (!strcmp(cmd, "export")) return cmd_export(argc - 1, argv + 1);
    if (!strcmp(cmd, "diff")) return cmd_diff(argc - 1, argv + 1);
    if (!strcmp(cmd, "model")) return cmd_model(argc - 1, argv + 1);
    if (!strcmp(cmd, "worker")) return cmd_worker(argc - 1, argv + 1);
    if (!strcmp(cmd, "help")) {
        usage(stdout);
        return LC_EXIT_OK;
    }
    return lc_usage_error("longca", "unknown command '%s' (try: run, mask, list, view, export, diff, model)", cmd);
}
