/* The exact area of all 14 patterns against a brute-force count over a dense mask built from
 * the canonical definitions; elementwise truth of slices and views; parameter rejection. */
#include <math.h>
#include <string.h>

#include "tests/mask_reference.h"
#include "core/mask/mask_view.h"

static const int64_t sizes[] = {1, 2, 7, 97, 257, 1000};
#define N_SIZES (int)(sizeof sizes / sizeof sizes[0])
#define ELEMENTWISE_MAX 257 /* slice-by-slice truth for every pair up to this size */

/* Parameter sets: defaults, tiny, small/maximal, larger than S. */
static struct mask_params param_set(int i, int64_t S)
{
    struct mask_params p = {0};
    switch (i) {
    case 1: p = (struct mask_params){.window = 1, .global_tokens = 1, .prefix = 1, .block = 1, .seed = 7}; break;
    case 2: p = (struct mask_params){.window = 5, .global_tokens = 3, .prefix = S, .block = 3, .seed = 1}; break;
    case 3: p = (struct mask_params){.window = 5000, .global_tokens = 2000, .block = 64, .seed = 12345}; break;
    default: break;
    }
    return p;
}

/* Document layouts: sampled (NULL), all of length 1, or a mix with short ones. */
static int64_t *doc_layout(int which, int64_t S, int *n)
{
    if (which == 0) return NULL;
    static const int64_t mix[] = {1, 4, 1, 9, 2, 30, 1};
    int64_t *lens = malloc((size_t)S * sizeof *lens);
    int count = 0;
    for (int64_t left = S; left > 0; count++) {
        int64_t len = which == 1 ? 1 : mix[count % 7];
        lens[count] = len < left ? len : left;
        left -= lens[count];
    }
    *n = count;
    return lens;
}

static void check_slices(const struct mask *m, const char *what)
{
    for (int i = 0; i < m->n_slices; i++) {
        const struct mask_slice *s = &m->slices[i];
        CHECK(s->q_begin >= 0 && s->q_begin < s->q_end && s->q_end <= m->seqlen && s->k_begin >= 0 &&
                  s->k_begin < s->k_end && s->k_end <= m->seqlen && (unsigned)s->type <= SLICE_BICAUSAL,
              "%s: slice %d [%lld,%lld)x[%lld,%lld) out of bounds", what, i, (long long)s->q_begin,
              (long long)s->q_end, (long long)s->k_begin, (long long)s->k_end);
    }
}

static void check_static(enum mask_pattern pat, int64_t S, int set, int docs)
{
    struct mask_params p = param_set(set, S);
    int n_docs = 0;
    int64_t *lens = doc_layout(docs, S, &n_docs);
    struct mask m;
    char err[LC_ERRMSG_LEN] = "";
    enum lc_status st = mask_build_with_docs(pat, &p, S, 1, lens, n_docs, &m, err);
    char what[160];
    snprintf(what, sizeof what, "%s S=%lld set=%d docs=%d", mask_pattern_name(pat), (long long)S, set, docs);
    CHECK(st == LC_OK, "%s: build failed: %s", what, err);
    free(lens);
    if (st != LC_OK) return;
    check_slices(&m, what);

    int *doc = ref_doc_index(&m);
    int64_t dense = 0;
    int mismatches = 0;
    struct longca_mask v;
    CHECK(mask_view_build(&m, &v, err) == LC_OK, "%s: view: %s", what, err);
    for (int64_t q = 0; q < S; q++)
        for (int64_t k = 0; k < S; k++) {
            bool want = ref_static_visible(&m, doc, q, k);
            dense += want;
            if (S <= ELEMENTWISE_MAX && mismatches < 3 &&
                (mask_visible(&m, 0, q, k) != want || mask_view_visible(&v, 0, q, k) != want)) {
                mismatches++;
                CHECK(false, "%s: (%lld, %lld) should be %s", what, (long long)q, (long long)k,
                      want ? "visible" : "hidden");
            }
        }
    CHECK(mask_area_head(&m, 0) == dense, "%s: area %lld, dense count %lld", what, (long long)mask_area_head(&m, 0),
          (long long)dense);
    CHECK(mask_view_area(&v, 0) == dense, "%s: view area %lld, dense %lld", what, (long long)mask_view_area(&v, 0),
          (long long)dense);
    CHECK(mask_area_sum(&m) == dense, "%s: area sum", what);
    CHECK(fabs(mask_density(&m) - (double)dense / ((double)S * S)) < 1e-12, "%s: density", what);
    CHECK(mask_area_for_heads(&m, 64, 8) == 64.0 * dense, "%s: area for 64 heads", what);
    if (mask_pattern_params(pat) & MASK_USES_PREFIX)
        CHECK(m.params.prefix >= 1 && m.params.prefix <= S, "%s: prefix %lld", what, (long long)m.params.prefix);
    free(doc);
    mask_view_free(&v);
    mask_free(&m);
}

