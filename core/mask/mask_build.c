/* mask_build: resolve parameters (defaults, seeded draws), lay out documents, compile. */
#include <stdlib.h>
#include <string.h>

#include "core/engine/host_memory.h"
#include "core/mask/mask_build.h"
#include "core/model/rng.h"
#include "core/mask/doclen.h"
#include "core/mask/mask_params.h"

/* Independent random streams of one seed (stream 1 is doclen_sample's). */
enum { STREAM_PREFIX = 2, STREAM_VIDEO_DOCS = 3 };

static void resolve_defaults(enum mask_pattern pattern, struct mask_params *p)
{
    if (!p->window) p->window = 1024;
    if (!p->global_tokens) p->global_tokens = 1024;
    if (!p->block) p->block = pattern == MASK_BLOCK_SPARSE ? 64 : pattern == MASK_VARIABLE_BLOCK_SPARSE ? 256 : 1024;
    if (p->density == 0) p->density = 0.5;
    if (!p->seed) p->seed = 42;
}

/* Magi-1 style video: each document is 1 to 8 blocks of B tokens, the last one cut at S. */
static enum lc_status video_doc_lengths(int64_t seqlen, int64_t block, uint64_t seed, int64_t **lens, int *n,
                                        char *err)
{
    int cap = (int)((seqlen + block - 1) / block) + 1;
    int64_t *v = malloc((size_t)cap * sizeof *v);
    if (!v) return lc_fail(err, LC_ERR_OOM, "out of host memory laying out documents");
    struct rng r;
    rng_seed(&r, seed, STREAM_VIDEO_DOCS);
    int count = 0;
    for (int64_t left = seqlen; left > 0; count++) {
        int64_t len = rng_range(&r, 1, 8) * block;
        v[count] = len < left ? len : left;
        left -= v[count];
    }
    *lens = v;
    *n = count;
    return LC_OK;
}

static enum lc_status set_documents(struct mask *m, const int64_t *given, int n_given, char *err)
{
    int64_t *lens = NULL;
    int n = 0;
    if (given) {
        int64_t sum = 0;
        for (int i = 0; i < n_given; i++) {
            if (given[i] <= 0) return lc_fail(err, LC_ERR_INVALID, "document %d has length %lld", i, (long long)given[i]);
            sum += given[i];
        }
        if (n_given <= 0 || sum != m->seqlen)
            return lc_fail(err, LC_ERR_INVALID, "document lengths sum to %lld, not the sequence length %lld",
                           (long long)sum, (long long)m->seqlen);
        n = n_given;
    } else {
        enum lc_status st =
            m->pattern == MASK_BLOCK_CAUSAL_DOCUMENT
                ? video_doc_lengths(m->seqlen, m->params.block, m->params.seed, &lens, &n, err)
                : doclen_sample(m->params.doclen, m->seqlen, m->params.seed, &lens, &n, err);
        if (st != LC_OK) return st;
        given = lens;
    }
    m->doc_bounds = malloc(((size_t)n + 1) * sizeof *m->doc_bounds);
    if (!m->doc_bounds) {
        free(lens);
        return lc_fail(err, LC_ERR_OOM, "out of host memory laying out documents");
    }
    m->doc_bounds[0] = 0;
    for (int i = 0; i < n; i++) m->doc_bounds[i + 1] = m->doc_bounds[i] + given[i];
    m->n_docs = n;
    free(lens);
    return LC_OK;
}

/* LongCA draws the prefix uniformly from [1, S]; per document, from [1, shortest doc]. */
static void draw_prefix(struct mask *m)
{
    int64_t most = m->seqlen;
    if (m->pattern == MASK_PREFIX_LM_DOCUMENT)
        for (int i = 0; i < m->n_docs; i++)
            if (m->doc_bounds[i + 1] - m->doc_bounds[i] < most) most = m->doc_bounds[i + 1] - m->doc_bounds[i];
    struct rng r;
    rng_seed(&r, m->params.seed, STREAM_PREFIX);
    m->params.prefix = rng_range(&r, 1, most);
}

enum lc_status mask_build_with_docs(enum mask_pattern pattern, const struct mask_params *params,
                                    int64_t seqlen, int heads_kv, const int64_t *doc_lens, int n_docs,
                                    struct mask *out, char *err)
{
    memset(out, 0, sizeof *out);
    static const struct mask_params no_params;
    if (!params) params = &no_params;
    enum lc_status st = mask_params_check(pattern, params, seqlen, err);
    if (st != LC_OK) return st;
    if (seqlen > LC_MAX_SEQLEN)
        return lc_fail(err, LC_ERR_INVALID, "sequence length %lld is above the limit %lld", (long long)seqlen,
                       (long long)LC_MAX_SEQLEN);
    if (mask_pattern_is_block_sparse(pattern) && heads_kv < 1)
        return lc_fail(err, LC_ERR_INVALID, "%s needs at least one KV head", mask_pattern_name(pattern));

    out->pattern = pattern;
    out->seqlen = seqlen;
    out->params = *params;
    resolve_defaults(pattern, &out->params);
    out->n_heads = 1;

    /* Video documents take a length and a slice per block: what cannot be held is refused
     * before any of it is allocated (S = 1G at B = 1 would take about 50 GiB). */
    if (pattern == MASK_BLOCK_CAUSAL_DOCUMENT && !doc_lens) {
        double blocks = (double)((seqlen + out->params.block - 1) / out->params.block);
        double bytes = blocks * (2 * sizeof(int64_t) + sizeof(struct mask_slice)), limit = (double)host_memory_share();
        if (limit > 0 && bytes > limit)
            st = lc_fail(err, LC_ERR_OOM, "%s: %.0f blocks of %lld tokens take about %.1f GiB to lay out, more than "
                         "the %.1f GiB this process may use (a larger --block takes less)", mask_pattern_name(pattern),
                         blocks, (long long)out->params.block, bytes / (1u << 30), limit / (1u << 30));
    }
    if (st == LC_OK && mask_pattern_uses_documents(pattern)) st = set_documents(out, doc_lens, n_docs, err);
    if (st == LC_OK && (mask_pattern_params(pattern) & MASK_USES_PREFIX) && !out->params.prefix) draw_prefix(out);
    if (st == LC_OK)
        st = mask_pattern_is_block_sparse(pattern) ? mask_compile_sparse(out, heads_kv, err)
                                                  : mask_compile_static(out, err);
    if (st != LC_OK) mask_free(out);
    return st;
}

enum lc_status mask_build(enum mask_pattern pattern, const struct mask_params *params, int64_t seqlen,
                          int heads_kv, struct mask *out, char *err)
{
    return mask_build_with_docs(pattern, params, seqlen, heads_kv, NULL, 0, out, err);
}
