/* `longca mask NAME --seqlen S`: a mask's slices (or block maps), exact area, density and
 * picture, as text or JSON. Bad input: one line on stderr, exit status 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/io/json.h"
#include "core/mask/mask_picture.h"
#include "core/model/parse.h"
#include "core/model/spec.h"
#include "core/mask/doclen.h"
#include "core/mask/mask_params.h"
#include "core/mask/mask_rule.h"
#include "core/mask/mask_view.h"

#define TEXT_MAX_SLICES 48

struct mask_cmd {
    enum mask_pattern pattern;
    bool have_pattern;
    struct mask_params params;
    int64_t seqlen;
    int heads_kv, head;
    bool json, ascii, help;
    int rows, cols;
};

static void mask_usage(FILE *f)
{
    fprintf(f,
            "usage: longca mask NAME --seqlen S [options]\n"
            "  NAME          a mask pattern (longca list masks)\n"
            "  --seqlen S    sequence length (4096, 4k, 1m)\n"
            "  --window W  --global G  --prefix P  --block B  --density D  --doclen SRC  --seed N\n"
            "                pattern parameters (defaults: W = G = 1024, prefix drawn by seed, B = 1024\n"
            "                block_causal_document / 64 block_sparse / mean 256 variable, density 0.5,\n"
            "                doclen auto, seed 42)\n"
            "  --heads-kv H  block-sparse maps, one per KV head (default 8)\n"
            "  --head N      the KV head to draw (default 0)\n"
            "  --format F    text (default) or json\n"
            "  --ascii       draw with \" .:*#\" instead of shade blocks\n"
            "  --rows R --cols C   picture size (default 32 x 64)\n");
}

static enum lc_status parse_args(int argc, char **argv, struct mask_cmd *c, char *err)
{
    memset(c, 0, sizeof *c);
    c->heads_kv = 8;
    c->rows = 32;
    c->cols = 64;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2)) {
            if (c->have_pattern) return lc_fail(err, LC_ERR_INVALID, "unexpected argument '%s'", arg);
            if (mask_pattern_parse(arg, &c->pattern))
                return lc_fail(err, LC_ERR_INVALID, "unknown mask '%s' (see longca list masks)", arg);
            c->have_pattern = true;
            continue;
        }
        char flag[64];
        const char *eq = strchr(arg, '=');
        size_t flag_len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (flag_len >= sizeof flag) return lc_fail(err, LC_ERR_INVALID, "unknown flag '%.40s...'", arg);
        snprintf(flag, sizeof flag, "%.*s", (int)flag_len, arg);
        const char *value = eq ? eq + 1 : i + 1 < argc ? argv[i + 1] : NULL;
        bool takes_value = true, consumed = true;
        enum lc_status st = LC_OK;
        int64_t v = 0;
        if (!strcmp(flag, "--help")) {
            c->help = true;
            takes_value = false;
        } else if (!strcmp(flag, "--ascii")) {
            c->ascii = true;
            takes_value = false;
        } else if (!strcmp(flag, "--seqlen")) {
            st = parse_size(flag, value, &c->seqlen, err);
            if (!st && (c->seqlen < 1 || c->seqlen > LC_MAX_SEQLEN))
                st = lc_fail(err, LC_ERR_INVALID, "--seqlen %s is outside [1, %lld]", value, (long long)LC_MAX_SEQLEN);
        } else if (!strcmp(flag, "--heads-kv")) {
            st = parse_int(flag, value, 1, 1024, &v, err);
            c->heads_kv = (int)v;
        } else if (!strcmp(flag, "--head")) {
            st = parse_int(flag, value, 0, 1023, &v, err);
            c->head = (int)v;
        } else if (!strcmp(flag, "--rows") || !strcmp(flag, "--cols")) {
            st = parse_int(flag, value, 1, 1000, &v, err);
            *(!strcmp(flag, "--rows") ? &c->rows : &c->cols) = (int)v;
        } else if (!strcmp(flag, "--format")) {
            if (value && !strcmp(value, "json")) c->json = true;
            else if (!value || strcmp(value, "text")) st = lc_fail(err, LC_ERR_INVALID, "--format takes text or json");
        } else {
            st = mask_params_parse_flag(flag, value, &c->params, &consumed, err);
            if (!st && !consumed) st = lc_fail(err, LC_ERR_INVALID, "unknown flag '%s' (see longca mask --help)", flag);
        }
        if (st) return st;
        if (!takes_value && eq) return lc_fail(err, LC_ERR_INVALID, "%s takes no value", flag);
        if (takes_value && !eq) i++;
    }
    if (c->help) return LC_OK;
    if (!c->have_pattern) return lc_fail(err, LC_ERR_INVALID, "which mask? (longca mask NAME --seqlen S)");
    if (!c->seqlen) return lc_fail(err, LC_ERR_INVALID, "--seqlen is required");
    int heads = mask_pattern_is_block_sparse(c->pattern) ? c->heads_kv : 1;
    if (c->head >= heads)
        return lc_fail(err, LC_ERR_INVALID, "--head %d: %s has %d head map%s", c->head, mask_pattern_name(c->pattern),
                       heads, heads == 1 ? "" : "s");
    /* A cell never spans less than one token. */
    if (c->rows > c->seqlen) c->rows = (int)c->seqlen;
    if (c->cols > c->seqlen) c->cols = (int)c->seqlen;
    return mask_params_check(c->pattern, &c->params, c->seqlen, err);
}

