/* Mask parameter flags shared by `longca mask` and `longca run`. */
#include <string.h>

#include "tests/mask_reference.h"
#include "core/mask/doclen.h"
#include "core/mask/mask_params.h"

static void accept(const char *flag, const char *value, struct mask_params *p)
{
    bool consumed = false;
    char err[LC_ERRMSG_LEN] = "";
    CHECK(mask_params_parse_flag(flag, value, p, &consumed, err) == LC_OK && consumed, "%s %s rejected: %s", flag,
          value, err);
}

static void reject(const char *flag, const char *value)
{
    struct mask_params p = {0};
    bool consumed = false;
    char err[LC_ERRMSG_LEN] = "";
    CHECK(mask_params_parse_flag(flag, value, &p, &consumed, err) == LC_ERR_INVALID && err[0] && !strchr(err, '\n'),
          "%s %s accepted", flag, value ? value : "(missing)");
}

int main(void)
{
    struct mask_params p = {0};
    accept("--window", "2k", &p);
    accept("--global", "64", &p);
    accept("--prefix", "100", &p);
    accept("--block", "128", &p);
    accept("--density", "0.25", &p);
    accept("--doclen", "prolong64k", &p);
    accept("--seed", "7", &p);
    CHECK(p.window == 2048 && p.global_tokens == 64 && p.prefix == 100 && p.block == 128 && p.density == 0.25 &&
              p.doclen == DOCLEN_PROLONG64K && p.seed == 7,
          "values not stored");

    bool consumed = true;
    char err[LC_ERRMSG_LEN] = "";
    CHECK(mask_params_parse_flag("--seqlen", "4k", &p, &consumed, err) == LC_OK && !consumed,
          "--seqlen taken as a mask parameter");

    reject("--window", "-3");
    reject("--window", "0");
    reject("--window", "abc");
    reject("--window", NULL);
    reject("--window", "2g");
    reject("--density", "0");
    reject("--density", "1.01");
    reject("--density", "nan");
    reject("--doclen", "wiki");
    reject("--seed", "0");
    reject("--seed", "x");

    char buf[128];
    struct mask_params shown = {.window = 512, .global_tokens = 16, .prefix = 3, .seed = 9};
    mask_params_describe(MASK_GLOBAL_SLIDING_WINDOW, &shown, buf, sizeof buf);
    CHECK(!strcmp(buf, "G=16 W=512"), "describe global_sliding_window: '%s'", buf);
    mask_params_describe(MASK_CAUSAL, &shown, buf, sizeof buf);
    CHECK(!strcmp(buf, ""), "describe causal: '%s'", buf);
    mask_params_describe(MASK_PREFIX_LM_CAUSAL, &shown, buf, 6);
    CHECK(!strcmp(buf, "p=3 s"), "describe truncates: '%s'", buf);
    return check_report("mask parameter flags");
}
