/* An example longca kernel plugin: plain attention on the CPU, fp32, forward and backward, any
 * static mask (read as rules), log-sum-exp written so CP methods can merge its blocks.
 *
 * Copy this file to start a plugin. Build it as a shared object against the one header:
 *     cc -std=c11 -O2 -fPIC -shared -I<longca>/kernels example.c -o liblongca_example.so -lm
 * and run it:  longca run --kernel-lib ./liblongca_example.so --kernel example --check
 * It is written to be read, not to be fast: one query row at a time, keys from the rules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "longca_kernel.h"

struct plan {
    struct longca_problem p; /* p.mask is not kept: the caller's is valid during plan only */
    int64_t n_rules;
    struct longca_rule *rules;
};

static int fail(char *message, int status, const char *text)
{
    strncpy(message, text, LONGCA_MESSAGE_LEN - 1);
    message[LONGCA_MESSAGE_LEN - 1] = '\0';
    return status;
}

static int example_plan(const struct longca_problem *p, unsigned directions, void **out, size_t *workspace_bytes,
                        char *message)
{
    if (p->dtype != LONGCA_FP32) return fail(message, LONGCA_ERR_UNSUPPORTED, "fp32 only");
    if (p->mask->n_heads != 1) return fail(message, LONGCA_ERR_UNSUPPORTED, "one mask for all heads only");
    struct plan *pl = calloc(1, sizeof *pl);
    int64_t n = p->mask->rule_offsets[1];
    if (!pl || !(pl->rules = malloc((size_t)(n ? n : 1) * sizeof *pl->rules))) {
        free(pl);
        return fail(message, LONGCA_ERR_OOM, "out of host memory");
    }
    memcpy(pl->rules, p->mask->rules, (size_t)n * sizeof *pl->rules);
    pl->n_rules = n;
    pl->p = *p;
    pl->p.mask = NULL;
    *workspace_bytes = (size_t)p->seqlen_k * sizeof(float); /* one row of probabilities */
    *out = pl;
    return LONGCA_OK;
}

static void example_destroy(void *plan)
{
    struct plan *pl = plan;
    free(pl->rules);
    free(pl);
}

/* Rules are disjoint: each key of row q is visible through at most one of them. */
static bool visible(const struct plan *pl, int64_t q, int64_t k)
{
    for (int64_t i = 0; i < pl->n_rules; i++) {
        const struct longca_rule *r = &pl->rules[i];
        if (q >= r->q_begin && q < r->q_end && k >= r->k_begin && k < r->k_end && k - q >= r->diag_lo &&
            k - q <= r->diag_hi)
            return true;
    }
    return false;
}

/* Element offsets of row `pos`, head `h` in a [b, S, heads, d] tensor. */
static size_t at(const struct longca_problem *p, int b, int64_t pos, int64_t seqlen, int heads, int h)
{
    return (((size_t)b * (size_t)seqlen + (size_t)pos) * (size_t)heads + (size_t)h) * (size_t)p->head_dim;
}

static float dot(const float *a, const float *b, int n)
{
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Row q's scaled scores into score (-inf where masked); returns their maximum. */
static float row_scores(const struct plan *pl, const struct longca_tensors *t, int b, int h, int64_t q, float *score)
{
    const struct longca_problem *p = &pl->p;
    const int hk = h / (p->heads_q / p->heads_kv);
    const float *qrow = (const float *)t->q + at(p, b, q, p->seqlen_q, p->heads_q, h);
    float max = -INFINITY;
    for (int64_t k = 0; k < p->seqlen_k; k++) {
        const float *krow = (const float *)t->k + at(p, b, k, p->seqlen_k, p->heads_kv, hk);
        score[k] = visible(pl, q, k) ? dot(qrow, krow, p->head_dim) * p->softmax_scale : -INFINITY;
        if (score[k] > max) max = score[k];
    }
    return max;
}

/* exp(score - lse) in place: the probabilities (0 where masked, and for a row that sees nothing). */
static void row_probabilities(float *score, int64_t n, float lse)
{
    for (int64_t k = 0; k < n; k++) score[k] = lse == -INFINITY ? 0 : expf(score[k] - lse);
}

static int example_forward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *message)
{
    const struct plan *pl = plan;
    const struct longca_problem *p = &pl->p;
    float *prob = workspace;
    for (int b = 0; b < p->batch; b++)
        for (int h = 0; h < p->heads_q; h++)
            for (int64_t q = 0; q < p->seqlen_q; q++) {
                const int hk = h / (p->heads_q / p->heads_kv);
                float *o = (float *)t->o + at(p, b, q, p->seqlen_q, p->heads_q, h);
                float max = row_scores(pl, t, b, h, q, prob), sum = 0;
                for (int64_t k = 0; max != -INFINITY && k < p->seqlen_k; k++) sum += expf(prob[k] - max);
                float lse = max == -INFINITY ? -INFINITY : max + logf(sum);
                row_probabilities(prob, p->seqlen_k, lse);
                t->lse[((size_t)b * (size_t)p->heads_q + (size_t)h) * (size_t)p->seqlen_q + (size_t)q] = lse;
                memset(o, 0, (size_t)p->head_dim * sizeof *o);
                for (int64_t k = 0; k < p->seqlen_k; k++) {
                    const float *v = (const float *)t->v + at(p, b, k, p->seqlen_k, p->heads_kv, hk);
                    for (int d = 0; prob[k] != 0 && d < p->head_dim; d++) o[d] += prob[k] * v[d];
                }
            }
    return LONGCA_OK;
}

