/* Fused attention backward by recomputation on Hopper's warpgroup MMA (wgmma, sm_90a).
 *
 * Each CTA owns 128 keys of one query head: two warpgroups of 64 keys, K and V resident in
 * shared memory. It walks the query tiles (64 queries) its tile-list row names; Q, dO, LSE and
 * Dsum of a tile arrive by cp.async in a two-stage ring. Per tile and warpgroup:
 *   S^T = K Q^T and dP^T = V dO^T      (both operands from shared memory)
 *   P^T = exp(S^T - LSE), dS^T = P^T (dP^T - Dsum) * scale   (registers; mask on partial tiles)
 *   dV += P^T dO, dK += dS^T Q         (A from registers, B transposed by the descriptor)
 *   dQ += dS K                         (dS^T staged in shared memory, read transposed)
 * dQ goes to an fp32 buffer with vector atomics, or, when deterministic, in key-tile order
 * under a per-query-tile turn counter. dK and dV are written per query head in fp32 and folded
 * over each GQA group afterwards (attn_aux.cu), which also converts dQ. */
#include "kernels/cuda/flash_launch.cuh"
#include "kernels/cuda/wgmma.cuh"

namespace {

typedef flash_bwd_params bwd_params;

template <int D>
struct bwd_cfg {
    static constexpr int BM = FLASH_BWD_TILE_Q, BN = FLASH_BWD_TILE_K;
    static constexpr int THREADS = 256; /* two warpgroups, 64 keys each */
    static constexpr int NT = BM / 8, DT = D / 8;
    static constexpr int KV_BYTES = BN * D * 2, QT_BYTES = BM * D * 2, DS_BYTES = BN * BM * 2;
    static constexpr int VEC_BYTES = BM * 4;
    /* K, V, two stages of (Q, dO), dS^T, then two stages of (LSE, Dsum); + alignment slack */
    static constexpr int SMEM = 2 * KV_BYTES + 4 * QT_BYTES + DS_BYTES + 4 * VEC_BYTES + 1024;
};

template <typename E, int D>
__global__ void __launch_bounds__(bwd_cfg<D>::THREADS, 1) flash_bwd_kernel(const bwd_params p)
{
    typedef bwd_cfg<D> C;
    constexpr int BM = C::BM, BN = C::BN, NT = C::NT, DT = C::DT;
    extern __shared__ unsigned char smem_raw[];

    const int tid = threadIdx.x, wg = tid / 128, lane = tid % 32, warp_in_wg = (tid / 32) % 4;
    /* key tiles vary fastest: the CTAs in flight share a few heads, so the dQ accumulator they
     * add into and the Q, dO they read stay in L2 */
    const int h = blockIdx.y, b = blockIdx.z;
    const int hk = h / p.group;
    const int mh = p.mask_heads == 1 ? 0 : hk;
    const flash_tile_row tiles = flash_tile_row_at(p.row_offsets, p.entries, p.row_order, mh, p.n_ktiles, blockIdx.x);
    const int kt = tiles.tile, n = tiles.n;
    const gpu_tile_entry *ents = tiles.ents;
    const int k0 = kt * BN;
    const int64_t q_stride = (int64_t)p.heads_q * D, kv_stride = (int64_t)p.heads_kv * D;
    const uint16_t *qg = p.q + (int64_t)b * p.seqlen_q * q_stride + (int64_t)h * D;
    const uint16_t *dog = p.d_o + (int64_t)b * p.seqlen_q * q_stride + (int64_t)h * D;
    const float *lseg = p.lse + ((int64_t)b * p.heads_q + h) * p.seqlen_q;
    const float *dsumg = p.dsum + ((int64_t)b * p.heads_q + h) * p.seqlen_q;

    const uint32_t base = (smem_addr(smem_raw) + 1023u) & ~1023u;
    const uint32_t s_k = base, s_v = s_k + C::KV_BYTES, s_qd = s_v + C::KV_BYTES;
    const uint32_t s_ds = s_qd + 4 * C::QT_BYTES, s_vec = s_ds + C::DS_BYTES;
    const float *f_vec = reinterpret_cast<const float *>(smem_raw + (s_vec - smem_addr(smem_raw)));

    int committed = 0;
    auto load_q_tile = [&](int i, int stage) {
        const int q0 = ents[i].tile * BM;
        const int valid = (int)min((int64_t)BM, p.seqlen_q - q0);
        const uint32_t dst = s_qd + stage * 2 * C::QT_BYTES;
        load_tile_sw128<BM, D, C::THREADS>(dst, qg + q0 * q_stride, q_stride, valid, tid);
        load_tile_sw128<BM, D, C::THREADS>(dst + C::QT_BYTES, dog + q0 * q_stride, q_stride, valid, tid);
        if (tid < 2 * BM) { /* LSE and Dsum, one float per thread: rows need not be 16-byte aligned */
            const int which = tid / BM, c = tid % BM;
            const bool ok = q0 + c < p.seqlen_q;
            const float *src = ok ? (which ? dsumg : lseg) + q0 + c : lseg;
            asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s_vec + (stage * 2 + which) * C::VEC_BYTES +
                                                                               c * 4),
                         "l"(src), "r"(ok ? 4 : 0));
        }
        cp_async_commit();
        committed++;
    };
    {
        const int valid = (int)min((int64_t)BN, p.seqlen_k - k0);
        const int64_t kv_off = ((int64_t)b * p.seqlen_k + k0) * kv_stride + (int64_t)hk * D;
        load_tile_sw128<BN, D, C::THREADS>(s_k, p.k + kv_off, kv_stride, valid, tid);
        load_tile_sw128<BN, D, C::THREADS>(s_v, p.v + kv_off, kv_stride, valid, tid);
        if (n > 0) load_q_tile(0, 0);
        else cp_async_commit();
        if (n > 1) load_q_tile(1, 1);
    }

    float acc_dk[DT][4], acc_dv[DT][4];
