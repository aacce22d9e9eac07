/* The "cpu" kernel: FlashAttention's tiling on the CPU.
 *
 * plan_create lists, per (view head, query tile), the key tiles the mask touches (mask_tiles):
 * fully visible tiles run unmasked, partial ones get an elementwise mask from their clipped
 * rules, empty ones never appear. The forward keeps a running max and sum per query row
 * (online softmax) over the listed tiles, one task per (batch, query head, query tile). The
 * backward recomputes P from the saved LSE: one pass over query tiles gives dQ, one over key
 * tiles (the tile list transposed) gives dK and dV, so every output has one writer and the
 * sums run in a fixed order whatever the thread count. Accumulation is fp32 throughout. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* GCC keeps loops whose selects guard floating-point work scalar unless it may assume that
 * floating-point operations do not trap (the softmax exponentials would stay scalar), and it
 * fuses multiply-adds only when told to (ISO C mode turns contraction off). Clang does both. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "fp-contract=fast")
#endif

/* The per-tile functions are built twice on x86-64 Linux, for AVX2+FMA and for the baseline,
 * and the loader picks one for the machine (the build itself targets the baseline only). */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define TILE_FUNCTION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define TILE_FUNCTION
#endif

#include "core/engine/engine.h"
#include "core/engine/kernel.h"
#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/cpu_kernels.h"
#include "core/mask/mask_tiles.h"

#define TILE_Q 64
#define TILE_K 64

struct flash_plan {
    struct longca_problem p; /* p.mask is not kept: the tiles carry everything */
    enum run_direction dir;
    struct mask_tiles tiles;
    /* The tile list by key tile, for dK/dV: column (view head, k tile) holds the entries
     * col_entry[col_offsets[c] .. col_offsets[c+1]) in ascending query tile col_qtile. */
    int64_t *col_offsets;
    int64_t *col_entry;
    int32_t *col_qtile;
};

/* exp(x) for x <= 88 in fp32 (relative error ~2e-7), 0 for x < -87 including -inf.
 * Branch-free so the loops that call it vectorise; expf from libm would not. */
static inline float flash_exp(float x)
{
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float t = xc * 1.44269504f + round_magic;
    float n = t - round_magic;
    uint32_t tbits;
    memcpy(&tbits, &t, 4);
    int32_t ni = (int32_t)(tbits - 0x4b400000u); /* the integer n itself */
    float r = xc - n * 0.693145752f - n * 1.42860677e-6f;
    float poly = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f +
                 r * (4.16666667e-2f + r * (8.33333333e-3f + r * 1.38888889e-3f)))));
    uint32_t sbits = (uint32_t)(ni + 127) << 23;
    float scale;
    memcpy(&scale, &sbits, 4);
    return x < -87.0f ? 0.0f : poly * scale;
}

/* ---- tile building blocks (row-major, fixed strides so the inner loops vectorise) ---- */

/* dst[i][0..d) = src row i, rows of a BSHD tensor `stride` floats apart; optionally scaled. */
static void load_rows(float *restrict dst, const float *restrict src, size_t stride, int rows, int d, float scale)
{
    for (int i = 0; i < rows; i++)
        for (int c = 0; c < d; c++) dst[(size_t)i * d + c] = scale * src[(size_t)i * stride + c];
}

/* dst[c][j] = src row j, element c: a key tile transposed to [d][TILE_K]. */
static void load_transposed(float *restrict dst, const float *restrict src, size_t stride, int cols, int d)
{
    for (int j = 0; j < cols; j++)
        for (int c = 0; c < d; c++) dst[(size_t)c * TILE_K + j] = src[(size_t)j * stride + c];
}

/* The one matrix product of the kernel: c[r][n] (+)= sum_k a(r, k) * b[k][n], where a(r, k) =
 * a[r * a_row + k * a_k] (so a can be read transposed) and b, c are row-major with strides
 * b_row, c_row. Blocks of 4 x 16 outputs stay in registers across the k loop; the ragged edge
 * takes the plain loop. */
