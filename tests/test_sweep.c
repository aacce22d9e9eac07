/* Sweep parsing and expansion, run-spec validation, and an in-process fuzz of `longca run`'s
 * argument parser (memory errors show up under the ASan build). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "cli/commands.h"
#include "core/model/rng.h"
#include "core/engine/cp_method.h"
#include "core/model/sweep.h"
#include "cp/cp.h"
#include "kernels/kernels.h"

static void test_sizes(void)
{
    int64_t v[SWEEP_MAX_VALUES];
    int n;
    char err[LC_ERRMSG_LEN];
    CHECK(!sweep_parse_sizes("--seqlen", "1k:16k:x2", v, &n, err) && n == 5 && v[0] == 1024 && v[4] == 16384,
          "geometric range");
    CHECK(!sweep_parse_sizes("--seqlen", "1k:4k:+1k", v, &n, err) && n == 4 && v[3] == 4096, "arithmetic range");
    CHECK(!sweep_parse_sizes("--seqlen", "1k:5000:1k", v, &n, err) && n == 4 && v[3] == 4096, "range stops below hi");
    CHECK(!sweep_parse_sizes("--seqlen", "7,1k,3m", v, &n, err) && n == 3 && v[0] == 7 && v[2] == 3 << 20, "list");
    CHECK(!sweep_parse_sizes("--seqlen", "100,1k:2k:x2", v, &n, err) && n == 3, "list with a range");
    const char *bad[] = {"", "k", "1k:", "4k:1k:x2", "1k:4k:x1", "1k:4k:0", "1:2:3:4", "1k,,2k", "-1", "1q", "0:4:x2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(sweep_parse_sizes("--seqlen", bad[i], v, &n, err) == LC_ERR_INVALID, "'%s' accepted", bad[i]);
    CHECK(sweep_parse_sizes("--seqlen", "1:1000000:+1", v, &n, err) == LC_ERR_INVALID, "too many values accepted");
}

static void test_expand(void)
{
    struct sweep_axes axes;
    sweep_init(&axes);
    bool consumed, takes;
    char err[LC_ERRMSG_LEN];
    CHECK(!sweep_parse_flag(&axes, "--mask", "causal,full", &consumed, &takes, err), "%s", err);
    CHECK(!sweep_parse_flag(&axes, "--seqlen", "1k:4k:x2", &consumed, &takes, err), "%s", err);
    CHECK(!sweep_parse_flag(&axes, "--heads", "8:2,4", &consumed, &takes, err), "%s", err);
    CHECK(!sweep_parse_flag(&axes, "--check", NULL, &consumed, &takes, err) && !takes, "--check takes no value");
    struct run_spec *runs;
    int n;
    CHECK(!sweep_expand(&axes, &runs, &n, err), "%s", err);
    CHECK(n == 2 * 3 * 2, "expanded to %d runs", n);
    CHECK(runs[0].mask == MASK_CAUSAL && runs[0].seqlen == 1024 && runs[0].heads_q == 8 && runs[0].heads_kv == 2,
          "first run");
    CHECK(runs[1].heads_q == 4 && runs[1].heads_kv == 4, "H alone means H:H");
    CHECK(runs[n - 1].mask == MASK_FULL && runs[n - 1].seqlen == 4096 && runs[n - 1].check, "last run");
    CHECK(!strcmp(runs[0].kernel, "cpu") && runs[0].dtype == LC_FP32, "CPU defaults");
    free(runs);

    CHECK(!sweep_parse_flag(&axes, "--heads", "12:5", &consumed, &takes, err), "%s", err);
    CHECK(sweep_expand(&axes, &runs, &n, err) == LC_ERR_INVALID && strstr(err, "query heads 12 not divisible by KV heads 5"),
          "non-divisible heads: %s", err);
    CHECK(!sweep_parse_flag(&axes, "--frob", "1", &consumed, &takes, err) && !consumed, "unknown flag consumed");
}

/* Random argument vectors into the real parser: it must return 0 or 2, never crash. */
static void fuzz_cmd_run(void)
{
    static const char *const vocab[] = {
        "--kernel", "--mask", "--seqlen", "--batch", "--heads", "--head-dim", "--dtype", "--direction", "--cp",
        "--gpus", "--warmup", "--iters", "--window", "--prefix", "--block", "--density", "--format", "--check",
        "--seed", "--doclen", "cpu", "causal", "block_sparse", "1k", "1k:8k:x2", "0", "-1", "8:2", "12:5", "bf16",
        "fwd+bwd", "ring", "0.25", "", ",", ":", "--", "=", "--seqlen=4k", "--heads=", "999999999999999999999",
        "1e400", "--window=2k", "1k:1k:x2"};
    struct rng r;
    rng_seed(&r, 7, 0);
    /* The parser's one-line errors would flood the log: silence both streams meanwhile. */
    fflush(stdout), fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2), devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1), dup2(devnull, 2);
    int bad = 0, last_bad = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char *argv[16];
        int argc = 0;
        argv[argc++] = "run";
        int n = (int)rng_range(&r, 0, 12);
        for (int i = 0; i < n; i++) argv[argc++] = (char *)vocab[rng_range(&r, 0, sizeof vocab / sizeof *vocab - 1)];
        argv[argc++] = "--dry-run";
        argv[argc] = NULL;
        int rc = cmd_run(argc, argv);
        if (rc != LC_EXIT_OK && rc != LC_EXIT_USAGE) bad++, last_bad = rc;
    }
    fflush(stdout), fflush(stderr);
    dup2(saved_out, 1), dup2(saved_err, 2);
    close(devnull), close(saved_out), close(saved_err);
    CHECK(!bad, "cmd_run returned %d (not 0 or 2) in %d of 3000 fuzz cases", last_bad, bad);
}

/* --cp none,ring --gpus 1,4 pairs none with 1 GPU and ring with 4; alone, none at 4 GPUs is
 * still an error. */
static void test_cp_pairing(void)
{
    struct sweep_axes axes;
    sweep_init(&axes);
    bool consumed, takes;
    char err[LC_ERRMSG_LEN];
    CHECK(!sweep_parse_flag(&axes, "--cp", "none,ring", &consumed, &takes, err), "%s", err);
    CHECK(!sweep_parse_flag(&axes, "--gpus", "1,4", &consumed, &takes, err), "%s", err);
    CHECK(!sweep_parse_flag(&axes, "--mask", "causal,full", &consumed, &takes, err), "%s", err);
    struct run_spec *runs;
    int n;
    CHECK(!sweep_expand(&axes, &runs, &n, err), "none,ring x 1,4 refused: %s", err);
    CHECK(n == 4, "expanded to %d runs, not 4", n);
    for (int i = 0; i < n; i++)
        CHECK(!run_spec_is_cp(&runs[i]) == (runs[i].cp_degree == 1), "run %d: %s at %d GPUs", i, runs[i].cp_method,
              runs[i].cp_degree);
    free(runs);
    sweep_init(&axes);
    CHECK(!sweep_parse_flag(&axes, "--cp", "none", &consumed, &takes, err), "%s", err);
    CHECK(!sweep_parse_flag(&axes, "--gpus", "1,4", &consumed, &takes, err), "%s", err);
    CHECK(sweep_expand(&axes, &runs, &n, err) == LC_ERR_INVALID && strstr(err, "--gpus 4 needs"),
          "none at 4 GPUs accepted: %s", err);
}

int main(void)
{
    kernels_register_all(NULL);
    cp_register_all(); /* the local method every run defaults to */
    test_sizes();
    test_expand();
    test_cp_pairing();
    fuzz_cmd_run();
    return check_report("sweep");
}
