/* Fused attention forward on Hopper, the FlashAttention-3 design (sm_90a).
 *
 * A persistent CTA of three warpgroups walks work items (batch, query head, query tile), the
 * query tiles of each KV head longest first. Warpgroup 0 is the producer: one thread issues
 * TMA loads of the Q tile and of each key tile's K and V (those its tile-list row names, last
 * first) into a ring of STAGES shared-memory slots, each slot guarded by a "full" mbarrier that
 * the copy engine completes and an "empty" one the consumers release; it gives its registers
 * to the consumers (setmaxnreg). Warpgroups 1 and 2 each own 64 of the tile's 128 query rows:
 * S = Q K^T from shared memory, the online softmax on the accumulators in registers (base 2,
 * scale folded into one FMA, the elementwise mask only on partial tiles), O += P V with P from
 * registers. The two take turns at the tensor cores through named barriers (ping-pong: one
 * issues its GEMMs while the other runs its softmax), and inside each the next tile's QK^T is
 * issued with this tile's P V, before the softmax that needs it. GQA reads the shared KV head
 * in place. Output: O in the input dtype and the natural-log LSE, or the CP fold's merges. */
#include <limits.h>

#include "kernels/cuda/flash_launch.cuh"
#include "kernels/cuda/tma.cuh"
#include "kernels/cuda/wgmma.cuh"
extern "C" {
#include "kernels/cuda/tensor_map.h"
}

#ifndef LC_FWD_STAGES_D128
#define LC_FWD_STAGES_D128 2
#endif
#ifndef LC_FWD_STAGES_D64
#define LC_FWD_STAGES_D64 4
#endif
#ifndef LC_FWD_STAGES_PAIRED_D128
#define LC_FWD_STAGES_PAIRED_D128 5
#endif