static int64_t kept_blocks(const struct mask *m, int head)
{
    const uint64_t *bits = m->keep_bits + (size_t)head * m->n_qblocks * m->words_per_row;
    int64_t n = 0;
    for (size_t w = 0; w < (size_t)m->n_qblocks * m->words_per_row; w++) n += __builtin_popcountll(bits[w]);
    return n;
}

static void print_text(const struct mask_cmd *c, const struct mask *m, const float *picture)
{
    char params[160];
    mask_params_describe(m->pattern, &m->params, params, sizeof params);
    printf("mask %s  S=%lld%s%s\n  %s\n", mask_pattern_name(m->pattern), (long long)m->seqlen, params[0] ? "  " : "",
           params, mask_pattern_summary(m->pattern));
    if (m->doc_bounds) {
        printf("documents: %d (lengths", m->n_docs);
        for (int i = 0; i < m->n_docs && i < 16; i++) printf(" %lld", (long long)(m->doc_bounds[i + 1] - m->doc_bounds[i]));
        printf("%s)\n", m->n_docs > 16 ? " ..." : "");
    }
    double S2 = (double)m->seqlen * (double)m->seqlen;
    if (mask_pattern_is_block_sparse(m->pattern)) {
        printf("blocks: %d x %d per KV head\n", m->n_qblocks, m->n_kblocks);
        for (int h = 0; h < m->n_heads; h++)
            printf("  head %-3d kept %lld of %lld blocks, area %lld (density %.4f)\n", h, (long long)kept_blocks(m, h),
                   (long long)m->n_qblocks * m->n_kblocks, (long long)mask_area_head(m, h),
                   (double)mask_area_head(m, h) / S2);
        printf("area: %lld pairs over %d KV heads, density %.6g\n", (long long)mask_area_sum(m), m->n_heads,
               mask_density(m));
    } else {
        printf("slices: %d\n", m->n_slices);
        for (int i = 0; i < m->n_slices && i < TEXT_MAX_SLICES; i++) {
            const struct mask_slice *s = &m->slices[i];
            printf("  q [%lld, %lld)  k [%lld, %lld)  %s\n", (long long)s->q_begin, (long long)s->q_end,
                   (long long)s->k_begin, (long long)s->k_end, mask_slice_type_name(s->type));
        }
        if (m->n_slices > TEXT_MAX_SLICES)
            printf("  ... %d more (--format json lists them all)\n", m->n_slices - TEXT_MAX_SLICES);
        printf("area: %lld of %.0f pairs, density %.6g\n", (long long)mask_area_head(m, 0), S2, mask_density(m));
    }
    printf("picture: %d x %d cells of about %lld x %lld pairs%s (%s all visible, %s over 2/3, %s over 1/3, %s some)\n",
           c->rows, c->cols, (long long)(m->seqlen / c->rows), (long long)(m->seqlen / c->cols),
           mask_pattern_is_block_sparse(m->pattern) ? ", KV head shown with --head" : "", mask_picture_glyph(4, c->ascii),
           mask_picture_glyph(3, c->ascii), mask_picture_glyph(2, c->ascii), mask_picture_glyph(1, c->ascii));
    mask_picture_print(stdout, picture, c->rows, c->cols, c->ascii);
}

