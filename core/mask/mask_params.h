/* Mask parameters as flags and words: the flags shared by `longca mask`, `longca run` and the TUI
 * (--window --global --prefix --block (sizes: 1024, 1k), --density (0, 1], --doclen NAME,
 * --seed N), their check against a pattern and a length, and their description. */
#ifndef LC_MASK_PARAMS_H
#define LC_MASK_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mask/mask.h"
#include "core/model/status.h"

/* Parses one flag into p; *consumed = false (and LC_OK) when flag is not a mask parameter;
 * value NULL means it was missing. */
enum lc_status mask_params_parse_flag(const char *flag, const char *value, struct mask_params *p, bool *consumed,
                                      char *err);
/* The parameters a pattern uses, resolved or as given ("W=1024 G=1024", "p=517", "" for none). */
void mask_params_describe(enum mask_pattern pattern, const struct mask_params *p, char *buf, size_t len);
/* Checks parameters against a pattern and sequence length without building anything
 * (one-line reason on failure: "--window -3 is negative", "--prefix 9000 exceeds seqlen 4096"). */
enum lc_status mask_params_check(enum mask_pattern pattern, const struct mask_params *params, int64_t seqlen,
                                 char *err);

#endif