static void check_sparse(enum mask_pattern pat, int64_t S, int64_t block, int heads, double density, uint64_t seed)
{
    struct mask_params p = {.block = block, .density = density, .seed = seed};
    struct mask m;
    char err[LC_ERRMSG_LEN] = "";
    char what[160];
    snprintf(what, sizeof what, "%s S=%lld B=%lld heads=%d density=%g seed=%llu", mask_pattern_name(pat),
             (long long)S, (long long)block, heads, density, (unsigned long long)seed);
    enum lc_status st = mask_build(pat, &p, S, heads, &m, err);
    CHECK(st == LC_OK, "%s: build failed: %s", what, err);
    if (st != LC_OK) return;
    CHECK(m.n_heads == heads, "%s: %d heads", what, m.n_heads);

    /* Block bounds: fixed B, or variable blocks of at least 128 covering [0, S). */
    for (int axis = 0; axis < 2; axis++) {
        const int64_t *b = axis ? m.kblock_bounds : m.qblock_bounds;
        int n = axis ? m.n_kblocks : m.n_qblocks;
        CHECK(n >= 1 && b[0] == 0 && b[n] == S, "%s: bounds do not cover [0, S)", what);
        for (int i = 0; i < n; i++) {
            if (pat == MASK_BLOCK_SPARSE)
                CHECK(b[i] == i * m.params.block && b[i + 1] == (i == n - 1 ? S : (i + 1) * m.params.block),
                      "%s: block %d bounds", what, i);
            else
                CHECK(b[i + 1] - b[i] >= (S < 128 ? S : 128), "%s: block %d has %lld tokens", what, i,
                      (long long)(b[i + 1] - b[i]));
        }
    }
    int *qblock = malloc((size_t)S * sizeof *qblock), *kblock = malloc((size_t)S * sizeof *kblock);
    for (int i = 0; i < m.n_qblocks; i++)
        for (int64_t x = m.qblock_bounds[i]; x < m.qblock_bounds[i + 1]; x++) qblock[x] = i;
    for (int i = 0; i < m.n_kblocks; i++)
        for (int64_t x = m.kblock_bounds[i]; x < m.kblock_bounds[i + 1]; x++) kblock[x] = i;

    bool *keep = ref_block_keep(&m);
    struct longca_mask v;
    CHECK(mask_view_build(&m, &v, err) == LC_OK, "%s: view: %s", what, err);
    int64_t sum = 0;
    for (int h = 0; h < heads; h++) {
        int64_t dense = 0;
        int mismatches = 0;
        for (int64_t q = 0; q < S; q++)
            for (int64_t k = 0; k < S; k++) {
                bool want = keep[((size_t)h * m.n_qblocks + qblock[q]) * m.n_kblocks + kblock[k]];
                dense += want;
                if (S <= ELEMENTWISE_MAX && mismatches < 3 &&
                    (mask_visible(&m, h, q, k) != want || mask_view_visible(&v, h, q, k) != want)) {
                    mismatches++;
                    CHECK(false, "%s: head %d (%lld, %lld) should be %s", what, h, (long long)q, (long long)k,
                          want ? "visible" : "hidden");
                }
            }
        CHECK(mask_area_head(&m, h) == dense, "%s: head %d area %lld, dense %lld", what, h,
              (long long)mask_area_head(&m, h), (long long)dense);
        CHECK(mask_view_area(&v, h) == dense, "%s: head %d view area", what, h);
        struct longca_mask one;
        CHECK(mask_view_build_head(&m, h, &one, err) == LC_OK && one.n_heads == 1 && mask_view_area(&one, 0) == dense,
              "%s: one-head view of head %d", what, h);
        mask_view_free(&one);
        sum += dense;
    }
    struct longca_mask past;
    CHECK(mask_view_build_head(&m, heads, &past, err) == LC_ERR_INVALID, "%s: view of head %d accepted", what, heads);
    CHECK(mask_area_sum(&m) == sum, "%s: area sum %lld, dense %lld", what, (long long)mask_area_sum(&m), (long long)sum);
    CHECK(mask_area_for_heads(&m, 4 * heads, heads) == 4.0 * sum, "%s: area for heads", what);
    free(keep);
    free(qblock);
    free(kblock);
    mask_view_free(&v);
    mask_free(&m);
}

