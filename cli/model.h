/* `longca model`: the options its parts share (cli/cmd_model.c parses and predicts,
 * cli/cmd_model_calibrate.c calibrates). */
#ifndef LC_CLI_MODEL_H
#define LC_CLI_MODEL_H

#include "cli/commands.h"
#include "core/io/report.h"
#include "core/model/sweep.h"
#include "cp/sim_calibration.h"

#define MODEL_MAX_GPUS 1024

struct model_options {
    struct sweep_axes axes; /* every run flag but --cp and --gpus */
    char methods[SWEEP_MAX_VALUES][LC_NAME_LEN];
    int n_methods;
    int gpus[SWEEP_MAX_VALUES];
    int n_gpus;
    struct cp_topology topo;
    const char *links;       /* --links FILE: link figures measured by CP runs */
    const char *calibration; /* --calibration FILE */
    double kernel_tflops;    /* --kernel-tflops: an assumed rate instead of a calibration */
    bool calibrate;
    const char *from, *from_version, *device; /* --calibrate --from FILE [--from-version V] [--device NAME] */
    enum report_format format;
    const char *output, *capture;
    int trace_ranks;
    bool help;
};

int model_calibrate(const struct model_options *o);

#endif
