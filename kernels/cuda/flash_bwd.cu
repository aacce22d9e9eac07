/* Fused attention backward by recomputation on Hopper, the FlashAttention-3 design (sm_90a).
 *
 * A persistent CTA of three warpgroups takes work items (batch, KV head, key tile) from a
 * counter, each head's key tiles longest first (ascending when deterministic), heads in order so
 * that the CTAs in flight share a few heads' dQ in L2. Per item the key tile's K and V stay
 * resident in shared memory while one producer warp streams, for each query head of the KV
 * head's GQA group in turn, the query tiles its tile-list row names: Q and dO by TMA, LSE and
 * Dsum by 4-byte copies (rows need not be 16-byte aligned) and the tile's list entry, into a
 * ring of STAGES slots guarded by full/empty mbarriers. The
 * producer warpgroup gives its registers to the two consumer warpgroups (setmaxnreg), which own
 * 64 keys each:
 *   S^T = K Q^T and dP^T = V dO^T      (both operands from shared memory, two commit groups)
 *   P^T = exp(S^T - LSE), dS^T = P^T (dP^T - Dsum) * scale   (registers; mask on partial tiles)
 *   dV += P^T dO, dK += dS^T Q         (A from registers, B transposed by the descriptor)
 *   dQ += dS K                         (dS^T staged in shared memory, two buffers, read transposed)
 * in the order dV, dQ, dK, so that dQ goes to the dQ warp while dK runs. At d = 128 the two
 * warpgroups meet at a barrier each step, dS^T complete, and each takes half of dQ's columns over
 * all 128 keys; with halves apart (APART, chosen by the plan where the mask leaves many 64-key
 * halves unseen: block-sparse at B = 64) each warpgroup skips the steps its keys do not see and
 * adds dQ over all columns from its own 64 keys, through its own dQ warp.
 * dK and dV stay in registers for the whole item, summed over the group there, and are written
 * once per KV head (no per-query-head buffer and no summing pass). dQ goes to an fp32 buffer by
 * the copy engine:
 * each consumer warpgroup stages its 64 x 64 fp32 dQ in shared memory (two 128-byte-swizzled
 * boxes of 32 columns) and hands it to the producer warpgroup's warp 1, which adds it into the
 * buffer with bulk tensor reduce-adds and gives the staging back once the copy engine has read
 * it (a full and an empty mbarrier per warpgroup, with a 16-byte message naming the tile).
 * Deterministic, the adds go in key-tile order under a per-query-tile turn counter that the dQ
 * warp alone keeps; each key tile then walks its query tiles from the last, and the producer
 * takes an item only once it can start it and the last item's adds are complete. */
#include <limits.h>

#include "kernels/cuda/flash_bwd_cfg.cuh"
#include "kernels/cuda/flash_bwd_dq.cuh"
#include "kernels/cuda/wgmma.cuh"