namespace {

/* Four shapes. Shared: both consumer warpgroups work on one 128-row query tile (64 rows each)
 * against 128-key tiles from one ring, and ping-pong. Wide: the shared shape on 176-key tiles
 * (head dim 128), for masks that fill them: a third more GEMM per softmax max, rescale and
 * barrier. The fine tile lists (64 x 64, for masks whose structure is finer than 128, such as
 * 64-blocks) run in one of two. Paired, where GQA groups have an even number of query heads:
 * the two consumer warpgroups take the same 64-row query tile of two query heads of one group,
 * which share the KV head and its tile list, so each 64-key K and V tile is loaded once for
 * both, from one ring, and they ping-pong as in the shared shape. On 64 x 64 tiles a stream of
 * its own moves as many bytes through shared memory (its K and V written by TMA, then read by
 * both GEMMs) as its tensor work takes cycles; paired, the writes are shared. Split, otherwise:
 * each consumer warpgroup is a stream of its own, its own 64-row query tiles against 64-key
 * tiles from its own ring, fed by its own producer warp, so that neither computes the other's
 * empty blocks. */
enum fwd_shape { FWD_SHARED, FWD_WIDE, FWD_SPLIT, FWD_PAIRED };

template <int D, fwd_shape SHAPE>
struct fwd_cfg {
    static constexpr bool SPLIT = SHAPE == FWD_SPLIT, PAIRED = SHAPE == FWD_PAIRED, FINE = SPLIT || PAIRED;
    /* BM query rows of HEADS query heads: a tile's rows are HEADS x BM */
    static constexpr int BM = FINE ? FLASH_FWD_FINE_TILE : FLASH_FWD_TILE_Q, HEADS = PAIRED ? 2 : 1;
    static constexpr int BN = FINE ? FLASH_FWD_FINE_TILE : SHAPE == FWD_WIDE ? FLASH_FWD_WIDE_TILE_K : FLASH_FWD_TILE_K;
    static constexpr int THREADS = 384; /* producer + two consumer warpgroups */
    /* setmaxnreg.inc waits for registers that another warpgroup's dec gave back, so the two
     * sums must stay within the 168 x 384 the CTA starts with: 24 + 2 x 240, or 40 + 2 x 232
     * where the split producer's two streams need more and its consumers' 64-key scores less */
    static constexpr int PRODUCER_REGS = SPLIT ? 40 : 24, CONSUMER_REGS = SPLIT ? 232 : 240;
    static_assert(PRODUCER_REGS * 128 + CONSUMER_REGS * 256 <= 168 * 384, "register reallocation must balance");
    static constexpr int STREAMS = SPLIT ? 2 : 1;
    static constexpr int STREAM_WARPS = 8 / STREAMS; /* consumer warps of a stream: each releases a slot once */
    static constexpr int NT = BN / 8, DT = D / 8;
    static constexpr int STAGES = SPLIT    ? (D == 128 ? 3 : 4)
                                  : PAIRED ? (D == 128 ? LC_FWD_STAGES_PAIRED_D128 : 8)
                                  : D == 128 ? LC_FWD_STAGES_D128
                                             : LC_FWD_STAGES_D64;
    /* Q K^T with Q from registers (loaded once per query tile) rather than shared memory: a
     * wgmma from shared memory reads its A operand again for every instruction, and on 64-key
     * tiles that traffic, with the ring's TMA writes, holds the shared-memory port as long as the
     * tensor cores work. The 128-row shapes have no registers to spare (it spilled and ran 1-4 %
     * slower on 128-key tiles). */
    static constexpr bool Q_IN_REGS = FINE;
    static constexpr int HEAD_Q_BYTES = BM * D * 2, Q_BYTES = HEADS * HEAD_Q_BYTES, KV_BYTES = BN * D * 2;
    static constexpr int STREAM_BYTES = Q_BYTES + 2 * STAGES * KV_BYTES;
    static constexpr int BARRIERS = 2 + 4 * STAGES;
    /* + 1024 so that the tiles can start on the 1024-byte boundary 128-byte swizzle needs */
    static constexpr int SMEM = STREAMS * (STREAM_BYTES + 8 * BARRIERS) + 1024;
    static_assert(BM == (FINE ? 64 : 128) && D % 64 == 0 && STREAM_BYTES % 1024 == 0 && KV_BYTES % 1024 == 0 &&
                      HEAD_Q_BYTES % 1024 == 0,
                  "tile shapes");
    static_assert(SMEM <= 232448, "more shared memory than a block may opt in to");
};

/* Named barrier ids 1 and 2: consumer warpgroup w may issue its GEMMs once barrier 1 + w
 * completes (0 is __syncthreads). */
constexpr int SCHED_BARRIER = 1;
constexpr int CONSUMER_THREADS = 256;

struct fwd_tma_params {
    CUtensorMap q_map, k_map, v_map;
    flash_fwd_params p;
    int n_items;
};

/* Work item `it`: batch, then KV head, then query tiles in work order (slot, longest first),
 * then the query heads of the KV head's group, `heads` at a time (h is the first). The CTAs in
 * flight share one KV head, whose K and V then stay in L2 (a head's K and V at 32K tokens take
 * 16 MB of its 50). */
struct fwd_item {
    int b, h;
    flash_tile_row row;
};

__device__ __forceinline__ fwd_item fwd_item_at(const fwd_tma_params &P, int it, int heads)
{
    const flash_fwd_params &p = P.p;
    const int per_tile = p.group / heads, per_kv_head = per_tile * p.n_qtiles, per_batch = p.heads_kv * per_kv_head;
    const int b = it / per_batch, r = it % per_batch, hk = r / per_kv_head, slot = r % per_kv_head / per_tile;
    fwd_item w;
    w.b = b;
    w.h = hk * p.group + heads * (r % per_tile);
    w.row = flash_tile_row_at(p.row_offsets, p.entries, p.row_order, p.mask_heads == 1 ? 0 : hk, p.n_qtiles, slot);
    return w;
}

template <typename E, int D, fwd_shape SHAPE, flash_store STORE>
__global__ void __launch_bounds__(fwd_cfg<D, SHAPE>::THREADS, 1)
    flash_fwd_kernel(const __grid_constant__ fwd_tma_params P)
{
    typedef fwd_cfg<D, SHAPE> C;
    constexpr bool SPLIT = C::SPLIT;
    constexpr int BM = C::BM, BN = C::BN, NT = C::NT, DT = C::DT, STAGES = C::STAGES;
    const flash_fwd_params &p = P.p;
    extern __shared__ unsigned char smem_raw[];
    const int tid = threadIdx.x, wg = tid / 128, lane = tid % 32;
    /* the stream this thread serves: its producer warp or its consumer warpgroup */
    const int stream = SPLIT ? (wg == 0 ? tid / 32 : wg - 1) : 0;
    const uint32_t s_q = ((smem_addr(smem_raw) + 1023u) & ~1023u) + stream * C::STREAM_BYTES;
    const uint32_t s_k = s_q + C::Q_BYTES, s_v = s_k + STAGES * C::KV_BYTES;
    const uint32_t bars = ((smem_addr(smem_raw) + 1023u) & ~1023u) + C::STREAMS * C::STREAM_BYTES +
                          stream * 8 * C::BARRIERS;
    const uint32_t full_q = bars, empty_q = bars + 8;
    auto full_k = [&](int s) { return bars + 16 + 8 * s; };
    auto empty_k = [&](int s) { return bars + 16 + 8 * (STAGES + s); };
    auto full_v = [&](int s) { return bars + 16 + 8 * (2 * STAGES + s); };
    auto empty_v = [&](int s) { return bars + 16 + 8 * (3 * STAGES + s); };
    /* each stream takes every STREAMS-th item of the CTA's share */
    const int first_item = blockIdx.x * C::STREAMS + stream, item_step = gridDim.x * C::STREAMS;

    if (tid % 32 == 0 && tid / 32 < C::STREAMS) {
        mbar_init(full_q, 1);
        mbar_init(empty_q, C::STREAM_WARPS);
        for (int s = 0; s < STAGES; s++) {
            mbar_init(full_k(s), 1);
            mbar_init(empty_k(s), C::STREAM_WARPS);
            mbar_init(full_v(s), 1);
            mbar_init(empty_v(s), C::STREAM_WARPS);
        }
        mbar_init_fence();
    }
    __syncthreads();

    if (wg == 0) {
        /* producer: lane 0 of one warp per stream issues every copy */
        regs_shrink<C::PRODUCER_REGS>();
        if (lane != 0 || tid / 32 >= C::STREAMS) return;
        tma_prefetch_map(&P.q_map);
        tma_prefetch_map(&P.k_map);
        tma_prefetch_map(&P.v_map);
        ring_pos<STAGES> at;
        uint32_t q_phase = 0;
        for (int it = first_item; it < P.n_items; it += item_step) {
            const fwd_item w = fwd_item_at(P, it, C::HEADS);
            const int n = w.row.n, hk = w.h / p.group;
            if (n == 0) continue;
            mbar_wait(empty_q, q_phase ^ 1);
            q_phase ^= 1;
            mbar_expect_tx(full_q, C::Q_BYTES);
            for (int g = 0; g < C::HEADS; g++)
                for (int c = 0; c < D / 64; c++)
                    tma_load_4d(s_q + g * C::HEAD_Q_BYTES + c * BM * 128, &P.q_map, full_q, c * 64, w.h + g,
                                w.row.tile * BM, w.b);
            for (int i = 0; i < n; i++, at.next()) {
                const int k0 = w.row.ents[n - 1 - i].tile * BN;
                mbar_wait(empty_k(at.stage), at.phase ^ 1);
                mbar_expect_tx(full_k(at.stage), C::KV_BYTES);
                for (int c = 0; c < D / 64; c++)
                    tma_load_4d(s_k + at.stage * C::KV_BYTES + c * BN * 128, &P.k_map, full_k(at.stage), c * 64, hk,
                                k0, w.b);
                mbar_wait(empty_v(at.stage), at.phase ^ 1);
                mbar_expect_tx(full_v(at.stage), C::KV_BYTES);
                for (int c = 0; c < D / 64; c++)
                    tma_load_4d(s_v + at.stage * C::KV_BYTES + c * BN * 128, &P.v_map, full_v(at.stage), c * 64, hk,
                                k0, w.b);
            }
        }
        return;
    }

    regs_grow<C::CONSUMER_REGS>();
    const int cw = wg - 1, warp_in_wg = (tid / 32) % 4;
    /* this warpgroup's first row in the item's query tile, and its query head's Q (paired: the
     * item's head + cw) */
    const int my_rows = C::FINE ? 0 : cw * 64, my_head = C::PAIRED ? cw : 0;
    const uint32_t q_rows = s_q + my_head * C::HEAD_Q_BYTES + my_rows * 128;
    /* ping-pong (not split streams, which meet different numbers of key tiles):
     * warpgroup 0 takes the tensor cores first */
    if (!SPLIT && cw == 1) named_arrive(SCHED_BARRIER, CONSUMER_THREADS);
    auto sched_wait = [&]() {
        if (!SPLIT) named_sync(SCHED_BARRIER + cw, CONSUMER_THREADS);
    };
    auto sched_pass = [&]() {
        if (!SPLIT) named_arrive(SCHED_BARRIER + (cw ^ 1), CONSUMER_THREADS);
    };
    auto release = [&](uint32_t bar) {
        if (lane == 0) mbar_arrive(bar);
    };

    /* Scores live in a fresh array per key tile: registers a wgmma accumulates into must not be
     * written by other instructions while any wgmma is in flight, or ptxas serializes them. */
    typedef float scores[1][NT][4];
    float acc_o[1][DT][4], alpha[1][2];
    uint32_t pa[BN / 16][4];
    /* Q's A fragments, k-step s in qa[s] (Q_IN_REGS): one ldmatrix.x4 per step from the
     * swizzled tile, lane l naming row 16 warp + 8 ((l / 8) % 2) + l % 8 of 16-byte chunk
     * 2 (s % 4) + l / 16 of column block s / 4. */
    uint32_t qa[C::Q_IN_REGS ? D / 16 : 1][4];
    auto load_q = [&]() {
        const int m = lane / 8, row = warp_in_wg * 16 + (m % 2) * 8 + lane % 8;
#pragma unroll
        for (int s = 0; s < D / 16; s++)
            ldmatrix_x4(qa[s], q_rows + (s / 4) * BM * 128 + row * 128 + (((2 * (s % 4) + m / 2) ^ (row % 8)) * 16));
    };
    /* S = Q K^T of the key tile in `stage`, issued and committed, not awaited. */
    auto issue_s = [&](scores &acc_s, int stage) {
        const uint32_t kt = s_k + stage * C::KV_BYTES;
        wgmma_fence();
#pragma unroll
        for (int s = 0; s < D / 16; s++) {
            const uint64_t db = wgmma_desc(kt + (s / 4) * BN * 128 + (s % 4) * 32, 16, 1024);
            if constexpr (C::Q_IN_REGS)
                wgmma_rs<E, BN, 0>::run(acc_s[0], qa[s], db, s > 0);
            else
                wgmma_ss<E, BN, 0, 0>::run(acc_s[0], wgmma_desc(q_rows + (s / 4) * BM * 128 + (s % 4) * 32, 16, 1024),
                                           db, s > 0);
        }
        wgmma_commit();
    };
    /* O += P V with V [keys][d] d-major in `stage` (the descriptor transposes it). */
    auto issue_pv = [&](int stage) {
        const uint32_t vt = s_v + stage * C::KV_BYTES;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++)
            wgmma_rs<E, D, 1>::run(acc_o[0], pa[kk], wgmma_desc(vt + kk * 16 * 128, BN * 128, 1024), 1);
        wgmma_commit();
    };
    /* Masks and exponentiates the scores of key tile entry e; alpha rescales O. */
    auto softmax = [&](scores &acc_s, const gpu_tile_entry &e, int row_base, float (&row_max)[1][2],
                       float (&row_sum)[1][2]) {
        if (e.rule_count)
            mask_partial<1, NT>(acc_s, p.rules + e.rule_begin, e.rule_count, row_base, e.tile * BN, lane);
        softmax_scores<1, NT>(acc_s, row_max, row_sum, p.scale_log2, alpha);
    };
    /* P for P V, once the previous P V has read the last one */
    auto pack_p = [&](const scores &acc_s) {
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            pa[kk][0] = E::pack(acc_s[0][2 * kk][0], acc_s[0][2 * kk][1]);
            pa[kk][1] = E::pack(acc_s[0][2 * kk][2], acc_s[0][2 * kk][3]);
            pa[kk][2] = E::pack(acc_s[0][2 * kk + 1][0], acc_s[0][2 * kk + 1][1]);
            pa[kk][3] = E::pack(acc_s[0][2 * kk + 1][2], acc_s[0][2 * kk + 1][3]);
        }
    };

    ring_pos<STAGES> at;
    uint32_t q_phase = 0;
    for (int it = first_item; it < P.n_items; it += item_step) {
        const fwd_item w = fwd_item_at(P, it, C::HEADS);
        const int n = w.row.n;
        const gpu_tile_entry *ents = w.row.ents;
        const int row_base = w.row.tile * BM + my_rows + warp_in_wg * 16;
        float row_max[1][2] = {{-INFINITY, -INFINITY}}, row_sum[1][2] = {{0.f, 0.f}};
#pragma unroll
        for (int dt = 0; dt < DT; dt++)
#pragma unroll
            for (int c = 0; c < 4; c++) acc_o[0][dt][c] = 0.f;
        wgmma_pin(acc_o[0]);
        if (n > 0) {
            mbar_wait(full_q, q_phase);
            q_phase ^= 1;
            if constexpr (C::Q_IN_REGS) {
                load_q();
                __syncwarp(); /* the warp's reads, before lane 0 lets the next item's Q in */
                release(empty_q);
            }
            mbar_wait(full_k(at.stage), at.phase);
            {
                scores acc_s;
                sched_wait();
                issue_s(acc_s, at.stage);
                sched_pass();
                wgmma_wait<0>();
                wgmma_pin(acc_s[0]);
                release(empty_k(at.stage));
                if (!C::Q_IN_REGS && n == 1) release(empty_q);
                softmax(acc_s, ents[n - 1], row_base, row_max, row_sum);
                pack_p(acc_s);
            }
            for (int i = 1; i < n; i++) {
                scores acc_s;
                const int prev = at.stage;
                const uint32_t prev_phase = at.phase;
                at.next();
                mbar_wait(full_k(at.stage), at.phase);
                sched_wait();
                issue_s(acc_s, at.stage);
                mbar_wait(full_v(prev), prev_phase);
                issue_pv(prev);
                sched_pass();
                wgmma_wait<1>(); /* this tile's S; the previous P V may still run */
                wgmma_pin(acc_s[0]);
                release(empty_k(at.stage));
                if (!C::Q_IN_REGS && i == n - 1) release(empty_q);
                softmax(acc_s, ents[n - 1 - i], row_base, row_max, row_sum);
                wgmma_wait<0>();
                wgmma_pin(acc_o[0]);
                release(empty_v(prev));
                softmax_rescale<1, DT>(acc_o, alpha);
                pack_p(acc_s);
            }
            mbar_wait(full_v(at.stage), at.phase);
            issue_pv(at.stage);
            wgmma_wait<0>();
            wgmma_pin(acc_o[0]);
            release(empty_v(at.stage));
            at.next();
        }
        store_output<E, 1, DT, STORE>(acc_o, row_max, row_sum, p.out, w.b, w.h + my_head, row_base, p.seqlen_q,
                                      p.heads_q, D, p.scale_log2, lane);
    }
}