/* P = exp(S - lse) with the lse given (under CP, that of the whole row, not of this block's keys);
 * dS = P (dP - rowsum(dO * O)), dP = dO V^T; dQ = scale dS K, dK = scale dS^T Q, dV = P^T dO. */
static int example_backward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *message)
{
    const struct plan *pl = plan;
    const struct longca_problem *p = &pl->p;
    const int dim = p->head_dim;
    float *prob = workspace;
    size_t kv_bytes = (size_t)p->batch * (size_t)p->seqlen_k * (size_t)p->heads_kv * (size_t)dim * sizeof(float);
    memset(t->dk, 0, kv_bytes); /* the query heads of a group add into one KV head */
    memset(t->dv, 0, kv_bytes);
    for (int b = 0; b < p->batch; b++)
        for (int h = 0; h < p->heads_q; h++)
            for (int64_t q = 0; q < p->seqlen_q; q++) {
                const int hk = h / (p->heads_q / p->heads_kv);
                const size_t qa = at(p, b, q, p->seqlen_q, p->heads_q, h);
                const float *qrow = (const float *)t->q + qa, *d_o = (const float *)t->d_o + qa;
                float *dq = (float *)t->dq + qa;
                float drow = dot(d_o, (const float *)t->o + qa, dim);
                row_scores(pl, t, b, h, q, prob);
                row_probabilities(prob, p->seqlen_k,
                                  t->lse[((size_t)b * (size_t)p->heads_q + (size_t)h) * (size_t)p->seqlen_q + (size_t)q]);
                memset(dq, 0, (size_t)dim * sizeof *dq);
                for (int64_t k = 0; k < p->seqlen_k; k++) {
                    if (prob[k] == 0) continue;
                    const size_t ka = at(p, b, k, p->seqlen_k, p->heads_kv, hk);
                    const float *krow = (const float *)t->k + ka, *vrow = (const float *)t->v + ka;
                    float ds = prob[k] * (dot(d_o, vrow, dim) - drow) * p->softmax_scale;
                    float *dk = (float *)t->dk + ka, *dv = (float *)t->dv + ka;
                    for (int d = 0; d < dim; d++) {
                        dq[d] += ds * krow[d];
                        dk[d] += ds * qrow[d];
                        dv[d] += prob[k] * d_o[d];
                    }
                }
            }
    return LONGCA_OK;
}

static const struct longca_kernel example = {
    .abi_version = LONGCA_KERNEL_ABI_VERSION,
    .name = "example",
    .summary = "example plugin: plain attention on the CPU, one query row at a time (kernels/plugins/example)",
    .version = "1.0",
    .device = LONGCA_DEVICE_CPU,
    .dtypes = LONGCA_DTYPE_BIT(LONGCA_FP32),
    .directions = LONGCA_FWD | LONGCA_BWD,
    .head_dims = NULL,
    .mask_forms = LONGCA_FORM_RULES,
    .writes_lse = true,
    .folds_blocks = false,
    .supports = NULL,
    .plan = example_plan,
    .forward = example_forward,
    .backward = example_backward,
    .destroy = example_destroy,
};

unsigned longca_kernel_abi(void) { return LONGCA_KERNEL_ABI_VERSION; }

const struct longca_kernel *longca_kernel_get(int index) { return index == 0 ? &example : NULL; }