namespace {

template <typename E, int D, bool APART>
__global__ void __launch_bounds__(bwd_cfg<D, APART>::THREADS, 1)
    flash_bwd_kernel(const __grid_constant__ bwd_tma_params P)
{
    typedef bwd_cfg<D, APART> C;
    constexpr int BM = C::BM, BN = C::BN, NT = C::NT, DT = C::DT, STAGES = C::STAGES;
    const flash_bwd_params &p = P.p;
    extern __shared__ unsigned char smem_raw[];
    const uint32_t s_k = (smem_addr(smem_raw) + 1023u) & ~1023u;
    const uint32_t s_v = s_k + C::OFF_V, s_qd = s_k + C::OFF_QD, s_ds = s_k + C::OFF_DS;
    const uint32_t s_vec = s_k + C::OFF_VEC, bars = s_k + C::OFF_BARS;
    const uint32_t full_kv = bars, empty_kv = bars + 8, s_item = s_k + C::OFF_ITEM, s_ent = s_k + C::OFF_ENT;
    /* after the ring's barriers: the dQ warp's arrival per finished item (deterministic), then per
     * consumer warpgroup (8 bytes apart) its full and its empty barrier */
    const uint32_t s_dq = s_k + C::OFF_DQ, s_msg = s_k + C::OFF_MSG, item_done = bars + 16 + 16 * STAGES;
    const uint32_t dq_full = item_done + 8, dq_empty = item_done + 24;
    auto full = [&](int s) { return bars + 16 + 8 * s; };
    auto empty = [&](int s) { return bars + 16 + 8 * (STAGES + s); };
    auto q_at = [&](int s) { return s_qd + s * 2 * C::QT_BYTES; };
    auto vec_at = [&](int s) { return s_vec + s * 2 * C::VEC_BYTES; }; /* LSE, then Dsum */
    /* The order a key tile walks its query tiles. Deterministic: from the last, so that where lists
     * are suffixes or windows (causal, sliding window, documents) key tile j meets each query tile
     * no later in its walk than key tile j + 1, whose dQ turn comes after it: the CTAs of a head
     * wait on each other one step at most, not a staircase of steps. */
    auto walk = [&](int i, int n) { return p.deterministic ? n - 1 - i : i; };

    const int tid = threadIdx.x, wg = tid / 128, lane = tid % 32;
    if (tid == 0) {
        mbar_init(full_kv, 1);
        mbar_init(empty_kv, CONSUMER_THREADS);
        for (int s = 0; s < STAGES; s++) {
            mbar_init(full(s), 1 + 32); /* the TMA arrival and the warp's 32 copy arrivals */
            mbar_init(empty(s), CONSUMER_THREADS);
        }
        mbar_init(item_done, 1);
        for (int c = 0; c < 2; c++) {
            mbar_init(dq_full + 8 * c, DQ_FULL_COUNT);
            mbar_init(dq_empty + 8 * c, DQ_EMPTY_COUNT);
        }
        mbar_init_fence();
    }
    __syncthreads();

    if (wg == 0) {
        /* producer: warp 0; lane 0 issues the TMA copies, all lanes copy LSE and Dsum */
        regs_shrink<C::PRODUCER_REGS>();
        if constexpr (APART) {
            if (tid / 32 == 1 || tid / 32 == 2) {
                dq_warp_apart(P, tid / 32 - 1, s_dq, s_msg, dq_full, dq_empty);
                return;
            }
        } else if (tid / 32 == 1) {
            dq_warp<D>(P, s_dq, s_msg, dq_full, dq_empty, item_done);
            return;
        }
        if (tid >= 32) return;
        if (lane == 0) {
            tma_prefetch_map(&P.q_map);
            tma_prefetch_map(&P.do_map);
            tma_prefetch_map(&P.k_map);
            tma_prefetch_map(&P.v_map);
        }
        ring_pos<STAGES> at;
        uint32_t kv_phase = 0;
        auto load_q_tile = [&](const bwd_item &w, int g, int i) { /* the item's query head g, entry i */
            const int h = w.out * p.heads_per_item + g;
            const gpu_tile_entry *ent = w.row.ents + walk(i, w.row.n);
            const int q0 = ent->tile * BM;
            const int64_t row0 = ((int64_t)w.b * p.heads_q + h) * p.seqlen_q;
            mbar_wait(empty(at.stage), at.phase ^ 1);
            const uint32_t v = vec_at(at.stage);
#pragma unroll
            for (int r = lane; r < BM; r += 32) {
                const bool ok = q0 + r < p.seqlen_q;
                cp_async_4(v + 4 * r, p.lse + row0 + (ok ? q0 + r : 0), ok);
                cp_async_4(v + C::VEC_BYTES + 4 * r, p.dsum + row0 + (ok ? q0 + r : 0), ok);
            }
            /* the tile's list entry too: the consumers read it from shared memory */
            if (lane == 0) cp_async_16(s_ent + 16 * at.stage, ent, true);
            mbar_arrive_cp_async(full(at.stage));
            if (lane == 0) {
                const uint32_t q = q_at(at.stage);
                mbar_expect_tx(full(at.stage), 2 * C::QT_BYTES);
                for (int c = 0; c < D / 64; c++) {
                    tma_load_4d(q + c * BM * 128, &P.q_map, full(at.stage), c * 64, h, q0, w.b);
                    tma_load_4d(q + C::QT_BYTES + c * BM * 128, &P.do_map, full(at.stage), c * 64, h, q0, w.b);
                }
            }
            at.next();
        };
        /* names the item to the consumers (past the end: stop) once they have let go of K, V */
        auto announce = [&](int it, const bwd_item &w) {
            mbar_wait(empty_kv, kv_phase ^ 1);
            kv_phase ^= 1;
            if (lane != 0) return;
            st_shared_i32(s_item, it);
            if (it >= P.n_items || w.row.n == 0) {
                mbar_arrive(full_kv);
                return;
            }
            const int k0 = w.row.tile * BN;
            mbar_expect_tx(full_kv, 2 * C::KV_BYTES);
            for (int c = 0; c < D / 64; c++) {
                tma_load_4d(s_k + c * BN * 128, &P.k_map, full_kv, c * 64, w.hk, k0, w.b);
                tma_load_4d(s_v + c * BN * 128, &P.v_map, full_kv, c * 64, w.hk, k0, w.b);
            }
        };
        for (;;) {
            /* Deterministic: an item is taken only by a CTA free to start it, since the dQ turns of
             * later items wait on it (taken ahead, it would wait on this CTA's current item). */
            if (p.deterministic) {
                mbar_wait(empty_kv, kv_phase ^ 1);
                /* the consumers are done with it, but its dQ adds are the dQ warp's: those too (one
                 * item_done phase per item, as empty_kv's) */
                mbar_wait(item_done, kv_phase ^ 1);
            }
            int it = 0;
            if (lane == 0) it = atomicAdd(P.next_item, 1);
            it = __shfl_sync(0xffffffffu, it, 0);
            bwd_item w = {0, 0, 0, {0, 0, nullptr}};
            if (it < P.n_items) w = bwd_item_at(p, it);
            const int steps = w.row.n * p.heads_per_item;
            /* the first query tile goes ahead of K and V: it needs only a free slot */
            if (steps > 0) load_q_tile(w, 0, 0);
            announce(it, w);
            if (it >= P.n_items) break;
            for (int g = 0, i = 1; g < p.heads_per_item; g++, i = 0)
                for (; i < w.row.n; i++) load_q_tile(w, g, i);
        }
        return;
    }

    regs_grow<C::CONSUMER_REGS>();
    const int cw = wg - 1, warp_in_wg = (tid / 32) % 4;
    const uint32_t s_kw = s_k + cw * 64 * 128, s_vw = s_v + cw * 64 * 128; /* this warpgroup's 64 keys */
    /* the operands' descriptors, made once: each product's steps add constant offsets to them */
    const uint64_t kw_desc = wgmma_desc(s_kw, 16, 1024), vw_desc = wgmma_desc(s_vw, 16, 1024);
    const uint64_t kt_desc = D == 128 && !APART ? wgmma_desc(s_k + cw * BN * 128, BN * 128, 1024)
                                                : wgmma_desc(s_kw, BN * 128, 1024);
    /* d = 128: dQ's columns split between the warpgroups, each over both warpgroups' dS^T; d = 64:
     * each warpgroup its own keys' share of all columns, added separately */
    auto ds_sync = [&]() {
        if (D == 128 && !APART)
            named_sync(DS_BARRIER, CONSUMER_THREADS);
        else
            named_sync(WG_BARRIER + cw, 128);
    };

    ring_pos<STAGES> at;
    uint32_t kv_phase = 0;
    int ds_buf = 0;
    uint32_t dq_phase = 0;
    /* the staging and the message slot once the dQ warp is done with the last ones */
    auto dq_claim = [&]() { mbar_wait(dq_empty + 8 * cw, dq_phase ^ 1); };
    /* the message, after whatever this thread staged; the 128th arrival hands both over */
    auto dq_post = [&](int b, int h, int tile, int word) {
        if (tid % 128 == 0) st_shared_v4_i32(s_msg + 16 * cw, b, h, tile, word);
        fence_proxy_async(); /* this thread's stores, before the copy engine reads them */
        mbar_arrive(dq_full + 8 * cw);
        dq_phase ^= 1;
    };
    for (;;) {
        mbar_wait(full_kv, kv_phase);
        kv_phase ^= 1;
        const int it = ld_shared_i32(s_item);
        if (it >= P.n_items) {
            dq_claim();
            dq_post(0, 0, 0, DQ_STOP);
            break;
        }
        const bwd_item w = bwd_item_at(p, it);
        const int n = w.row.n, b = w.b, steps = n * p.heads_per_item;
        const int key_base = w.row.tile * BN + cw * 64 + warp_in_wg * 16; /* this thread's keys: + lane/4 (+8) */
        const int kw_end = w.row.tile * BN + cw * 64 + 64;                /* past this warpgroup's keys */

        float acc_dk[DT][4], acc_dv[DT][4];
#pragma unroll
        for (int dt = 0; dt < DT; dt++)
#pragma unroll
            for (int c = 0; c < 4; c++) acc_dk[dt][c] = acc_dv[dt][c] = 0.f;
        wgmma_pin(acc_dk);
        wgmma_pin(acc_dv);

        int h = w.out * p.heads_per_item, left_in_head = n; /* step t's query head, and its steps left */
        for (int t = 0; t < steps; t++, at.next(), ds_buf ^= 1) {
            if (left_in_head == 0) h++, left_in_head = n;
            left_in_head--;
            const uint32_t s_q = q_at(at.stage); /* dO follows at + QT_BYTES */
            const uint64_t q_desc = wgmma_desc(s_q, 16, 1024), qt_desc = wgmma_desc(s_q, BM * 128, 1024);
            const float *f_lse = reinterpret_cast<const float *>(smem_raw + (vec_at(at.stage) - smem_addr(smem_raw)));
            const float *f_dsum = f_lse + BM;
            mbar_wait(full(at.stage), at.phase);
            const uint32_t e_at = s_ent + 16 * at.stage;
            const gpu_tile_entry ent = {ld_shared_i32(e_at), ld_shared_i32(e_at + 4), ld_shared_i32(e_at + 8),
                                        ld_shared_i32(e_at + 12)};
            const int q0 = ent.tile * BM;

            /* A partial tile whose rules leave this warpgroup's 64 keys unseen (block-sparse at B = 64,
             * for one) has P = dS = 0 there: the warpgroup skips its products and gives dQ zeros. */
            bool idle = ent.rule_count > 0;
            for (int r = 0; r < ent.rule_count && idle; r++) {
                const longca_rule &rule = p.rules[ent.rule_begin + r];
                idle = rule.k_begin >= kw_end || rule.k_end <= kw_end - 64;
            }
            if (APART && idle) { /* nothing to add: this warpgroup goes on to its next step */
                mbar_arrive(empty(at.stage));
                continue;
            }
            uint32_t pa[BM / 16][4], da[BM / 16][4];
            if (!idle) {
                /* S^T = K Q^T and dP^T = V dO^T for this warpgroup's 64 keys, one commit group each */
                float st[1][NT][4], dpt[1][NT][4];
                wgmma_fence();
#pragma unroll
                for (int s = 0; s < D / 16; s++) {
                    const uint32_t ko = (s / 4) * BN * 128 + (s % 4) * 32, qo = (s / 4) * BM * 128 + (s % 4) * 32;
                    wgmma_ss<E, BM, 0, 0>::run(st[0], wgmma_desc_at(kw_desc, ko), wgmma_desc_at(q_desc, qo), s > 0);
                }
                wgmma_commit();
#pragma unroll
                for (int s = 0; s < D / 16; s++) {
                    const uint32_t ko = (s / 4) * BN * 128 + (s % 4) * 32, qo = (s / 4) * BM * 128 + (s % 4) * 32;
                    wgmma_ss<E, BM, 0, 0>::run(dpt[0], wgmma_desc_at(vw_desc, ko),
                                               wgmma_desc_at(q_desc, C::QT_BYTES + qo), s > 0);
                }
                wgmma_commit();
                wgmma_wait<1>(); /* S^T; dP^T may still run */
                wgmma_pin(st[0]);

                if (ent.rule_count)
                    mask_partial_t<1, NT>(st, p.rules + ent.rule_begin, ent.rule_count, key_base, q0, lane);
#pragma unroll
                for (int j = 0; j < NT; j++) {
                    const float2 l2 = *reinterpret_cast<const float2 *>(f_lse + 8 * j + 2 * (lane % 4));
                    const float lo = l2.x == -INFINITY ? 0.f : l2.x * FLASH_LOG2E;
                    const float hi = l2.y == -INFINITY ? 0.f : l2.y * FLASH_LOG2E;
#pragma unroll
                    for (int hf = 0; hf < 2; hf++) {
                        st[0][j][2 * hf] = exp2f(fmaf(st[0][j][2 * hf], p.scale_log2, -lo));
                        st[0][j][2 * hf + 1] = exp2f(fmaf(st[0][j][2 * hf + 1], p.scale_log2, -hi));
                    }
                }
                wgmma_wait<0>();
                wgmma_pin(dpt[0]);
#pragma unroll
                for (int j = 0; j < NT; j++) {
                    const float2 d2 = *reinterpret_cast<const float2 *>(f_dsum + 8 * j + 2 * (lane % 4));
#pragma unroll
                    for (int hf = 0; hf < 2; hf++) {
                        dpt[0][j][2 * hf] = st[0][j][2 * hf] * (dpt[0][j][2 * hf] - d2.x) * p.scale;
                        dpt[0][j][2 * hf + 1] = st[0][j][2 * hf + 1] * (dpt[0][j][2 * hf + 1] - d2.y) * p.scale;
                    }
                }
                /* A fragments: k-step kk covers query columns 16kk..16kk+15, i.e. score tiles 2kk, 2kk+1 */
#pragma unroll
                for (int kk = 0; kk < BM / 16; kk++) {
                    pa[kk][0] = E::pack(st[0][2 * kk][0], st[0][2 * kk][1]);
                    pa[kk][1] = E::pack(st[0][2 * kk][2], st[0][2 * kk][3]);
                    pa[kk][2] = E::pack(st[0][2 * kk + 1][0], st[0][2 * kk + 1][1]);
                    pa[kk][3] = E::pack(st[0][2 * kk + 1][2], st[0][2 * kk + 1][3]);
                    da[kk][0] = E::pack(dpt[0][2 * kk][0], dpt[0][2 * kk][1]);
                    da[kk][1] = E::pack(dpt[0][2 * kk][2], dpt[0][2 * kk][3]);
                    da[kk][2] = E::pack(dpt[0][2 * kk + 1][0], dpt[0][2 * kk + 1][1]);
                    da[kk][3] = E::pack(dpt[0][2 * kk + 1][2], dpt[0][2 * kk + 1][3]);
                }
                /* dV += P^T dO: B is [queries][d], d-major, transposed by the descriptor (dK follows the
                 * dQ product, so that dQ's staging runs under it) */
                wgmma_fence();
#pragma unroll
                for (int kk = 0; kk < BM / 16; kk++)
                    wgmma_rs<E, D, 1>::run(acc_dv, pa[kk], wgmma_desc_at(qt_desc, C::QT_BYTES + kk * 16 * 128), 1);
                wgmma_commit();
            } else {
#pragma unroll
                for (int kk = 0; kk < BM / 16; kk++)
#pragma unroll
                    for (int r = 0; r < 4; r++) da[kk][r] = 0u;
            }
            /* dS^T to shared memory, [key][query] rows of 128 bytes, 128-byte swizzle: the dQ
             * product reads it as a query-major A operand. Two buffers: the other warpgroup may
             * still read the last tile's until the barrier below. */
            const uint32_t ds = s_ds + ds_buf * C::DS_BYTES;
#pragma unroll
            for (int kk = 0; kk < BM / 16; kk++)
#pragma unroll
                for (int r = 0; r < 4; r++) {
                    const int key = cw * 64 + warp_in_wg * 16 + lane / 4 + 8 * (r & 1); /* row within the tile */
                    const int chunk = 2 * kk + (r >> 1);
                    st_shared_i32(ds + key * 128 + ((chunk ^ (key & 7)) * 16) + (lane % 4) * 4, (int)da[kk][r]);
                }
            fence_proxy_async();
            ds_sync();

            /* dK += dS^T Q, same B layout as dV's; an idle warpgroup's too (dS = 0): issued on one
             * path only and running across the dQ hand-off, it made ptxas serialize every wgmma */
            auto issue_dk = [&]() {
#pragma unroll
                for (int kk = 0; kk < BM / 16; kk++)
                    wgmma_rs<E, D, 1>::run(acc_dk, da[kk], wgmma_desc_at(qt_desc, kk * 16 * 128), 1);
                wgmma_commit();
            };
            float dq[8][4];
            if constexpr (APART) {
                /* dQ[64 queries x 128 columns] = dS K over this warpgroup's 64 keys, a column half at
                 * a time (the 32 registers of the shared form's dQ): the first half runs beside dK and
                 * is staged under it, the second after; one message hands both over */
                const uint64_t ds_desc = wgmma_desc(ds + cw * 64 * 128, 64 * 128, 1024);
                auto dq_half = [&](int c) {
                    wgmma_fence();
#pragma unroll
                    for (int kk = 0; kk < 4; kk++)
                        wgmma_ss<E, 64, 1, 1>::run(dq, wgmma_desc_at(ds_desc, kk * 16 * 128),
                                                   wgmma_desc_at(kt_desc, c * BN * 128 + kk * 16 * 128), kk > 0);
                    wgmma_commit();
                };
                dq_half(0);
                issue_dk();
                wgmma_wait<1>(); /* dV and the first half; dK may still run */
                wgmma_pin(acc_dv);
                wgmma_pin(dq);
                dq_claim();
                stage_dq(dq, s_dq + cw * C::DQ_STAGE_BYTES);
                dq_half(1);
                wgmma_wait<0>();
                wgmma_pin(acc_dk);
                wgmma_pin(dq);
                stage_dq(dq, s_dq + cw * C::DQ_STAGE_BYTES + 2 * C::DQ_BOX_BYTES);
                dq_post(b, h, ent.tile, ent.rank << DQ_FLAG_BITS);
            } else {
                /* dQ[64 queries x 64 columns] = dS K. d = 128: warpgroup w takes columns 64w.. over
                 * all 128 keys; d = 64: each warpgroup takes its own 64 keys, both add into dQ. */
                constexpr int KSTEPS = D == 128 ? BN / 16 : 4;
                const uint64_t ds_desc = wgmma_desc(D == 128 ? ds : ds + cw * 64 * 128, 64 * 128, 1024);
                wgmma_fence();
#pragma unroll
                for (int kk = 0; kk < KSTEPS; kk++)
                    wgmma_ss<E, 64, 1, 1>::run(dq, wgmma_desc_at(ds_desc, kk * 16 * 128),
                                               wgmma_desc_at(kt_desc, kk * 16 * 128), kk > 0);
                wgmma_commit();
                issue_dk();
                wgmma_wait<1>(); /* dV and dQ; dK may still run */
                wgmma_pin(acc_dv);
                wgmma_pin(dq);

                /* to the dQ warp, while dK runs: staging free (the copy engine has read the last
                 * tile's), dQ staged, its message; d = 64 with this warpgroup's keys unseen, dQ is
                 * zero: nothing staged */
                const bool skip = D == 64 && idle;
                dq_claim();
                if (!skip) stage_dq(dq, s_dq + cw * C::DQ_STAGE_BYTES);
                dq_post(b, h, ent.tile,
                        (ent.rank << DQ_FLAG_BITS) | (skip ? DQ_SKIP : 0) | (t == steps - 1 ? DQ_LAST : 0));
                wgmma_wait<0>();
                wgmma_pin(acc_dk);
            }
            mbar_arrive(empty(at.stage)); /* this slot's Q, dO, LSE and Dsum are free */
        }
        if (steps == 0) { /* no tiles: the dQ warp hears of the item all the same (it ends it, deterministic) */
            dq_claim();
            dq_post(b, h, 0, DQ_NONE | DQ_SKIP | DQ_LAST);
        }
        mbar_arrive(empty_kv); /* K and V read for the last time (the dQ product above) */
        store_dk_dv<E, D, DT>(acc_dk, acc_dv, p, b, w.out, key_base, lane);
    }
}

/* The arguments with the tensor maps of Q, dO, K and V made for them. */
struct bwd_tma_args : flash_bwd_args {
    CUtensorMap q_map, do_map, k_map, v_map;
    CUtensorMap dq_map;
};

template <typename E, int D, bool APART>
struct bwd_launch_as {
    static cudaError_t run(const bwd_tma_args *a, cudaStream_t stream)
    {
        typedef bwd_cfg<D, APART> C;
        void (*kernel)(bwd_tma_params) = flash_bwd_kernel<E, D, APART>;
        bwd_tma_params P;
        int device, sms;
        cudaError_t e;
        if ((e = flash_bwd_before<D>(a, a->heads_per_item, P.p, stream)) ||
            (e = cudaMemsetAsync(a->buf.next_item, 0, sizeof(int), stream)) ||
            (e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, C::SMEM)) ||
            (e = cudaGetDevice(&device)) || (e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device)))
            return e;
        P.q_map = a->q_map;
        P.do_map = a->do_map;
        P.k_map = a->k_map;
        P.v_map = a->v_map;
        P.dq_map = a->dq_map;
        P.n_items = a->shape.batch * P.p.heads_out * a->tiles->n_rows;
        P.next_item = a->buf.next_item;
        const int grid = P.n_items < sms ? P.n_items : sms;
        if (grid > 0) kernel<<<grid, C::THREADS, C::SMEM, stream>>>(P);
        if ((e = cudaGetLastError())) return e;
        return flash_bwd_after<D>(a, P.p, stream);
    }
};

