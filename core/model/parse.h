/* Strict parsing of command-line values: the whole string must be consumed. */
#ifndef LC_PARSE_H
#define LC_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model/status.h"

/* "4096", "4k", "4K", "1m" (k = 1024, m = 1024^2); rejects junk, overflow, negatives. */
enum lc_status parse_size(const char *flag, const char *text, int64_t *out, char *err);
enum lc_status parse_int(const char *flag, const char *text, int64_t min, int64_t max, int64_t *out, char *err);
enum lc_status parse_double(const char *flag, const char *text, double min, double max, double *out, char *err);

#endif
