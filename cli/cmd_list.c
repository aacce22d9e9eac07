/* `longca list [kernels|masks|cp]`: what this build can run, with capabilities. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/engine/cp_method.h"
#include "core/engine/kernel.h"

/* The patterns a kernel's mask forms reach. */
static const char *masks_taken(unsigned forms)
{
    bool rules = forms & LONGCA_FORM_RULES, sparse = forms & (LONGCA_FORM_HEAD_RULES | LONGCA_FORM_BLOCK_MAP);
    if (rules) return sparse ? "all 14" : "12 static";
    if (forms & LONGCA_FORM_DOCUMENTS) return sparse ? "6 documents+2 sparse" : "6 as documents";
    return "2 block-sparse";
}

static void list_kernels(void)
{
    printf("KERNELS  (device, dtypes, directions, head dims, masks, version; LSE: writes the log-sum-exp, "
           "fold: folds CP blocks itself)\n");
    for (int i = 0; i < kernel_count(); i++) {
        const struct longca_kernel *k = kernel_at(i);
        char dtypes[32] = "", dims[64] = "any";
        for (int d = 0; d < LC_DTYPE_COUNT; d++)
            if (k->dtypes & (1u << d)) {
                if (*dtypes) strcat(dtypes, ",");
                strcat(dtypes, dtype_name((enum lc_dtype)d));
            }
        if (k->head_dims) {
            size_t used = 0;
            for (const int *d = k->head_dims; *d && used < sizeof dims - 8; d++)
                used += (size_t)snprintf(dims + used, sizeof dims - used, "%s%d", used ? "," : "", *d);
        }
        const char *device = device_for(k->device) ? (k->device == DEVICE_CUDA ? "cuda" : "cpu")
                                                   : "cuda (no GPU here)";
        printf("  %-10s %-19s %-15s %-8s dims %-8s masks %-20s %-3s %-4s %s\n", k->name, device, dtypes,
               direction_name((enum run_direction)k->directions), dims, masks_taken(k->mask_forms),
               k->writes_lse ? "LSE" : "", k->folds_blocks ? "fold" : "", k->summary);
        const char *origin = kernel_origin(k);
        if (k->version || origin)
            printf("  %-10s version %s%s%s\n", "", k->version ? k->version : "-", origin ? ", plugin " : "",
                   origin ? origin : "");
    }
}

static void list_masks(void)
{
    printf("MASKS  (canonical definitions; S = sequence length, W window, G global tokens, p prefix, B block)\n");
    for (int p = 0; p < MASK_PATTERN_COUNT; p++)
        printf("  %-22s %s\n", mask_pattern_name((enum mask_pattern)p), mask_pattern_summary((enum mask_pattern)p));
}

static void list_cp(void)
{
    printf("CP METHODS\n");
    if (!cp_method_count()) printf("  (none built)\n");
    for (int i = 0; i < cp_method_count(); i++) printf("  %-12s %s\n", cp_method_at(i)->name, cp_method_at(i)->summary);
}

int cmd_list(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    if (argc > 2) {
        fprintf(stderr, "longca list: expected one of kernels, masks, cp\n");
        return LC_EXIT_USAGE;
    }
    if (!strcmp(what, "--help") || !strcmp(what, "-h")) {
        printf("usage: longca list [kernels|masks|cp]\n");
        return LC_EXIT_OK;
    }
    bool all = !strcmp(what, "all");
    if (!all && strcmp(what, "kernels") && strcmp(what, "masks") && strcmp(what, "cp"))
        return lc_usage_error("longca list", "unknown list '%s' (kernels, masks, cp)", what);
    if (all || !strcmp(what, "kernels")) list_kernels();
    if (all) printf("\n");
    if (all || !strcmp(what, "masks")) list_masks();
    if (all) printf("\n");
    if (all || !strcmp(what, "cp")) list_cp();
    return LC_EXIT_OK;
}
