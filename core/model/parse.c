#include "core/model/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* An integer with an optional k/m/g suffix (powers of 1024); false on junk or overflow. */
static bool parse_scaled(const char *text, int64_t *out)
{
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (end == text || errno == ERANGE) return false;
    long long mult = 1;
    if (*end == 'k' || *end == 'K') mult = 1024, end++;
    else if (*end == 'm' || *end == 'M') mult = 1024ll * 1024, end++;
    else if (*end == 'g' || *end == 'G') mult = 1024ll * 1024 * 1024, end++;
    if (*end || v > INT64_MAX / mult || v < INT64_MIN / mult) return false;
    *out = v * mult;
    return true;
}

enum lc_status parse_size(const char *flag, const char *text, int64_t *out, char *err)
{
    if (!text || !*text) return lc_fail(err, LC_ERR_INVALID, "%s needs a value", flag);
    int64_t v;
    if (!parse_scaled(text, &v))
        return lc_fail(err, LC_ERR_INVALID, "%s: '%s' is not a size (e.g. 4096, 4k, 1m)", flag, text);
    if (v < 0) return lc_fail(err, LC_ERR_INVALID, "%s: %s is negative", flag, text);
    *out = v;
    return LC_OK;
}

enum lc_status parse_int(const char *flag, const char *text, int64_t min, int64_t max, int64_t *out, char *err)
{
    if (!text || !*text) return lc_fail(err, LC_ERR_INVALID, "%s needs a value", flag);
    int64_t v;
    if (!parse_scaled(text, &v)) return lc_fail(err, LC_ERR_INVALID, "%s: '%s' is not an integer", flag, text);
    if (v < min || v > max)
        return lc_fail(err, LC_ERR_INVALID, "%s: %s is out of range [%lld, %lld]", flag, text, (long long)min,
                       (long long)max);
    *out = v;
    return LC_OK;
}

enum lc_status parse_double(const char *flag, const char *text, double min, double max, double *out, char *err)
{
    if (!text || !*text) return lc_fail(err, LC_ERR_INVALID, "%s needs a value", flag);
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end || errno == ERANGE || !isfinite(v))
        return lc_fail(err, LC_ERR_INVALID, "%s: '%s' is not a number", flag, text);
    if (v < min || v > max) return lc_fail(err, LC_ERR_INVALID, "%s: %s is out of range [%g, %g]", flag, text, min, max);
    *out = v;
    return LC_OK;
}