#define BLOCK_M 4
#define BLOCK_N 16

static inline void gemm_block(float *restrict c, size_t c_row, const float *restrict a, size_t a_row, size_t a_k,
                              const float *restrict b, size_t b_row, int kdim, bool accumulate)
{
    float acc[BLOCK_M][BLOCK_N];
    for (int r = 0; r < BLOCK_M; r++)
        for (int n = 0; n < BLOCK_N; n++) acc[r][n] = accumulate ? c[r * c_row + (size_t)n] : 0.0f;
    for (int k = 0; k < kdim; k++) {
        const float *restrict bk = b + (size_t)k * b_row;
#pragma GCC unroll 4
        for (int r = 0; r < BLOCK_M; r++) {
            const float ark = a[r * a_row + (size_t)k * a_k];
#pragma omp simd
            for (int n = 0; n < BLOCK_N; n++) acc[r][n] += ark * bk[n];
        }
    }
    for (int r = 0; r < BLOCK_M; r++)
        for (int n = 0; n < BLOCK_N; n++) c[r * c_row + (size_t)n] = acc[r][n];
}

static inline void gemm(float *restrict c, size_t c_row, const float *restrict a, size_t a_row, size_t a_k,
                        const float *restrict b, size_t b_row, int m, int n, int kdim, bool accumulate)
{
    const int m_blocked = m - m % BLOCK_M, n_blocked = n - n % BLOCK_N;
    for (int r0 = 0; r0 < m_blocked; r0 += BLOCK_M)
        for (int n0 = 0; n0 < n_blocked; n0 += BLOCK_N)
            gemm_block(c + (size_t)r0 * c_row + n0, c_row, a + (size_t)r0 * a_row, a_row, a_k, b + n0, b_row, kdim,
                       accumulate);
    for (int r = 0; r < m; r++) { /* the edge: rows below the blocks, columns right of them */
        const int n_from = r < m_blocked ? n_blocked : 0;
        if (n_from == n) continue;
        float *restrict cr = c + (size_t)r * c_row;
        if (!accumulate)
            for (int j = n_from; j < n; j++) cr[j] = 0.0f;
        for (int k = 0; k < kdim; k++) {
            const float ark = a[(size_t)r * a_row + (size_t)k * a_k];
            const float *restrict bk = b + (size_t)k * b_row;
            for (int j = n_from; j < n; j++) cr[j] += ark * bk[j];
        }
    }
}

/* s[i][j] = sum_c a[i][c] * bt[c][j] for a [rows][d], bt [d][TILE_K], s [TILE_Q][TILE_K]. */
static void tile_matmul_nt(float *restrict s, const float *restrict a, const float *restrict bt, int rows, int cols,
                           int d)
{
    gemm(s, TILE_K, a, (size_t)d, 1, bt, TILE_K, rows, cols, d, false);
}

/* out[i][c] += sum_j p[i][j] * x[j][c] for p [TILE_Q][TILE_K], x [cols][d], out [rows][d]. */
static void tile_matmul_nn_acc(float *restrict out, const float *restrict p, const float *restrict x, int rows,
                               int cols, int d)
{
    gemm(out, (size_t)d, p, TILE_K, 1, x, (size_t)d, rows, d, cols, true);
}

/* out[j][c] += sum_i p[i][j] * x[i][c] for p [TILE_Q][TILE_K], x [rows][d], out [cols][d]. */
static void tile_matmul_tn_acc(float *restrict out, const float *restrict p, const float *restrict x, int rows,
                               int cols, int d)
{
    gemm(out, (size_t)d, p, 1, TILE_K, x, (size_t)d, cols, d, rows, true);
}