/* The arguments with the tensor maps of Q, K and V made for them. */
struct fwd_tma_args : flash_fwd_args {
    CUtensorMap q_map, k_map, v_map;
};

template <typename E, int D, fwd_shape SHAPE>
struct fwd_launch_shape {
    static cudaError_t run(const fwd_tma_args *a, cudaStream_t stream)
    {
        typedef fwd_cfg<D, SHAPE> C;
        void (*kernel)(fwd_tma_params) = a->store == STORE_MERGE_KEEP ? flash_fwd_kernel<E, D, SHAPE, STORE_MERGE_KEEP>
                                         : a->store == STORE_MERGE_OUT
                                             ? flash_fwd_kernel<E, D, SHAPE, STORE_MERGE_OUT>
                                             : flash_fwd_kernel<E, D, SHAPE, STORE_PLAIN>;
        cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, C::SMEM);
        int device, sms;
        if (e || (e = cudaGetDevice(&device)) ||
            (e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device)))
            return e;
        fwd_tma_params P;
        P.q_map = a->q_map;
        P.k_map = a->k_map;
        P.v_map = a->v_map;
        P.p = flash_fwd_params_make(a);
        P.n_items = a->shape.batch * (a->shape.heads_q / C::HEADS) * a->tiles->n_rows;
        const int ctas = (P.n_items + C::STREAMS - 1) / C::STREAMS, grid = ctas < sms ? ctas : sms;
        if (grid > 0) kernel<<<grid, C::THREADS, C::SMEM, stream>>>(P);
        return cudaGetLastError();
    }
};