/* Halves apart where the plan chose them (d = 128 only: it asks no other) */
template <typename E, int D>
struct bwd_launch {
    static cudaError_t run(const bwd_tma_args *a, cudaStream_t stream)
    {
        if constexpr (D == 128)
            if (a->halves_apart) return bwd_launch_as<E, D, true>::run(a, stream);
        return bwd_launch_as<E, D, false>::run(a, stream);
    }
};

} // namespace

/* Query heads per work item: a whole GQA group where that pays, else one. A whole group keeps
 * its dK, dV in registers (no fp32 partials, no summing pass after the kernel: 4 % on a full 8K
 * mask, 12-17 % on a sliding window's short rows, H100, 64:8 heads) but makes items group times
 * longer and puts a group's dQ in flight at once. Where that dQ left L2 (full, causal and
 * block-sparse at 32K: 1-7 % lost) or rows differ in length (causal and documents: 7-22 % lost
 * at 8K and 32K, documents at 32K even with the longest item a quarter of an SM's share), one
 * query head per item won. So whole groups only where the dQ adds stay in L2 (a key tile's
 * query tiles lie within a quarter of the sequence, or a group's whole dQ fits in three
 * quarters of L2), rows are of one length (the longest within 1.25 times the mean: full masks,
 * sliding windows), the longest item is under a third of an SM's share, and the dQ order is
 * free (deterministic turns would chain the group's heads). */