/* Sets s[i][j] = -inf where the clipped rules of tile entry e leave (q0 + i, k0 + j) hidden. */
static void tile_apply_mask(const struct mask_tiles *mt, int64_t e, int64_t q0, int rows, int64_t k0, int cols,
                            float *restrict s, uint8_t *restrict vis)
{
    memset(vis, 0, (size_t)TILE_Q * TILE_K);
    for (int64_t ri = mt->rule_offsets[e]; ri < mt->rule_offsets[e + 1]; ri++) {
        const struct longca_rule *r = &mt->rules[ri];
        int64_t qa = r->q_begin > q0 ? r->q_begin : q0, qb = r->q_end < q0 + rows ? r->q_end : q0 + rows;
        for (int64_t q = qa; q < qb; q++) {
            int64_t lo = r->k_begin, hi = r->k_end;
            if (q + r->diag_lo > lo) lo = q + r->diag_lo;
            if (q + (int64_t)r->diag_hi + 1 < hi) hi = q + (int64_t)r->diag_hi + 1;
            if (k0 > lo) lo = k0;
            if (k0 + cols < hi) hi = k0 + cols;
            if (lo < hi) memset(vis + (q - q0) * TILE_K + (lo - k0), 1, (size_t)(hi - lo));
        }
    }
    for (int i = 0; i < rows; i++) {
        float *restrict si = s + (size_t)i * TILE_K;
        const uint8_t *restrict vi = vis + (size_t)i * TILE_K;
        for (int j = 0; j < cols; j++) si[j] = vi[j] ? si[j] : -INFINITY;
    }
}

/* ---- plan ---- */

static void flash_plan_destroy(void *plan)
{
    struct flash_plan *fp = plan;
    if (!fp) return;
    mask_tiles_free(&fp->tiles);
    free(fp->col_offsets);
    free(fp->col_entry);
    free(fp->col_qtile);
    free(fp);
}

/* Transposes the (head, q tile) -> k tiles lists into (head, k tile) -> q tiles. */
static enum lc_status build_columns(struct flash_plan *fp, char *err)
{
    const struct mask_tiles *mt = &fp->tiles;
    size_t n_cols = (size_t)mt->n_heads * (size_t)mt->n_ktiles;
    fp->col_offsets = calloc(n_cols + 1, sizeof *fp->col_offsets);
    fp->col_entry = malloc((size_t)(mt->n_entries > 0 ? mt->n_entries : 1) * sizeof *fp->col_entry);
    fp->col_qtile = malloc((size_t)(mt->n_entries > 0 ? mt->n_entries : 1) * sizeof *fp->col_qtile);
    if (!fp->col_offsets || !fp->col_entry || !fp->col_qtile)
        return lc_fail(err, LC_ERR_OOM, "cpu kernel plan: out of host memory for %lld tiles", (long long)mt->n_entries);
    for (int h = 0; h < mt->n_heads; h++)
        for (int qt = 0; qt < mt->n_qtiles; qt++) {
            int64_t row = (int64_t)h * mt->n_qtiles + qt;
            for (int64_t e = mt->row_offsets[row]; e < mt->row_offsets[row + 1]; e++)
                fp->col_offsets[(size_t)h * mt->n_ktiles + (size_t)mt->k_tile[e] + 1]++;
        }
    for (size_t c = 0; c < n_cols; c++) fp->col_offsets[c + 1] += fp->col_offsets[c];
    int64_t *fill = malloc((n_cols > 0 ? n_cols : 1) * sizeof *fill);
    if (!fill) return lc_fail(err, LC_ERR_OOM, "cpu kernel plan: out of host memory");
    memcpy(fill, fp->col_offsets, n_cols * sizeof *fill);
    for (int h = 0; h < mt->n_heads; h++)
        for (int qt = 0; qt < mt->n_qtiles; qt++) {
            int64_t row = (int64_t)h * mt->n_qtiles + qt;
            for (int64_t e = mt->row_offsets[row]; e < mt->row_offsets[row + 1]; e++) {
                int64_t slot = fill[(size_t)h * mt->n_ktiles + (size_t)mt->k_tile[e]]++;
                fp->col_entry[slot] = e;
                fp->col_qtile[slot] = qt;
            }
        }
    free(fill);
    return LC_OK;
}