static void print_json(const struct mask *m)
{
    printf("{\"mask\":");
    json_write_string(stdout, mask_pattern_name(m->pattern));
    printf(",\"seqlen\":%lld,\"params\":{", (long long)m->seqlen);
    unsigned uses = mask_pattern_params(m->pattern);
    const char *sep = "";
    if (uses & MASK_USES_WINDOW) printf("%s\"window\":%lld", sep, (long long)m->params.window), sep = ",";
    if (uses & MASK_USES_GLOBAL) printf("%s\"global\":%lld", sep, (long long)m->params.global_tokens), sep = ",";
    if (uses & MASK_USES_PREFIX) printf("%s\"prefix\":%lld", sep, (long long)m->params.prefix), sep = ",";
    if (uses & MASK_USES_BLOCK) printf("%s\"block\":%lld", sep, (long long)m->params.block), sep = ",";
    if (uses & MASK_USES_DENSITY) printf("%s\"density\":", sep), json_write_double(stdout, m->params.density), sep = ",";
    if (uses & MASK_USES_DOCLEN) printf("%s\"doclen\":\"%s\"", sep, doclen_source_name(m->params.doclen)), sep = ",";
    if (uses & MASK_USES_SEED) printf("%s\"seed\":%llu", sep, (unsigned long long)m->params.seed);
    printf("}");
    if (m->doc_bounds) {
        printf(",\"documents\":[");
        for (int i = 0; i < m->n_docs; i++)
            printf("%s%lld", i ? "," : "", (long long)(m->doc_bounds[i + 1] - m->doc_bounds[i]));
        printf("]");
    }
    if (mask_pattern_is_block_sparse(m->pattern)) {
        printf(",\"heads_kv\":%d,\"qblocks\":%d,\"kblocks\":%d,\"blocks\":[", m->n_heads, m->n_qblocks, m->n_kblocks);
        for (int h = 0; h < m->n_heads; h++) printf("%s%lld", h ? "," : "", (long long)kept_blocks(m, h));
        printf("],\"area_per_head\":[");
        for (int h = 0; h < m->n_heads; h++) printf("%s%lld", h ? "," : "", (long long)mask_area_head(m, h));
        printf("],\"area\":%lld", (long long)mask_area_sum(m));
    } else {
        printf(",\"slices\":[");
        for (int i = 0; i < m->n_slices; i++) {
            const struct mask_slice *s = &m->slices[i];
            printf("%s[%lld,%lld,%lld,%lld,\"%s\"]", i ? "," : "", (long long)s->q_begin, (long long)s->q_end,
                   (long long)s->k_begin, (long long)s->k_end, mask_slice_type_name(s->type));
        }
        printf("],\"area\":%lld", (long long)mask_area_head(m, 0));
    }
    printf(",\"density\":");
    json_write_double(stdout, mask_density(m));
    printf("}\n");
}

int cmd_mask(int argc, char **argv)
{
    struct mask_cmd c;
    char err[LC_ERRMSG_LEN] = "";
    if (parse_args(argc, argv, &c, err)) {
        fprintf(stderr, "longca mask: %s\n", err);
        return LC_EXIT_USAGE;
    }
    if (c.help) {
        mask_usage(stdout);
        return LC_EXIT_OK;
    }
    struct mask m;
    enum lc_status st = mask_build(c.pattern, &c.params, c.seqlen, c.heads_kv, &m, err);
    if (st != LC_OK) {
        fprintf(stderr, "longca mask: %s\n", err);
        return st == LC_ERR_INVALID ? LC_EXIT_USAGE : LC_EXIT_FAILED;
    }
    if (c.json) {
        print_json(&m);
        mask_free(&m);
        return LC_EXIT_OK;
    }
    struct longca_mask v;
    float *picture = malloc((size_t)c.rows * c.cols * sizeof *picture);
    st = picture ? mask_view_build_head(&m, c.head, &v, err)
                 : lc_fail(err, LC_ERR_OOM, "out of host memory for the picture");
    if (st == LC_OK) {
        st = mask_picture(&v, 0, c.rows, c.cols, picture, err);
        mask_view_free(&v);
    }
    if (st == LC_OK) print_text(&c, &m, picture);
    else fprintf(stderr, "longca mask: %s\n", err);
    free(picture);
    mask_free(&m);
    return st == LC_OK ? LC_EXIT_OK : LC_EXIT_FAILED;
}