#pragma unroll
    for (int dt = 0; dt < DT; dt++)
#pragma unroll
        for (int c = 0; c < 4; c++) acc_dk[dt][c] = acc_dv[dt][c] = 0.f;
    wgmma_pin(acc_dk);
    wgmma_pin(acc_dv);
    const int key_base = k0 + wg * 64 + warp_in_wg * 16; /* this thread's keys: + lane/4 (+8) */
    const uint32_t s_kw = s_k + wg * 64 * 128, s_vw = s_v + wg * 64 * 128;

    for (int i = 0; i < n; i++) {
        if (committed - 1 - i >= 1)
            cp_async_wait<1>();
        else
            cp_async_wait<0>();
        fence_proxy_async();
        __syncthreads();
        const int stage = i & 1;
        const uint32_t s_q = s_qd + stage * 2 * C::QT_BYTES, s_do = s_q + C::QT_BYTES;
        const float *f_lse = f_vec + stage * 2 * BM, *f_dsum = f_lse + BM;
        const gpu_tile_entry ent = ents[i];
        const int q0 = ent.tile * BM;

        /* S^T = K Q^T and dP^T = V dO^T for this warpgroup's 64 keys */
        float st[1][NT][4], dpt[1][NT][4];
        wgmma_fence();
#pragma unroll
        for (int s = 0; s < D / 16; s++) {
            const uint32_t ko = (s / 4) * BN * 128 + (s % 4) * 32, qo = (s / 4) * BM * 128 + (s % 4) * 32;
            wgmma_ss<E, BM, 0, 0>::run(st[0], wgmma_desc(s_kw + ko, 16, 1024), wgmma_desc(s_q + qo, 16, 1024), s > 0);
        }
#pragma unroll
        for (int s = 0; s < D / 16; s++) {
            const uint32_t ko = (s / 4) * BN * 128 + (s % 4) * 32, qo = (s / 4) * BM * 128 + (s % 4) * 32;
            wgmma_ss<E, BM, 0, 0>::run(dpt[0], wgmma_desc(s_vw + ko, 16, 1024), wgmma_desc(s_do + qo, 16, 1024),
                                       s > 0);
        }
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_pin(st[0]);
        wgmma_pin(dpt[0]);

        if (ent.rule_count) mask_partial_t<1, NT>(st, p.rules + ent.rule_begin, ent.rule_count, key_base, q0, lane);
        uint32_t pa[BM / 16][4], da[BM / 16][4];
#pragma unroll
        for (int j = 0; j < NT; j++) {
            const float2 l2 = *reinterpret_cast<const float2 *>(f_lse + 8 * j + 2 * (lane % 4));
            const float2 d2 = *reinterpret_cast<const float2 *>(f_dsum + 8 * j + 2 * (lane % 4));
            const float lo = l2.x == -INFINITY ? 0.f : l2.x * FLASH_LOG2E;
            const float hi = l2.y == -INFINITY ? 0.f : l2.y * FLASH_LOG2E;
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                const float p0 = exp2f(fmaf(st[0][j][2 * hf], p.scale_log2, -lo));
                const float p1 = exp2f(fmaf(st[0][j][2 * hf + 1], p.scale_log2, -hi));
                st[0][j][2 * hf] = p0;
                st[0][j][2 * hf + 1] = p1;
                dpt[0][j][2 * hf] = p0 * (dpt[0][j][2 * hf] - d2.x) * p.scale;
                dpt[0][j][2 * hf + 1] = p1 * (dpt[0][j][2 * hf + 1] - d2.y) * p.scale;
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
        /* dV += P^T dO and dK += dS^T Q: B is [queries][d], d-major, transposed by the descriptor */
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < BM / 16; kk++)
            wgmma_rs<E, D, 1>::run(acc_dv, pa[kk], wgmma_desc(s_do + kk * 16 * 128, BM * 128, 1024), 1);
#pragma unroll
        for (int kk = 0; kk < BM / 16; kk++)
            wgmma_rs<E, D, 1>::run(acc_dk, da[kk], wgmma_desc(s_q + kk * 16 * 128, BM * 128, 1024), 1);
        wgmma_commit();
        /* dS^T to shared memory, [key][query] rows of 128 bytes, 128-byte swizzle: the dQ
         * product reads it as a query-major A operand */
#pragma unroll
        for (int kk = 0; kk < BM / 16; kk++)
#pragma unroll
            for (int r = 0; r < 4; r++) {
                const int key = wg * 64 + warp_in_wg * 16 + lane / 4 + 8 * (r & 1); /* row within the tile */
                const int chunk = 2 * kk + (r >> 1);
                const uint32_t addr = s_ds + key * 128 + ((chunk ^ (key & 7)) * 16) + (lane % 4) * 4;
                asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(da[kk][r]));
            }
        wgmma_wait<0>();
        wgmma_pin(acc_dv);
        wgmma_pin(acc_dk);
        fence_proxy_async();
        __syncthreads(); /* dS^T complete; this stage's Q and dO are free */
        if (i + 2 < n) load_q_tile(i + 2, stage);

        /* dQ[64 queries x 64 columns] = dS K. d = 128: warpgroup w takes columns 64w.. over all
         * 128 keys; d = 64: each warpgroup takes its own 64 keys, both add into dQ. */
        float dq[8][4];
        constexpr int KSTEPS = D == 128 ? BN / 16 : 4;
        const uint32_t ds_from = D == 128 ? s_ds : s_ds + wg * 64 * 128;
        const uint32_t k_from = D == 128 ? s_k + wg * BN * 128 : s_k + wg * 64 * 128;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < KSTEPS; kk++)
            wgmma_ss<E, 64, 1, 1>::run(dq, wgmma_desc(ds_from + kk * 16 * 128, 64 * 128, 1024),
                                       wgmma_desc(k_from + kk * 16 * 128, BN * 128, 1024), kk > 0);
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_pin(dq);

        int *turn = p.turns + ((int64_t)b * p.heads_q + h) * p.n_qtiles + ent.tile;
        /* d = 64 adds twice per tile (one per warpgroup): their turns are 2 rank and 2 rank + 1 */
        const int my_turn = D == 128 ? ent.rank : 2 * ent.rank + wg;
        if (p.deterministic) {
            if (D == 128 ? tid == 0 : tid % 128 == 0) {
                while (atomicAdd(turn, 0) != my_turn) __nanosleep(64);
                __threadfence();
            }
            if (D == 128)
                __syncthreads();
            else
                asm volatile("bar.sync %0, 128;\n" ::"r"(1 + wg));
        }
        const int dq_col = D == 128 ? wg * 64 : 0;