static int flash_plan_create(const struct longca_problem *p, unsigned dir, void **plan,
                                        size_t *workspace_bytes, char *err)
{
    enum lc_status st = cpu_problem_check(p, err);
    if (st != LC_OK) return st;
    struct flash_plan *fp = calloc(1, sizeof *fp);
    if (!fp) return lc_fail(err, LC_ERR_OOM, "cpu kernel plan: out of host memory");
    fp->p = *p;
    fp->p.mask = NULL;
    fp->dir = dir;
    st = mask_tiles_build(p->mask, TILE_Q, TILE_K, &fp->tiles, err);
    if (st == LC_OK && (dir & DIR_BWD)) st = build_columns(fp, err);
    if (st != LC_OK) {
        flash_plan_destroy(fp);
        return st;
    }
    *plan = fp;
    *workspace_bytes = cpu_workspace_bytes(p, dir, sizeof(float));
    return LC_OK;
}

/* ---- forward ---- */

struct fwd_scratch {
    float *q, *o, *kt, *v, *s, *m, *l;
    uint8_t *vis;
};

/* One field of a thread's tile buffers: where its pointer goes and how many floats it holds. */
struct scratch_field {
    float **at;
    size_t n;
};

static size_t round_up_64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

/* One thread's tile buffers in one block: each field 64-byte aligned, then vis_n visibility
 * bytes. Returns the block to free, or NULL (fields unset) when out of memory. */
static char *scratch_alloc(const struct scratch_field *fields, int n_fields, uint8_t **vis, size_t vis_n)
{
    size_t bytes = vis_n;
    for (int i = 0; i < n_fields; i++) bytes += round_up_64(fields[i].n * sizeof(float));
    char *buf = aligned_alloc(64, round_up_64(bytes)), *at = buf;
    if (!buf) return NULL;
    for (int i = 0; i < n_fields; i++) {
        *fields[i].at = (float *)at;
        at += round_up_64(fields[i].n * sizeof(float));
    }
    *vis = (uint8_t *)at;
    return buf;
}

TILE_FUNCTION static void forward_tile(const struct flash_plan *fp, const struct longca_tensors *t, const float *q, const float *k,
                         const float *v, int b, int h, int qt, struct fwd_scratch *w)
{
    const struct longca_problem *p = &fp->p;
    const struct mask_tiles *mt = &fp->tiles;
    const int d = p->head_dim, hk = h / (p->heads_q / p->heads_kv);
    const int vh = mt->n_heads > 1 ? hk : 0;
    const int64_t q0 = (int64_t)qt * TILE_Q;
    const int rows = (int)(p->seqlen_q - q0 < TILE_Q ? p->seqlen_q - q0 : TILE_Q);
    const size_t q_stride = (size_t)p->heads_q * d, kv_stride = (size_t)p->heads_kv * d;
    const size_t q_base = (((size_t)b * p->seqlen_q + q0) * p->heads_q + h) * d;

    load_rows(w->q, q + q_base, q_stride, rows, d, p->softmax_scale);
    memset(w->o, 0, (size_t)rows * d * sizeof(float));
    for (int i = 0; i < rows; i++) {
        w->m[i] = -INFINITY;
        w->l[i] = 0.0f;
    }
    const int64_t row = (int64_t)vh * mt->n_qtiles + qt;
    for (int64_t e = mt->row_offsets[row]; e < mt->row_offsets[row + 1]; e++) {
        const int64_t k0 = (int64_t)mt->k_tile[e] * TILE_K;
        const int cols = (int)(p->seqlen_k - k0 < TILE_K ? p->seqlen_k - k0 : TILE_K);
        const size_t kv_base = (((size_t)b * p->seqlen_k + k0) * p->heads_kv + hk) * d;
        load_transposed(w->kt, k + kv_base, kv_stride, cols, d);
        load_rows(w->v, v + kv_base, kv_stride, cols, d, 1.0f);
        tile_matmul_nt(w->s, w->q, w->kt, rows, cols, d);
        if (!mt->full[e]) tile_apply_mask(mt, e, q0, rows, k0, cols, w->s, w->vis);

        for (int i = 0; i < rows; i++) {
            float *restrict si = w->s + (size_t)i * TILE_K;
            float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
            for (int j = 0; j < cols; j++) mx = si[j] > mx ? si[j] : mx;
            const float m_new = mx > w->m[i] ? mx : w->m[i];
            if (m_new == -INFINITY) { /* nothing visible in this row yet */
                for (int j = 0; j < cols; j++) si[j] = 0.0f;
                continue;
            }
            float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j < cols; j++) {
                si[j] = flash_exp(si[j] - m_new);
                sum += si[j];
            }
            const float corr = flash_exp(w->m[i] - m_new);
            w->l[i] = w->l[i] * corr + sum;
            w->m[i] = m_new;
            float *restrict oi = w->o + (size_t)i * d;
            for (int c = 0; c < d; c++) oi[c] *= corr;
        }
        tile_matmul_nn_acc(w->o, w->s, w->v, rows, cols, d);
    }
    for (int i = 0; i < rows; i++) {
        const float inv = w->l[i] > 0.0f ? 1.0f / w->l[i] : 0.0f;
        float *restrict oi = w->o + (size_t)i * d;
        for (int c = 0; c < d; c++) oi[c] *= inv;
        cpu_store(p->dtype, t->o, q_base + (size_t)i * q_stride, oi, (size_t)d);
        t->lse[((size_t)b * p->heads_q + h) * p->seqlen_q + (size_t)(q0 + i)] =
            w->l[i] > 0.0f ? w->m[i] + logf(w->l[i]) : -INFINITY;
    }
}