/* Variable blocks have roughly the asked mean on a long sequence. */
static void check_variable_mean(void)
{
    static const int64_t means[] = {128, 256, 512, 1024};
    for (int i = 0; i < 4; i++) {
        struct mask m;
        char err[LC_ERRMSG_LEN];
        struct mask_params p = {.block = means[i], .density = 1e-9};
        if (mask_build(MASK_VARIABLE_BLOCK_SPARSE, &p, 1 << 20, 1, &m, err) != LC_OK) {
            CHECK(false, "variable mean %lld: %s", (long long)means[i], err);
            continue;
        }
        double mq = (double)m.seqlen / m.n_qblocks, mk = (double)m.seqlen / m.n_kblocks;
        CHECK(fabs(mq - means[i]) < 0.05 * means[i] && fabs(mk - means[i]) < 0.05 * means[i],
              "variable mean %lld: rows %.1f, cols %.1f", (long long)means[i], mq, mk);
        CHECK(memcmp(m.qblock_bounds, m.kblock_bounds, sizeof(int64_t) * 16) != 0 || means[i] == 128,
              "variable mean %lld: rows and columns are not independent", (long long)means[i]);
        mask_free(&m);
    }
}

static void expect_rejected(enum mask_pattern pat, struct mask_params p, int64_t S, int heads, const char *why)
{
    struct mask m;
    char err[LC_ERRMSG_LEN] = "";
    enum lc_status st = mask_build(pat, &p, S, heads, &m, err);
    CHECK(st == LC_ERR_INVALID, "%s accepted (%s)", why, mask_pattern_name(pat));
    CHECK(err[0] && !strchr(err, '\n'), "%s: message '%s' is not one line", why, err);
    if (st == LC_OK) mask_free(&m);
    else printf("rejected as expected: %s\n", err);
}

static void check_rejections(void)
{
    expect_rejected(MASK_SLIDING_WINDOW, (struct mask_params){.window = -1}, 100, 1, "negative window");
    expect_rejected(MASK_GLOBAL_SLIDING_WINDOW, (struct mask_params){.global_tokens = -5}, 100, 1, "negative global");
    expect_rejected(MASK_BLOCK_SPARSE, (struct mask_params){.block = 32}, 1000, 1, "block 32");
    expect_rejected(MASK_VARIABLE_BLOCK_SPARSE, (struct mask_params){.block = 100}, 1000, 1, "mean 100");
    expect_rejected(MASK_BLOCK_SPARSE, (struct mask_params){.density = 1.5}, 1000, 1, "density 1.5");
    expect_rejected(MASK_BLOCK_SPARSE, (struct mask_params){.density = -0.5}, 1000, 1, "density -0.5");
    expect_rejected(MASK_BLOCK_SPARSE, (struct mask_params){.density = NAN}, 1000, 1, "density NaN");
    expect_rejected(MASK_BLOCK_SPARSE, (struct mask_params){0}, 1000, 0, "no KV heads");
    expect_rejected(MASK_PREFIX_LM_CAUSAL, (struct mask_params){.prefix = 101}, 100, 1, "prefix > S");
    expect_rejected(MASK_PREFIX_LM_DOCUMENT, (struct mask_params){.prefix = -1}, 100, 1, "negative prefix");
    expect_rejected(MASK_BLOCK_CAUSAL_DOCUMENT, (struct mask_params){.block = -1}, 100, 1, "negative block");
    expect_rejected(MASK_CAUSAL, (struct mask_params){0}, 0, 1, "seqlen 0");
    expect_rejected(MASK_CAUSAL, (struct mask_params){0}, -4, 1, "negative seqlen");
    expect_rejected(MASK_CAUSAL, (struct mask_params){0}, 1ll << 40, 1, "seqlen 2^40");
    expect_rejected(MASK_FULL_DOCUMENT, (struct mask_params){.doclen = 99}, 100, 1, "unknown doclen");

    struct mask m;
    char err[LC_ERRMSG_LEN] = "";
    int64_t bad_docs[] = {3, 3};
    CHECK(mask_build_with_docs(MASK_CAUSAL_DOCUMENT, NULL, 7, 1, bad_docs, 2, &m, err) == LC_ERR_INVALID,
          "documents summing to 6 accepted for S = 7");
    int64_t empty_doc[] = {7, 0};
    CHECK(mask_build_with_docs(MASK_CAUSAL_DOCUMENT, NULL, 7, 1, empty_doc, 2, &m, err) == LC_ERR_INVALID,
          "an empty document accepted");
}

