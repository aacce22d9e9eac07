/* Sub-commands of the longca program. Each returns the process exit status:
 * 0 success, 1 a run or check failed, 2 bad input (one line on stderr). */
#ifndef LC_COMMANDS_H
#define LC_COMMANDS_H

#include "core/model/status.h" /* LC_EXIT_* */

int cmd_run(int argc, char **argv);    /* cli/cmd_run.c: headless sweep */
int cmd_mask(int argc, char **argv);   /* cli/cmd_mask.c: print a mask */
int cmd_list(int argc, char **argv);   /* cli/cmd_list.c: kernels, masks, CP methods */
int cmd_worker(int argc, char **argv); /* cli/cmd_worker.c: a spawned worker rank */
int cmd_view(int argc, char **argv);   /* tui/: replay a capture */
int cmd_export(int argc, char **argv); /* cli/cmd_export.c: capture -> Chrome trace JSON or Perfetto */
int cmd_diff(int argc, char **argv);   /* cli/cmd_diff.c: two results files run by run */
int cmd_model(int argc, char **argv);  /* cli/cmd_model.c: predict CP runs at scale */
int cmd_tui(int argc, char **argv);    /* tui/: the live front end (default) */

#endif