static int flash_forward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *err)
{
    const struct flash_plan *fp = plan;
    const struct longca_problem *p = &fp->p;
    const int d = p->head_dim, nqt = fp->tiles.n_qtiles;
    char *cursor = workspace;
    const float *q = cpu_stage_f32(p->dtype, t->q, cpu_q_elems(p), &cursor);
    const float *k = cpu_stage_f32(p->dtype, t->k, cpu_kv_elems(p), &cursor);
    const float *v = cpu_stage_f32(p->dtype, t->v, cpu_kv_elems(p), &cursor);
    const int64_t tasks = (int64_t)p->batch * p->heads_q * nqt;
    const size_t tile_qd = (size_t)TILE_Q * d, tile_kd = (size_t)TILE_K * d, tile_qk = (size_t)TILE_Q * TILE_K;
    int failed = 0;

#pragma omp parallel
    {
        struct fwd_scratch w = {0};
        const struct scratch_field fields[] = {{&w.q, tile_qd}, {&w.o, tile_qd}, {&w.kt, tile_kd}, {&w.v, tile_kd},
                                               {&w.s, tile_qk}, {&w.m, TILE_Q}, {&w.l, TILE_Q}};
        char *buf = scratch_alloc(fields, (int)(sizeof fields / sizeof fields[0]), &w.vis, tile_qk);
        if (!buf) {
#pragma omp atomic write
            failed = 1;
        }
        /* Last query tiles first: under causal-like masks they carry the most work. */
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < tasks; task++) {
            if (!buf || engine_cancel_requested()) continue; /* the driver reports the cancel */
            const int qt = nqt - 1 - (int)(task % nqt);
            const int h = (int)(task / nqt % p->heads_q), b = (int)(task / nqt / p->heads_q);
            forward_tile(fp, t, q, k, v, b, h, qt, &w);
        }
        free(buf);
    }
    if (failed) return lc_fail(err, LC_ERR_OOM, "cpu kernel forward: out of host memory for tile buffers");
    return LC_OK;
}

/* ---- backward ---- */

struct bwd_scratch {
    float *q, *d_o, *acc, *acc2, *kt, *vt, *k, *s, *dp, *lse, *dsum;
    uint8_t *vis;
};

/* Inputs staged as fp32, shared by both backward passes. */
struct bwd_inputs {
    const float *q, *k, *v, *o, *d_o;
    float *dsum; /* D = rowsum(dO * O), [batch][heads_q][seqlen_q] like lse */
};