extern "C" int flash_bwd_heads_per_item(const struct flash_shape *s, const struct gpu_tiles *t, bool deterministic)
{
    int device, sms = 0, l2 = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device) != cudaSuccess)
        return 1;
    const int group = s->heads_q / s->heads_kv;
    const double steps = (double)s->batch * s->heads_q * t->n_entries / t->n_heads; /* (query head, tile) pairs */
    const double group_dq_bytes = (double)group * s->seqlen_q * s->head_dim * 4;
    const bool dq_in_l2 = 4 * t->max_row_span <= t->n_cols || group_dq_bytes <= 0.75 * l2;
    const bool short_items = 3.0 * t->max_row_entries * group * sms <= steps;
    const bool even_rows = 4.0 * t->max_row_entries * t->n_heads * t->n_rows <= 5.0 * t->n_entries;
    return !deterministic && dq_in_l2 && short_items && even_rows ? group : 1;
}

extern "C" enum lc_status flash_bwd_launch(const struct flash_bwd_args *a, void *stream, char *err)
{
    const flash_shape &s = a->shape;
    /* + the counter's overshoot: every CTA takes one item past the end */
    if ((int64_t)s.batch * s.heads_q * a->tiles->n_rows > INT_MAX - 65536)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "flash backward: more than 2^31 key tiles");
    if (a->heads_per_item != s.heads_q / s.heads_kv && !a->buf.dk_acc)
        return lc_fail(err, LC_ERR_INTERNAL, "flash backward: no workspace for dK, dV partials");
    bwd_tma_args t;
    static_cast<flash_bwd_args &>(t) = *a;
    enum lc_status st;
    if ((st = tensor_map_bshd(&t.q_map, a->q, s.batch, s.seqlen_q, s.heads_q, s.head_dim, FLASH_BWD_TILE_Q, err)) ||
        (st = tensor_map_bshd(&t.do_map, a->d_o, s.batch, s.seqlen_q, s.heads_q, s.head_dim, FLASH_BWD_TILE_Q, err)) ||
        (st = tensor_map_bshd(&t.k_map, a->k, s.batch, s.seqlen_k, s.heads_kv, s.head_dim, FLASH_BWD_TILE_K, err)) ||
        (st = tensor_map_bshd(&t.v_map, a->v, s.batch, s.seqlen_k, s.heads_kv, s.head_dim, FLASH_BWD_TILE_K, err)))
        return st;
    if ((st = tensor_map_bshd_f32(&t.dq_map, a->buf.dq_acc, s.batch, s.seqlen_q, s.heads_q, s.head_dim,
                                  FLASH_BWD_TILE_Q, err)))
        return st;
    return flash_launch_checked<bwd_launch>(&t, FLASH_BWD_TILE_K, FLASH_BWD_TILE_Q, true, "flash backward", stream,
                                            err);
}