#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            const int q = q0 + warp_in_wg * 16 + lane / 4 + 8 * hf;
            if (q >= p.seqlen_q) continue;
            float *dst = p.dq_acc + (((int64_t)b * p.seqlen_q + q) * p.heads_q + h) * D + dq_col + 2 * (lane % 4);
#pragma unroll
            for (int j = 0; j < 8; j++) {
                if (p.deterministic) {
                    float2 old = __ldcg(reinterpret_cast<const float2 *>(dst + 8 * j));
                    old.x += dq[j][2 * hf];
                    old.y += dq[j][2 * hf + 1];
                    __stcg(reinterpret_cast<float2 *>(dst + 8 * j), old);
                } else {
                    red_add_f32x2(dst + 8 * j, dq[j][2 * hf], dq[j][2 * hf + 1]);
                }
            }
        }
        if (p.deterministic) {
            __threadfence();
            if (D == 128)
                __syncthreads();
            else
                asm volatile("bar.sync %0, 128;\n" ::"r"(1 + wg));
            if (D == 128 ? tid == 0 : tid % 128 == 0) atomicExch(turn, my_turn + 1);
        }
    }
    cp_async_wait<0>(); /* a key tile no query sees still loaded K and V */

    store_dk_dv<D, DT>(acc_dk, acc_dv, p, b, h, key_base, lane);
}

template <typename E, int D>
struct bwd_launch {
    static cudaError_t run(const flash_bwd_args *a, cudaStream_t stream)
    {
        return flash_bwd_run<D>(flash_bwd_kernel<E, D>, bwd_cfg<D>::THREADS, bwd_cfg<D>::SMEM, a, stream);
    }
};

} // namespace

extern "C" enum lc_status flash_bwd_launch(const struct flash_bwd_args *a, void *stream, char *err)
{
    return flash_launch_checked<bwd_launch>(a, FLASH_BWD_TILE_K, FLASH_BWD_TILE_Q, true, "flash backward",
                                            stream, err);
}
