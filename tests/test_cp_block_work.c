/* The model's block counts (cp/block_work.h) against the views the runs cut: on every static
 * mask, for zigzag rings (even and odd sizes), allgather's gathered KV and random layouts (runs
 * shuffled, dealt to several key layouts, padding between), in tiles that divide the rows and
 * tiles that do not, the query tiles, full and partial key tiles and visible pairs of each
 * (query layout, key layout) block equal cp_schedule_count of cp_view_between's view. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/engine/cp_schedule.h"
#include "core/mask/mask.h"
#include "core/mask/mask_view.h"
#include "core/model/rng.h"
#include "cp/block_work.h"
#include "cp/shard.h"

#define SEQLEN 3000
#define HEADS 3

/* q against every layout of keys, each block compared with the count of its cut view. */
static void compare(const struct longca_mask *view, const struct cp_layout *q, const struct cp_layout *keys, int n,
                    int tile)
{
    char err[LC_ERRMSG_LEN];
    struct cp_view_index ix;
    struct cp_view_keys k;
    struct cp_block_work w;
    struct cp_tile_work *got = calloc((size_t)n, sizeof *got);
    CHECK(cp_view_index_build(view, &ix, err) == LC_OK, "%s", err);
    CHECK(cp_view_keys_build(keys, n, &k, err) == LC_OK, "%s", err);
    CHECK(cp_block_work_init(&w, &ix, &k, tile, err) == LC_OK, "%s", err);
    cp_block_work_count(&w, q, HEADS, got);
    for (int l = 0; l < n; l++) {
        struct longca_mask block;
        struct cp_tile_work want;
        CHECK(cp_view_between(view, q, &keys[l], &block, err) == LC_OK, "%s", err);
        CHECK(cp_schedule_count(&block, tile, HEADS, &want, err) == LC_OK, "%s", err);
        CHECK(got[l].q_tiles == want.q_tiles && got[l].full_tiles == want.full_tiles &&
                  got[l].partial_tiles == want.partial_tiles && got[l].heads == want.heads && got[l].area == want.area,
              "key layout %d, tile %d: %.0f q tiles, %.0f full, %.0f partial, %.0f pairs; the view has %.0f, %.0f, %.0f, %.0f",
              l, tile, got[l].q_tiles, got[l].full_tiles, got[l].partial_tiles, got[l].area, want.q_tiles,
              want.full_tiles, want.partial_tiles, want.area);
        mask_view_free(&block);
    }
    cp_block_work_free(&w);
    cp_view_keys_free(&k);
    cp_view_index_free(&ix);
    free(got);
}

/* Every rank of a zigzag ring of R against all R layouts, and against their concatenation. */
static void zigzag(const struct mask *m, const struct longca_mask *view, int R, int tile)
{
    char err[LC_ERRMSG_LEN];
    struct cp_layout *l = calloc((size_t)R, sizeof *l), gathered;
    for (int r = 0; r < R; r++)
        CHECK(cp_layout_zigzag(m, R, r, R > 1 ? 2 * R : 1, &l[r], err) == LC_OK, "%s", err);
    CHECK(cp_layout_concat(l, R, &gathered, err) == LC_OK, "%s", err);
    for (int r = 0; r < R; r++) {
        compare(view, &l[r], l, R, tile);
        compare(view, &l[r], &gathered, 1, tile);
    }
    for (int r = 0; r < R; r++) cp_layout_free(&l[r]);
    cp_layout_free(&gathered);
    free(l);
}

static void push(struct cp_layout *l, int64_t src, int64_t len)
{
    l->seg[l->n++] = (struct cp_segment){src, len};
    l->rows += len;
}

/* The sequence cut into runs of random lengths, shuffled and dealt to `n` key layouts with
 * padding here and there; the query rows are every third run, in another order. */
static void random_layouts(const struct longca_mask *view, int n, int tile, uint64_t seed)
{
    struct rng g;
    rng_seed(&g, seed, 0);
    int64_t starts[SEQLEN + 1];
    int runs = 0;
    for (int64_t at = 0; at < SEQLEN; runs++) {
        starts[runs] = at;
        at += rng_range(&g, 1, 400);
        if (at > SEQLEN) at = SEQLEN;
    }
    starts[runs] = SEQLEN;
    int order[SEQLEN];
    for (int i = 0; i < runs; i++) order[i] = i;
    for (int i = runs - 1; i > 0; i--) {
        const int j = (int)rng_range(&g, 0, i), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    struct cp_layout keys[4], q = {calloc((size_t)runs + 1, sizeof *q.seg), 0, 0};
    for (int l = 0; l < n; l++) keys[l] = (struct cp_layout){calloc(2 * (size_t)runs + 1, sizeof *keys[l].seg), 0, 0};
    for (int i = 0; i < runs; i++) {
        struct cp_layout *k = &keys[rng_range(&g, 0, n - 1)];
        const int run = order[i];
        if (rng_range(&g, 0, 3) == 0) push(k, CP_PAD, rng_range(&g, 1, 200));
        push(k, starts[run], starts[run + 1] - starts[run]);
        if (i % 3 == 0) push(&q, starts[order[runs - 1 - i]], starts[order[runs - 1 - i] + 1] - starts[order[runs - 1 - i]]);
    }
    compare(view, &q, keys, n, tile);
    for (int l = 0; l < n; l++) free(keys[l].seg);
    free(q.seg);
}

int main(void)
{
    char err[LC_ERRMSG_LEN];
    static const int tiles[] = {64, 128, 48};
    for (int p = 0; p < MASK_BLOCK_SPARSE; p++) {
        struct mask_params params = {.window = 150, .global_tokens = 100, .block = 256};
        struct mask m;
        struct longca_mask view;
        if (mask_build((enum mask_pattern)p, &params, SEQLEN, 1, &m, err) != LC_OK) {
            CHECK(false, "%s: %s", mask_pattern_name((enum mask_pattern)p), err);
            continue;
        }
        CHECK(mask_view_build(&m, &view, err) == LC_OK, "%s", err);
        check_context = mask_pattern_name((enum mask_pattern)p);
        for (int t = 0; t < 3; t++) {
            for (int R = 1; R <= 8; R += R < 4 ? 1 : 4) zigzag(&m, &view, R, tiles[t]);
            for (int n = 1; n <= 4; n++) random_layouts(&view, n, tiles[t], 7 * (uint64_t)p + (uint64_t)n);
        }
        check_context = NULL;
        mask_view_free(&view);
        mask_free(&m);
    }
    return check_report("test_cp_block_work");
}
