/* The documents form of mask views (core/mask_documents.c): for every pattern and some CP pieces
 * of them, a form found must describe exactly the visible pairs (checked pair by pair against the
 * rules), and the patterns that have one (mask_pattern_has_documents) must get it. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/mask/mask.h"
#include "core/mask/mask_view.h"

/* Visible per the documents form. */
static bool doc_visible(const struct longca_mask *v, int64_t q, int64_t k)
{
    for (int i = 0; i < v->n_docs; i++) {
        if (q < v->cu_seqlens_q[i] || q >= v->cu_seqlens_q[i + 1]) continue;
        if (k < v->cu_seqlens_k[i] || k >= v->cu_seqlens_k[i + 1]) return false;
        int64_t d = (k - v->cu_seqlens_k[i]) - (q - v->cu_seqlens_q[i]);
        return d >= v->doc_diag_lo && d <= v->doc_diag_hi;
    }
    return false;
}

static void check_form(const struct longca_mask *v, const char *what)
{
    check_context = what;
    if (!v->n_docs) return;
    CHECK(v->cu_seqlens_q[0] == 0 && v->cu_seqlens_k[0] == 0);
    CHECK(v->cu_seqlens_q[v->n_docs] == v->seqlen_q && v->cu_seqlens_k[v->n_docs] == v->seqlen_k);
    int wrong = 0;
    for (int64_t q = 0; q < v->seqlen_q; q++)
        for (int64_t k = 0; k < v->seqlen_k; k++) wrong += doc_visible(v, q, k) != mask_view_visible(v, 0, q, k);
    CHECK(wrong == 0, "%d pairs differ (%d docs, band [%d, %d])", wrong, v->n_docs, v->doc_diag_lo, v->doc_diag_hi);
}

int main(void)
{
    char err[LC_ERRMSG_LEN], what[96];
    const int64_t sizes[] = {1, 64, 200};
    for (int p = 0; p < MASK_PATTERN_COUNT; p++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            const int64_t S = sizes[s];
            struct mask m;
            struct mask_params params = {.window = 17, .global_tokens = 5, .block = 16, .seed = 3};
            struct longca_mask v;
            if (mask_build((enum mask_pattern)p, &params, S, 2, &m, err)) continue; /* e.g. blocks larger than S */
            CHECK(mask_view_build(&m, &v, err) == LC_OK, "%s", err);
            snprintf(what, sizeof what, "%s S=%lld", mask_pattern_name((enum mask_pattern)p), (long long)S);
            check_form(&v, what);
            if (mask_pattern_has_documents((enum mask_pattern)p))
                CHECK(v.n_docs > 0, "%s: no documents form", what);
            if (mask_pattern_is_block_sparse((enum mask_pattern)p)) CHECK(v.n_docs == 0 && v.n_qblocks > 0, "%s", what);
            /* CP pieces: every pair of quarters, shifted to their own origin. */
            for (int qi = 0; qi < 4 && S >= 4; qi++)
                for (int ki = 0; ki < 4; ki++) {
                    struct longca_mask sub;
                    CHECK(mask_view_sub(&v, qi * S / 4, (qi + 1) * S / 4, ki * S / 4, (ki + 1) * S / 4, &sub, err) ==
                          LC_OK);
                    snprintf(what, sizeof what, "%s S=%lld piece %d,%d", mask_pattern_name((enum mask_pattern)p),
                             (long long)S, qi, ki);
                    check_form(&sub, what);
                    if (p == MASK_CAUSAL) CHECK(ki > qi ? sub.n_docs == 0 : sub.n_docs == 1, "%s", what);
                    mask_view_free(&sub);
                }
            mask_view_free(&v);
            mask_free(&m);
        }
    check_context = NULL;
    return check_report("test_mask_documents");
}
