/* The backward's key-tile halves (host side, no device): which 64-key halves an entry's rules
 * use, and gpu_tiles_mix_halves's order: a permutation of the row in which the steps only one
 * half sees alternate, then the rest, each kind in its own order. Hand-made entries, then random
 * rows against the same rules checked directly. */
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "kernels/cuda/gpu_tiles.h"

enum { K0 = 1024, HALF = 64 };

static struct longca_rule keys(int32_t k_begin, int32_t k_end)
{
    struct longca_rule r = {0, 1 << 20, k_begin, k_end, LONGCA_DIAG_NONE_LO, LONGCA_DIAG_NONE_HI};
    return r;
}

static void test_halves(void)
{
    const struct longca_rule rules[] = {
        keys(K0, K0 + HALF),               /* 0: the first half exactly */
        keys(K0 + HALF, K0 + 2 * HALF),    /* 1: the second half exactly */
        keys(K0 + HALF - 1, K0 + HALF),    /* 2: the first half's last key */
        keys(K0 + HALF, K0 + HALF + 1),    /* 3: the second half's first key */
        keys(K0 - 100, K0),                /* 4: before the tile */
        keys(K0 + 2 * HALF, K0 + 3 * HALF) /* 5: after it */
    };
    const struct {
        int32_t begin, count;
        unsigned want;
    } cases[] = {{0, 0, 3}, {0, 1, 1}, {1, 1, 2}, {2, 1, 1}, {3, 1, 2}, {2, 2, 3}, {4, 1, 0}, {4, 2, 0}, {3, 3, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct gpu_tile_entry e = {7, cases[i].begin, cases[i].count, 0};
        const unsigned got = gpu_tile_entry_halves(&e, rules, K0, HALF);
        CHECK(got == cases[i].want, "case %zu: halves %u, want %u", i, got, cases[i].want);
    }
}

/* Checks row (mixed) against the original: the same entries, the single-half kinds alternating
 * from the front, then the leftover of one kind, then the rest; each kind in its original order. */
static void check_mixed(const struct gpu_tile_entry *orig, const struct gpu_tile_entry *row, int64_t n,
                        const struct longca_rule *rules)
{
    unsigned kind_orig[256], kind[256];
    int64_t count[4] = {0, 0, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        kind_orig[i] = gpu_tile_entry_halves(&orig[i], rules, K0, HALF);
        kind[i] = gpu_tile_entry_halves(&row[i], rules, K0, HALF);
        count[kind_orig[i]]++;
    }
    /* a permutation: tiles are distinct in these rows */
    for (int64_t i = 0; i < n; i++) {
        int64_t found = 0;
        for (int64_t j = 0; j < n; j++) found += row[j].tile == orig[i].tile && row[j].rule_begin == orig[i].rule_begin;
        CHECK(found == 1, "tile %d appears %lld times", orig[i].tile, (long long)found);
    }
    const int64_t pairs = count[1] < count[2] ? count[1] : count[2];
    for (int64_t i = 0; i < 2 * pairs; i++)
        CHECK(kind[i] == (i % 2 ? 2u : 1u), "position %lld: kind %u", (long long)i, kind[i]);
    const int64_t over = count[1] + count[2] - 2 * pairs;
    for (int64_t i = 2 * pairs; i < 2 * pairs + over; i++)
        CHECK(kind[i] == (count[1] > count[2] ? 1u : 2u), "position %lld: kind %u, want the leftover", (long long)i,
              kind[i]);
    for (int64_t i = 2 * pairs + over; i < n; i++)
        CHECK(kind[i] == 0 || kind[i] == 3, "position %lld: kind %u", (long long)i, kind[i]);
    /* each kind in its original order */
    for (unsigned k = 0; k < 4; k++) {
        int64_t a = 0, b = 0;
        for (;;) {
            while (a < n && kind_orig[a] != k) a++;
            while (b < n && kind[b] != k) b++;
            if (a == n || b == n) break;
            CHECK(orig[a].tile == row[b].tile, "kind %u out of order: tile %d where %d", k, row[b].tile, orig[a].tile);
            a++, b++;
        }
    }
}

static void test_mix(void)
{
    /* rules 0-2: the first half, the second, both */
    const struct longca_rule rules[] = {keys(K0, K0 + 10), keys(K0 + 100, K0 + 128), keys(K0 + 60, K0 + 70)};
    /* F F F S B F S S B F: F = first only, S = second only, B = both (a rule, or full) */
    const int32_t kind_rule[] = {0, 0, 0, 1, 2, 0, 1, 1, -1, 0};
    struct gpu_tile_entry orig[10], row[10], scratch[10];
    for (int i = 0; i < 10; i++) {
        const int32_t r = kind_rule[i];
        orig[i] = (struct gpu_tile_entry){i, r < 0 ? 0 : r, r < 0 ? 0 : 1, 0};
    }
    memcpy(row, orig, sizeof row);
    gpu_tiles_mix_halves(row, 10, rules, K0, HALF, scratch);
    /* F0 S3 F1 S6 F2 S7, leftover F5 F9, then B4 B8 */
    const int32_t want[] = {0, 3, 1, 6, 2, 7, 5, 9, 4, 8};
    for (int i = 0; i < 10; i++)
        CHECK(row[i].tile == want[i], "position %d: tile %d, want %d", i, row[i].tile, want[i]);
    check_mixed(orig, row, 10, rules);

    /* random rows of every mix of kinds and lengths, with rules that cut the halves anywhere */
    struct longca_rule rnd_rules[256];
    struct gpu_tile_entry o[256], m[256], s[256];
    srand(7);
    for (int trial = 0; trial < 2000 && !failures; trial++) {
        const int n = rand() % 200;
        for (int i = 0; i < n; i++) {
            const int32_t a = K0 - 20 + rand() % 170, len = 1 + rand() % 40;
            rnd_rules[i] = keys(a, a + len);
            o[i] = (struct gpu_tile_entry){i, i, rand() % 8 ? 1 : 0, 0};
        }
        memcpy(m, o, (size_t)n * sizeof *o);
        gpu_tiles_mix_halves(m, n, rnd_rules, K0, HALF, s);
        check_mixed(o, m, n, rnd_rules);
    }
}

int main(void)
{
    test_halves();
    test_mix();
    return check_report("test_gpu_tile_order");
}
