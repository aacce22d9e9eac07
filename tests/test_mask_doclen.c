/* Document lengths: the tables built into the binary equal the JSON files in data/doclen, samples sum to
 * S, are reproducible by seed, and each source is chosen as LongCA-bench chooses it. */
#include <string.h>

#include "core/mask/doclen_tables.h"
#include "tests/mask_reference.h"
#include "core/mask/doclen.h"

/* The repository root from LONGCA_TEST_DATA (<root>/tests/data), textually. */
static int repo_root(char *out, size_t len)
{
    const char *data = getenv("LONGCA_TEST_DATA");
    if (!data || strlen(data) >= len) return -1;
    strcpy(out, data);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(out, '/');
        if (!slash) return -1;
        *slash = '\0';
    }
    return 0;
}

static void check_table_matches_json(const char *root, enum doclen_source src)
{
    const struct doclen_table *t = doclen_table_of(src);
    char path[1024];
    snprintf(path, sizeof path, "%s/data/doclen/%s.json", root, t->name);
    FILE *f = fopen(path, "r");
    CHECK(f, "cannot open %s", path);
    if (!f) return;
    char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    int bins = 0;
    for (const char *p = strchr(text, '"'); p; p = strchr(p, '"')) {
        long long lo, hi;
        double w;
        int used = 0;
        if (sscanf(p, "\"[%lld,%lld)\": %lf%n", &lo, &hi, &w, &used) != 3 || !used) {
            CHECK(false, "%s: cannot read a bin at '%.20s'", path, p);
            return;
        }
        CHECK(bins < t->n_bins && t->bins[bins].lo == lo && t->bins[bins].hi == hi && t->bins[bins].weight == w,
              "%s: bin %d [%lld, %lld) %g differs from the built-in table", path, bins, lo, hi, w);
        bins++;
        p += used;
    }
    CHECK(bins == t->n_bins, "%s: %d bins in the file, %d built in", path, bins, t->n_bins);
}

static int64_t *sample(enum doclen_source src, int64_t S, uint64_t seed, int *n)
{
    int64_t *lens = NULL;
    char err[LC_ERRMSG_LEN] = "";
    CHECK(doclen_sample(src, S, seed, &lens, n, err) == LC_OK, "%s S=%lld: %s", doclen_source_name(src),
          (long long)S, err);
    int64_t sum = 0;
    for (int i = 0; lens && i < *n; i++) {
        CHECK(lens[i] >= 1, "%s S=%lld: document %d has length %lld", doclen_source_name(src), (long long)S, i,
              (long long)lens[i]);
        sum += lens[i];
    }
    CHECK(sum == S, "%s: lengths sum to %lld, not %lld", doclen_source_name(src), (long long)sum, (long long)S);
    return lens;
}

static bool same(const int64_t *a, int na, const int64_t *b, int nb)
{
    return na == nb && !memcmp(a, b, (size_t)na * sizeof *a);
}

/* Every document but the last (which is cut) has a length inside one of the table's bins. */
static void check_in_bins(const struct doclen_table *t, const int64_t *lens, int n)
{
    for (int i = 0; i < n - 1; i++) {
        bool found = false;
        for (int b = 0; b < t->n_bins && !found; b++) found = lens[i] >= t->bins[b].lo && lens[i] < t->bins[b].hi;
        CHECK(found, "%s: length %lld outside every bin", t->name, (long long)lens[i]);
    }
}

int main(void)
{
    char root[1024];
    CHECK(repo_root(root, sizeof root) == 0, "LONGCA_TEST_DATA is not set to <repo>/tests/data");
    if (!failures)
        for (int s = DOCLEN_PILE; s <= DOCLEN_PROLONG512K; s++) check_table_matches_json(root, s);

    static const int64_t sizes[] = {1, 2, 1000, 12 * 1024, 12 * 1024 + 1, 64 * 1024, 64 * 1024 + 1, 512 * 1024};
    for (int i = 0; i < 8; i++)
        for (int src = DOCLEN_AUTO; src <= DOCLEN_LONG; src++) {
            int n1, n2, n3;
            int64_t *a = sample(src, sizes[i], 42, &n1), *b = sample(src, sizes[i], 42, &n2);
            int64_t *c = sample(src, sizes[i], 43, &n3);
            CHECK(same(a, n1, b, n2), "%s S=%lld: the same seed gave different documents", doclen_source_name(src),
                  (long long)sizes[i]);
            if (sizes[i] >= 1000)
                CHECK(!same(a, n1, c, n3), "%s S=%lld: seeds 42 and 43 gave the same documents",
                      doclen_source_name(src), (long long)sizes[i]);
            if (src != DOCLEN_AUTO && src != DOCLEN_LONG) check_in_bins(doclen_table_of(src), a, n1);
            free(a);
            free(b);
            free(c);
        }

    /* auto: pile up to 12K, prolong64k up to 64K, prolong512k beyond. */
    static const struct { int64_t S; enum doclen_source want; } picks[] = {
        {4096, DOCLEN_PILE}, {12 * 1024, DOCLEN_PILE}, {12 * 1024 + 1, DOCLEN_PROLONG64K},
        {64 * 1024, DOCLEN_PROLONG64K}, {64 * 1024 + 1, DOCLEN_PROLONG512K}, {1 << 20, DOCLEN_PROLONG512K}};
    for (int i = 0; i < 6; i++) {
        int na, nb;
        int64_t *a = sample(DOCLEN_AUTO, picks[i].S, 7, &na), *b = sample(picks[i].want, picks[i].S, 7, &nb);
        CHECK(same(a, na, b, nb), "auto at S=%lld is not %s", (long long)picks[i].S, doclen_source_name(picks[i].want));
        free(a);
        free(b);
    }

    /* long: about 60% of tokens in documents of 8K..30K, and not all of them at the end. */
    int n;
    int64_t S = 512 * 1024, long_tokens = 0;
    int64_t *lens = sample(DOCLEN_LONG, S, 42, &n);
    int first_long = -1, last_short = -1;
    for (int i = 0; i < n; i++) {
        if (lens[i] >= 8 * 1024 && lens[i] <= 30 * 1024) {
            long_tokens += lens[i];
            if (first_long < 0) first_long = i;
        } else {
            last_short = i;
        }
    }
    CHECK(long_tokens >= 0.55 * S && long_tokens <= 0.75 * S, "long: %lld of %lld tokens in 8K..30K documents",
          (long long)long_tokens, (long long)S);
    CHECK(first_long < last_short, "long: documents are not shuffled");
    free(lens);

    enum doclen_source src;
    CHECK(doclen_source_parse("prolong64k", &src) == 0 && src == DOCLEN_PROLONG64K, "parse prolong64k");
    CHECK(doclen_source_parse("wiki", &src) != 0, "parse accepted 'wiki'");
    char err[LC_ERRMSG_LEN];
    int64_t *none = NULL;
    CHECK(doclen_sample(DOCLEN_PILE, 0, 1, &none, &n, err) == LC_ERR_INVALID, "S = 0 accepted");
    return check_report("document lengths");
}