template <typename E, int D>
struct fwd_launch {
    static cudaError_t run(const fwd_tma_args *a, cudaStream_t stream)
    {
        if (a->tiles->row_tile == FLASH_FWD_FINE_TILE)
            return (a->shape.heads_q / a->shape.heads_kv) % 2 == 0 ? fwd_launch_shape<E, D, FWD_PAIRED>::run(a, stream)
                                                                   : fwd_launch_shape<E, D, FWD_SPLIT>::run(a, stream);
        if (a->tiles->col_tile != FLASH_FWD_WIDE_TILE_K) return fwd_launch_shape<E, D, FWD_SHARED>::run(a, stream);
        if constexpr (D == 128) return fwd_launch_shape<E, D, FWD_WIDE>::run(a, stream);
        return cudaErrorNotSupported; /* the plan lists wide tiles at head dim 128 only */
    }
};

} // namespace

extern "C" enum lc_status flash_fwd_launch(const struct flash_fwd_args *a, void *stream, char *err)
{
    const flash_shape &s = a->shape;
    if ((int64_t)s.batch * s.heads_q * a->tiles->n_rows > INT_MAX)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "flash forward: more than 2^31 query tiles");
    /* the plan builds the lists in one of the three shapes */
    const bool fine = a->tiles->row_tile == FLASH_FWD_FINE_TILE, wide = a->tiles->col_tile == FLASH_FWD_WIDE_TILE_K;
    const int tile_q = fine ? FLASH_FWD_FINE_TILE : FLASH_FWD_TILE_Q;
    const int tile_k = fine ? FLASH_FWD_FINE_TILE : wide ? FLASH_FWD_WIDE_TILE_K : FLASH_FWD_TILE_K;
    fwd_tma_args t;
    static_cast<flash_fwd_args &>(t) = *a;
    enum lc_status st;
    if ((st = tensor_map_bshd(&t.q_map, a->q, s.batch, s.seqlen_q, s.heads_q, s.head_dim, tile_q, err)) ||
        (st = tensor_map_bshd(&t.k_map, a->k, s.batch, s.seqlen_k, s.heads_kv, s.head_dim, tile_k, err)) ||
        (st = tensor_map_bshd(&t.v_map, a->v, s.batch, s.seqlen_k, s.heads_kv, s.head_dim, tile_k, err)))
        return st;
    return flash_launch_checked<fwd_launch>(&t, tile_q, tile_k, false, "flash forward", stream, err);
}
