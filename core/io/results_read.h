/* Results read back from any file longca writes: a capture (the final result of each queued
 * run), a `--format json` document or a `--format jsonl` stream. `longca diff` and
 * `longca view --compare` match them by run key. */
#ifndef LC_RESULTS_READ_H
#define LC_RESULTS_READ_H

#include <stddef.h>

#include "core/model/event.h"
#include "core/model/spec.h"

struct result_row {
    struct run_spec spec;
    struct run_result result; /* from JSON: status, message, ms_median/p20/p80, tflops, busbw_gbs */
    char key[200];            /* result_key(spec) */
};

struct result_set {
    struct result_row *rows; /* in file order; a key seen twice keeps both */
    int n;
    const char *kind; /* "capture", "json", "jsonl" */
};

/* The file and the reason in err: LC_ERR_INVALID for a file that is not results (or over 1 GiB),
 * LC_ERR_OOM / LC_ERR_IO when memory or the read failed. */
enum lc_status results_read(const char *path, struct result_set *out, char *err);
void results_free(struct result_set *s);
/* What identifies a run across files: kernel, mask and its parameters, S, batch, heads, d,
 * dtype, direction, CP method and degree ("cpu causal S=4096 b=1 h=8:2 d=64 fp32 fwd"). */
void result_key(const struct run_spec *spec, char *buf, size_t len);
/* The first row with this key, or NULL. */
const struct result_row *results_find(const struct result_set *s, const char *key);

#endif