static void check_names(void)
{
    for (int i = 0; i < MASK_PATTERN_COUNT; i++) {
        enum mask_pattern p;
        CHECK(mask_pattern_parse(mask_pattern_name(i), &p) == 0 && p == (enum mask_pattern)i, "name %d", i);
        CHECK(strlen(mask_pattern_summary(i)) > 5, "summary %d", i);
    }
    enum mask_pattern p;
    CHECK(mask_pattern_parse("causual", &p) != 0, "typo accepted");
    CHECK(strstr(mask_pattern_summary(MASK_PREFIX_LM_CAUSAL), "k < p"), "prefix summary names the canonical form");
}

int main(void)
{
    check_names();
    int builds = 0;
    for (int pat = 0; pat < MASK_PATTERN_COUNT; pat++) {
        if (mask_pattern_is_block_sparse(pat)) continue;
        for (int s = 0; s < N_SIZES; s++)
            for (int set = 0; set < 4; set++) {
                int layouts = mask_pattern_uses_documents(pat) ? 3 : 1;
                for (int docs = 0; docs < layouts; docs++, builds++) check_static(pat, sizes[s], set, docs);
            }
    }
    /* Sampled documents under several seeds. */
    for (uint64_t seed = 1; seed <= 5; seed++)
        for (int pat = 0; pat < MASK_PATTERN_COUNT; pat++)
            if (mask_pattern_uses_documents(pat)) {
                struct mask m;
                char err[LC_ERRMSG_LEN];
                struct mask_params p = {.seed = seed, .block = 16};
                if (mask_build(pat, &p, 3000, 1, &m, err) != LC_OK) {
                    CHECK(false, "%s seed %llu: %s", mask_pattern_name(pat), (unsigned long long)seed, err);
                    continue;
                }
                int *doc = ref_doc_index(&m);
                int64_t dense = 0;
                for (int64_t q = 0; q < m.seqlen; q++)
                    for (int64_t k = 0; k < m.seqlen; k++) dense += ref_static_visible(&m, doc, q, k);
                CHECK(mask_area_head(&m, 0) == dense, "%s seed %llu: area %lld, dense %lld", mask_pattern_name(pat),
                      (unsigned long long)seed, (long long)mask_area_head(&m, 0), (long long)dense);
                free(doc);
                mask_free(&m);
                builds++;
            }
    static const int64_t sparse_sizes[] = {1, 7, 97, 257, 1000};
    static const double densities[] = {0.1, 0.5, 1.0};
    for (int s = 0; s < 5; s++)
        for (int d = 0; d < 3; d++)
            for (uint64_t seed = 0; seed < 2; seed++) {
                check_sparse(MASK_BLOCK_SPARSE, sparse_sizes[s], 64, 1 + (int)seed * 2, densities[d], seed);
                check_sparse(MASK_BLOCK_SPARSE, sparse_sizes[s], 128, 2, densities[d], seed + 9);
                check_sparse(MASK_VARIABLE_BLOCK_SPARSE, sparse_sizes[s], 128, 2, densities[d], seed);
                check_sparse(MASK_VARIABLE_BLOCK_SPARSE, sparse_sizes[s] * 3, 256, 1 + (int)seed, densities[d], seed);
                builds += 4;
            }
    check_variable_mean();
    check_rejections();
    printf("%d masks checked against the dense reference\n", builds);
    return check_report("mask area");
}