/* P and dS of one (query tile, key tile) pair, into w->s and w->dp: the recomputation both
 * passes share. Expects w->q (scaled Q), w->d_o, w->kt, w->vt, w->lse, w->dsum loaded. */
TILE_FUNCTION static void tile_probs_and_grads(const struct mask_tiles *mt, int64_t e, int64_t q0, int rows, int64_t k0, int cols,
                                 int d, struct bwd_scratch *w)
{
    tile_matmul_nt(w->s, w->q, w->kt, rows, cols, d);
    if (!mt->full[e]) tile_apply_mask(mt, e, q0, rows, k0, cols, w->s, w->vis);
    tile_matmul_nt(w->dp, w->d_o, w->vt, rows, cols, d);
    for (int i = 0; i < rows; i++) {
        float *restrict si = w->s + (size_t)i * TILE_K, *restrict dpi = w->dp + (size_t)i * TILE_K;
        const float lse = w->lse[i], di = w->dsum[i];
        if (lse == -INFINITY) { /* a row that sees nothing anywhere */
            for (int j = 0; j < cols; j++) si[j] = dpi[j] = 0.0f;
            continue;
        }
#pragma omp simd
        for (int j = 0; j < cols; j++) {
            const float pij = flash_exp(si[j] - lse);
            si[j] = pij;
            dpi[j] = pij * (dpi[j] - di);
        }
    }
}

/* Loads the per-query-tile operands: scaled Q, dO, LSE and D of rows q0 .. q0 + rows. */
static void load_query_side(const struct longca_problem *p, const struct longca_tensors *t, const struct bwd_inputs *in,
                            int b, int h, int64_t q0, int rows, struct bwd_scratch *w)
{
    const int d = p->head_dim;
    const size_t q_stride = (size_t)p->heads_q * d;
    const size_t q_base = (((size_t)b * p->seqlen_q + q0) * p->heads_q + h) * d;
    const size_t lse_base = ((size_t)b * p->heads_q + h) * p->seqlen_q + (size_t)q0;
    load_rows(w->q, in->q + q_base, q_stride, rows, d, p->softmax_scale);
    load_rows(w->d_o, in->d_o + q_base, q_stride, rows, d, 1.0f);
    for (int i = 0; i < rows; i++) {
        w->lse[i] = t->lse[lse_base + (size_t)i];
        w->dsum[i] = in->dsum[lse_base + (size_t)i];
    }
}

/* dQ of one (batch, query head, query tile): sum over its key tiles of dS K, times scale. */
TILE_FUNCTION static void backward_dq_tile(const struct flash_plan *fp, const struct longca_tensors *t, const struct bwd_inputs *in,
                             int b, int h, int qt, struct bwd_scratch *w)
{
    const struct longca_problem *p = &fp->p;
    const struct mask_tiles *mt = &fp->tiles;
    const int d = p->head_dim, hk = h / (p->heads_q / p->heads_kv);
    const int vh = mt->n_heads > 1 ? hk : 0;
    const int64_t q0 = (int64_t)qt * TILE_Q;
    const int rows = (int)(p->seqlen_q - q0 < TILE_Q ? p->seqlen_q - q0 : TILE_Q);
    const size_t kv_stride = (size_t)p->heads_kv * d;

    load_query_side(p, t, in, b, h, q0, rows, w);
    memset(w->acc, 0, (size_t)rows * d * sizeof(float));
    const int64_t row = (int64_t)vh * mt->n_qtiles + qt;
    for (int64_t e = mt->row_offsets[row]; e < mt->row_offsets[row + 1]; e++) {
        const int64_t k0 = (int64_t)mt->k_tile[e] * TILE_K;
        const int cols = (int)(p->seqlen_k - k0 < TILE_K ? p->seqlen_k - k0 : TILE_K);
        const size_t kv_base = (((size_t)b * p->seqlen_k + k0) * p->heads_kv + hk) * d;
        load_transposed(w->kt, in->k + kv_base, kv_stride, cols, d);
        load_transposed(w->vt, in->v + kv_base, kv_stride, cols, d);
        load_rows(w->k, in->k + kv_base, kv_stride, cols, d, 1.0f);
        tile_probs_and_grads(mt, e, q0, rows, k0, cols, d, w);
        tile_matmul_nn_acc(w->acc, w->dp, w->k, rows, cols, d);
    }
    const size_t q_base = (((size_t)b * p->seqlen_q + q0) * p->heads_q + h) * d;
    for (int i = 0; i < rows; i++) {
        float *restrict ai = w->acc + (size_t)i * d;
        for (int c = 0; c < d; c++) ai[c] *= p->softmax_scale;
        cpu_store(p->dtype, t->dq, q_base + (size_t)i * p->heads_q * d, ai, (size_t)d);
    }
}

