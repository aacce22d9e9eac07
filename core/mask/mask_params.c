/* Mask parameter flags, parsed the same way wherever a mask is named. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/mask/mask.h"
#include "core/mask/doclen.h"
#include "core/mask/mask_params.h"
#include "core/model/parse.h"

enum lc_status mask_params_parse_flag(const char *flag, const char *value, struct mask_params *p, bool *consumed,
                                      char *err)
{
    *consumed = true;
    int64_t *size = !strcmp(flag, "--window")   ? &p->window
                    : !strcmp(flag, "--global") ? &p->global_tokens
                    : !strcmp(flag, "--prefix") ? &p->prefix
                    : !strcmp(flag, "--block")  ? &p->block
                                                : NULL;
    if (size) {
        int64_t v;
        enum lc_status st = parse_size(flag, value, &v, err);
        if (st != LC_OK) return st;
        if (v == 0) /* 0 would silently mean "default" */
            return lc_fail(err, LC_ERR_INVALID, "%s must be at least 1", flag);
        if (v > LC_MAX_SEQLEN) return lc_fail(err, LC_ERR_INVALID, "%s %s is larger than any sequence", flag, value);
        *size = v;
        return LC_OK;
    }
    if (!strcmp(flag, "--density")) {
        double d;
        enum lc_status st = parse_double(flag, value, -1e300, 1e300, &d, err);
        if (st != LC_OK) return st;
        if (!(d > 0 && d <= 1)) return lc_fail(err, LC_ERR_INVALID, "--density %s must be in (0, 1] (the kept fraction)", value);
        p->density = d;
        return LC_OK;
    }
    if (!strcmp(flag, "--doclen")) {
        if (!value || doclen_source_parse(value, &p->doclen))
            return lc_fail(err, LC_ERR_INVALID, "--doclen takes auto, pile, prolong64k, prolong512k or long");
        return LC_OK;
    }
    if (!strcmp(flag, "--seed")) {
        int64_t v;
        enum lc_status st = parse_int(flag, value, 1, INT64_MAX, &v, err);
        if (st != LC_OK) return st;
        p->seed = (uint64_t)v;
        return LC_OK;
    }
    *consumed = false;
    return LC_OK;
}

/* Appends " text" (no space first) to buf, never past len. */
static void append(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t len, const char *fmt, ...)
{
    size_t at = strlen(buf);
    if (at && at + 1 < len) buf[at++] = ' ', buf[at] = '\0';
    va_list ap;
    va_start(ap, fmt);
    if (at < len) vsnprintf(buf + at, len - at, fmt, ap);
    va_end(ap);
}

void mask_params_describe(enum mask_pattern pattern, const struct mask_params *p, char *buf, size_t len)
{
    unsigned uses = mask_pattern_params(pattern);
    if (!len) return;
    buf[0] = '\0';
    if ((uses & MASK_USES_GLOBAL) && p->global_tokens) append(buf, len, "G=%lld", (long long)p->global_tokens);
    if ((uses & MASK_USES_WINDOW) && p->window) append(buf, len, "W=%lld", (long long)p->window);
    if ((uses & MASK_USES_PREFIX) && p->prefix) append(buf, len, "p=%lld", (long long)p->prefix);
    if ((uses & MASK_USES_BLOCK) && p->block)
        append(buf, len, "%s=%lld", pattern == MASK_VARIABLE_BLOCK_SPARSE ? "mean" : "B", (long long)p->block);
    if ((uses & MASK_USES_DENSITY) && p->density) append(buf, len, "density=%g", p->density);
    if ((uses & MASK_USES_DOCLEN) && p->doclen) append(buf, len, "doclen=%s", doclen_source_name(p->doclen));
    if ((uses & MASK_USES_SEED) && p->seed) append(buf, len, "seed=%llu", (unsigned long long)p->seed);
}

enum lc_status mask_params_check(enum mask_pattern pattern, const struct mask_params *p, int64_t seqlen,
                                 char *err)
{
    if ((unsigned)pattern >= MASK_PATTERN_COUNT) return lc_fail(err, LC_ERR_INVALID, "unknown mask pattern");
    if (seqlen <= 0) return lc_fail(err, LC_ERR_INVALID, "sequence length must be positive");
    if (p->window < 0) return lc_fail(err, LC_ERR_INVALID, "--window %lld is negative", (long long)p->window);
    if (p->global_tokens < 0)
        return lc_fail(err, LC_ERR_INVALID, "--global %lld is negative", (long long)p->global_tokens);
    if (p->prefix < 0) return lc_fail(err, LC_ERR_INVALID, "--prefix %lld is negative", (long long)p->prefix);
    if (p->prefix > seqlen)
        return lc_fail(err, LC_ERR_INVALID, "--prefix %lld exceeds the sequence length %lld", (long long)p->prefix,
                       (long long)seqlen);
    if (p->block < 0) return lc_fail(err, LC_ERR_INVALID, "--block %lld is negative", (long long)p->block);
    if (!(p->density >= 0 && p->density <= 1)) /* also catches NaN */
        return lc_fail(err, LC_ERR_INVALID, "--density %g must be in (0, 1] (the kept fraction of blocks)", p->density);
    if ((unsigned)p->doclen > DOCLEN_LONG) return lc_fail(err, LC_ERR_INVALID, "unknown document length source");
    if (pattern == MASK_BLOCK_SPARSE && p->block && p->block != 64 && p->block != 128)
        return lc_fail(err, LC_ERR_INVALID, "block_sparse needs --block 64 or 128 (got %lld)", (long long)p->block);
    if (pattern == MASK_VARIABLE_BLOCK_SPARSE && p->block && p->block != 128 && p->block != 256 &&
        p->block != 512 && p->block != 1024)
        return lc_fail(err, LC_ERR_INVALID, "variable_block_sparse needs --block (mean size) 128, 256, 512 or 1024 (got %lld)",
                       (long long)p->block);
    if (p->window > LC_MAX_SEQLEN || p->global_tokens > LC_MAX_SEQLEN || p->block > LC_MAX_SEQLEN)
        return lc_fail(err, LC_ERR_INVALID, "mask parameter larger than %lld tokens", (long long)LC_MAX_SEQLEN);
    return LC_OK;
}