/* dK and dV of one (batch, KV head, key tile): every query head of the group, every query
 * tile that sees it. Q is loaded scaled, so dS^T (scale Q) is already dK. */
TILE_FUNCTION static void backward_dkv_tile(const struct flash_plan *fp, const struct longca_tensors *t, const struct bwd_inputs *in,
                              int b, int hk, int kt, struct bwd_scratch *w)
{
    const struct longca_problem *p = &fp->p;
    const struct mask_tiles *mt = &fp->tiles;
    const int d = p->head_dim, group = p->heads_q / p->heads_kv;
    const int vh = mt->n_heads > 1 ? hk : 0;
    const int64_t k0 = (int64_t)kt * TILE_K;
    const int cols = (int)(p->seqlen_k - k0 < TILE_K ? p->seqlen_k - k0 : TILE_K);
    const size_t kv_stride = (size_t)p->heads_kv * d;
    const size_t kv_base = (((size_t)b * p->seqlen_k + k0) * p->heads_kv + hk) * d;

    load_transposed(w->kt, in->k + kv_base, kv_stride, cols, d);
    load_transposed(w->vt, in->v + kv_base, kv_stride, cols, d);
    memset(w->acc, 0, (size_t)cols * d * sizeof(float));  /* dK */
    memset(w->acc2, 0, (size_t)cols * d * sizeof(float)); /* dV */
    const int64_t col = (int64_t)vh * mt->n_ktiles + kt;
    for (int h = hk * group; h < (hk + 1) * group; h++)
        for (int64_t slot = fp->col_offsets[col]; slot < fp->col_offsets[col + 1]; slot++) {
            const int64_t q0 = (int64_t)fp->col_qtile[slot] * TILE_Q;
            const int rows = (int)(p->seqlen_q - q0 < TILE_Q ? p->seqlen_q - q0 : TILE_Q);
            load_query_side(p, t, in, b, h, q0, rows, w);
            tile_probs_and_grads(mt, fp->col_entry[slot], q0, rows, k0, cols, d, w);
            tile_matmul_tn_acc(w->acc2, w->s, w->d_o, rows, cols, d);
            tile_matmul_tn_acc(w->acc, w->dp, w->q, rows, cols, d);
        }
    for (int j = 0; j < cols; j++) {
        cpu_store(p->dtype, t->dk, kv_base + (size_t)j * kv_stride, w->acc + (size_t)j * d, (size_t)d);
        cpu_store(p->dtype, t->dv, kv_base + (size_t)j * kv_stride, w->acc2 + (size_t)j * d, (size_t)d);
    }
}

static int flash_backward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *err)
{
    const struct flash_plan *fp = plan;
    const struct longca_problem *p = &fp->p;
    if (!(fp->dir & DIR_BWD)) return lc_fail(err, LC_ERR_INVALID, "cpu kernel: backward on a plan made for the forward only");
    const int d = p->head_dim, nqt = fp->tiles.n_qtiles, nkt = fp->tiles.n_ktiles;
    const size_t qn = cpu_q_elems(p);
    char *cursor = workspace;
    struct bwd_inputs in;
    in.dsum = (float *)cursor;
    cursor += (size_t)p->batch * (size_t)p->heads_q * (size_t)p->seqlen_q * sizeof(float);
    in.q = cpu_stage_f32(p->dtype, t->q, qn, &cursor);
    in.k = cpu_stage_f32(p->dtype, t->k, cpu_kv_elems(p), &cursor);
    in.v = cpu_stage_f32(p->dtype, t->v, cpu_kv_elems(p), &cursor);
    in.o = cpu_stage_f32(p->dtype, t->o, qn, &cursor);
    in.d_o = cpu_stage_f32(p->dtype, t->d_o, qn, &cursor);

    const int64_t n_rows = (int64_t)p->batch * p->seqlen_q * p->heads_q;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n_rows; r++) { /* r walks BSHD order: (b, i, h) */
        const int h = (int)(r % p->heads_q);
        const int64_t i = r / p->heads_q % p->seqlen_q;
        const int b = (int)(r / p->heads_q / p->seqlen_q);
        const float *o = in.o + (size_t)r * d, *g = in.d_o + (size_t)r * d;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int c = 0; c < d; c++) acc += o[c] * g[c];
        in.dsum[((size_t)b * p->heads_q + h) * p->seqlen_q + (size_t)i] = acc;
    }

    const size_t tile_qd = (size_t)TILE_Q * d, tile_kd = (size_t)TILE_K * d, tile_qk = (size_t)TILE_Q * TILE_K;
    const size_t acc_n = tile_qd > tile_kd ? tile_qd : tile_kd;
    int failed = 0;
#pragma omp parallel
    {
        struct bwd_scratch w = {0};
        const struct scratch_field fields[] = {{&w.q, tile_qd}, {&w.d_o, tile_qd}, {&w.acc, acc_n}, {&w.acc2, acc_n},
                                               {&w.kt, tile_kd}, {&w.vt, tile_kd}, {&w.k, tile_kd}, {&w.s, tile_qk},
                                               {&w.dp, tile_qk}, {&w.lse, TILE_Q}, {&w.dsum, TILE_Q}};
        char *buf = scratch_alloc(fields, (int)(sizeof fields / sizeof fields[0]), &w.vis, tile_qk);
        if (!buf) {
#pragma omp atomic write
            failed = 1;
        }
        const int64_t q_tasks = (int64_t)p->batch * p->heads_q * nqt;
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < q_tasks; task++) {
            if (!buf || engine_cancel_requested()) continue; /* the driver reports the cancel */
            const int qt = nqt - 1 - (int)(task % nqt);
            backward_dq_tile(fp, t, &in, (int)(task / nqt / p->heads_q), (int)(task / nqt % p->heads_q), qt, &w);
        }
        const int64_t k_tasks = (int64_t)p->batch * p->heads_kv * nkt;
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < k_tasks; task++) {
            if (!buf || engine_cancel_requested()) continue; /* the driver reports the cancel */
            backward_dkv_tile(fp, t, &in, (int)(task / nkt / p->heads_kv), (int)(task / nkt % p->heads_kv),
                              (int)(task % nkt), &w);
        }
        free(buf);
    }
    if (failed) return lc_fail(err, LC_ERR_OOM, "cpu kernel backward: out of host memory for tile buffers");
    return LC_OK;
}

const struct longca_kernel kernel_cpu_flash = {
    .abi_version = LONGCA_KERNEL_ABI_VERSION,
    .name = "cpu",
    .summary = "CPU FlashAttention: 64x64 tiles from the mask, online softmax, fp32",
    .device = DEVICE_CPU,
    .dtypes = (1u << LC_FP32) | (1u << LC_BF16) | (1u << LC_FP16),
    .directions = DIR_FWD | DIR_BWD,
    .head_dims = NULL,
    .mask_forms = LONGCA_FORM_RULES | LONGCA_FORM_HEAD_RULES,
    .writes_lse = true,
    .tile_q = TILE_Q,
    .supports = NULL,
    .plan = flash_plan_create,
    .forward = flash_forward,
    .backward = flash_backward,
    .destroy = flash_plan_destroy,
};
