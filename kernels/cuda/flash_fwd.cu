/* Fused attention forward on Hopper's warpgroup MMA (wgmma, sm_90a).
 *
 * One CTA owns 128 query rows of one head: two warpgroups of 64 rows each. Key tiles of 128
 * (those its tile-list row names, last first) arrive by cp.async into a three-stage ring laid out
 * as wgmma's 128-byte-swizzled operands; S = Q K^T reads Q and K straight from shared memory,
 * the online softmax runs on the accumulators in registers (base 2, scale folded into one FMA,
 * the elementwise mask only on partial tiles), and O += P V takes P from registers and V from
 * shared memory, transposed by the descriptor. The next tile's S is issued before this tile's
 * P V completes, so the tensor cores always hold queued work while the softmax runs.
 * GQA reads the shared KV head in place. Output: O in the input dtype and the natural-log LSE. */
#include "kernels/cuda/flash_launch.cuh"
#include "kernels/cuda/wgmma.cuh"

namespace {

typedef flash_fwd_params fwd_params;

template <int D>
struct fwd_cfg {
    static constexpr int BM = FLASH_FWD_TILE_Q, BN = FLASH_FWD_TILE_K;
    static constexpr int THREADS = 256; /* two warpgroups */
    static constexpr int NT = BN / 8, DT = D / 8;
    static constexpr int Q_BYTES = BM * D * 2, KV_BYTES = BN * D * 2;
    static constexpr int STAGES = 3;
    static constexpr int SMEM = Q_BYTES + STAGES * 2 * KV_BYTES + 1024; /* + alignment slack */
};

template <typename E, int D, flash_store STORE>
__global__ void __launch_bounds__(fwd_cfg<D>::THREADS, 1) flash_fwd_kernel(const fwd_params p)
{
    typedef fwd_cfg<D> C;
    constexpr int BM = C::BM, BN = C::BN, NT = C::NT, DT = C::DT;
    extern __shared__ unsigned char smem_raw[];

    const int tid = threadIdx.x, wg = tid / 128, lane = tid % 32, warp_in_wg = (tid / 32) % 4;
    const int h = blockIdx.x, b = blockIdx.z;
    const int hk = h / p.group;
    const int mh = p.mask_heads == 1 ? 0 : hk;
    const flash_tile_row tiles = flash_tile_row_at(p.row_offsets, p.entries, p.row_order, mh, p.n_qtiles, blockIdx.y);
    const int qt = tiles.tile, n = tiles.n;
    const gpu_tile_entry *ents = tiles.ents;
    const int q0 = qt * BM;
    const int64_t q_stride = (int64_t)p.heads_q * D, kv_stride = (int64_t)p.heads_kv * D;
    const uint16_t *kg = p.k + (int64_t)b * p.seqlen_k * kv_stride + (int64_t)hk * D;
    const uint16_t *vg = p.v + (int64_t)b * p.seqlen_k * kv_stride + (int64_t)hk * D;

    /* 128-byte-swizzle atoms must start on 1024-byte boundaries */
    const uint32_t s_q = (smem_addr(smem_raw) + 1023u) & ~1023u;
    /* stage st holds K at s_q + Q_BYTES + st * 2 * KV_BYTES, V right after it */
    const uint32_t s_kv = s_q + C::Q_BYTES;

    int committed = 0; /* cp.async groups issued: one per key tile (the first also carries Q) */
    auto load_kv = [&](int i, int stage) {
        const int k0 = ents[n - 1 - i].tile * BN;
        const int valid = (int)min((int64_t)BN, p.seqlen_k - k0);
        const uint32_t dst = s_kv + stage * 2 * C::KV_BYTES;
        load_tile_sw128<BN, D, C::THREADS>(dst, kg + k0 * kv_stride, kv_stride, valid, tid);
        load_tile_sw128<BN, D, C::THREADS>(dst + C::KV_BYTES, vg + k0 * kv_stride, kv_stride, valid, tid);
        cp_async_commit();
        committed++;
    };
    if (n > 0) {
        load_tile_sw128<BM, D, C::THREADS>(s_q, p.q + ((int64_t)b * p.seqlen_q + q0) * q_stride + (int64_t)h * D,
                                           q_stride, (int)min((int64_t)BM, p.seqlen_q - q0), tid);
        for (int i = 0; i < C::STAGES && i < n; i++) load_kv(i, i);
    }

    float acc_o[1][DT][4], acc_s[1][NT][4];
    float row_max[1][2] = {{-INFINITY, -INFINITY}}, row_sum[1][2] = {{0.f, 0.f}};
#pragma unroll
    for (int dt = 0; dt < DT; dt++)
#pragma unroll
        for (int c = 0; c < 4; c++) acc_o[0][dt][c] = 0.f;
    const int row_base = q0 + wg * 64 + warp_in_wg * 16;

    /* S = Q K^T of the key tile in `stage` for this warpgroup's 64 rows, issued, not awaited. */
    auto issue_s = [&](int stage) {
        const uint32_t kt = s_kv + stage * 2 * C::KV_BYTES, qw = s_q + wg * 64 * 128;
        wgmma_fence();
#pragma unroll
        for (int s = 0; s < D / 16; s++) {
            const uint64_t da = wgmma_desc(qw + (s / 4) * BM * 128 + (s % 4) * 32, 16, 1024);
            const uint64_t db = wgmma_desc(kt + (s / 4) * BN * 128 + (s % 4) * 32, 16, 1024);
            wgmma_ss<E, BN, 0, 0>::run(acc_s[0], da, db, s > 0);
        }
        wgmma_commit();
    };
    /* Waits for key tile i's copies (later tiles may stay in flight) and publishes them to the
     * tensor cores of both warpgroups. */
    auto tile_ready = [&](int i) {
        const int later = committed - 1 - i;
        if (later >= 2)
            cp_async_wait<2>();
        else if (later == 1)
            cp_async_wait<1>();
        else
            cp_async_wait<0>();
        fence_proxy_async();
        __syncthreads();
    };

    wgmma_pin(acc_o[0]); /* the zeros are written before any wgmma is in flight */
    if (n > 0) {
        tile_ready(0);
        issue_s(0);
    }
    for (int i = 0, stage = 0; i < n; i++, stage = stage == C::STAGES - 1 ? 0 : stage + 1) {
        wgmma_wait<0>(); /* S of tile i and P V of tile i-1 are complete */
        wgmma_pin(acc_s[0]);
        wgmma_pin(acc_o[0]);
        const gpu_tile_entry cur = ents[n - 1 - i];
        if (cur.rule_count)
            mask_partial<1, NT>(acc_s, p.rules + cur.rule_begin, cur.rule_count, row_base, cur.tile * BN, lane);
        online_softmax<1, NT, DT>(acc_s, acc_o, row_max, row_sum, p.scale_log2);

        uint32_t pa[BN / 16][4];
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            pa[kk][0] = E::pack(acc_s[0][2 * kk][0], acc_s[0][2 * kk][1]);
            pa[kk][1] = E::pack(acc_s[0][2 * kk][2], acc_s[0][2 * kk][3]);
            pa[kk][2] = E::pack(acc_s[0][2 * kk + 1][0], acc_s[0][2 * kk + 1][1]);
            pa[kk][3] = E::pack(acc_s[0][2 * kk + 1][2], acc_s[0][2 * kk + 1][3]);
        }
        /* O += P V: B is V [keys][d], d-major, so the descriptor transposes it */
        const uint32_t vt = s_kv + stage * 2 * C::KV_BYTES + C::KV_BYTES;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++)
            wgmma_rs<E, D, 1>::run(acc_o[0], pa[kk], wgmma_desc(vt + kk * 16 * 128, BN * 128, 1024), 1);
        wgmma_commit();
        /* the next tile's scores queue behind this P V */
        if (i + 1 < n) {
            tile_ready(i + 1);
            /* past that barrier both warpgroups have waited out tile i-1's P V: its stage
             * takes tile i+2 (tiles 0..2 came with the prologue) */
            if (i > 0 && i + 2 < n) load_kv(i + 2, stage == 0 ? C::STAGES - 1 : stage - 1);
            issue_s(stage == C::STAGES - 1 ? 0 : stage + 1);
        }
    }
    wgmma_wait<0>();
    wgmma_pin(acc_o[0]);
    store_output<E, 1, DT, STORE>(acc_o, row_max, row_sum, p.out, b, h, row_base, p.seqlen_q, p.heads_q, D,
                           p.scale_log2, lane);
}

template <typename E, int D>
struct fwd_launch {
    static cudaError_t run(const flash_fwd_args *a, cudaStream_t stream)
    {
        void (*kernel)(fwd_params) = a->store == STORE_MERGE_KEEP  ? flash_fwd_kernel<E, D, STORE_MERGE_KEEP>
                                     : a->store == STORE_MERGE_OUT ? flash_fwd_kernel<E, D, STORE_MERGE_OUT>
                                                                   : flash_fwd_kernel<E, D, STORE_PLAIN>;
        return flash_fwd_run(kernel, fwd_cfg<D>::THREADS, fwd_cfg<D>::SMEM, a, stream);
    }
};

} // namespace

extern "C" enum lc_status flash_fwd_launch(const struct flash_fwd_args *a, void *stream, char *err)
{
    return flash_launch_checked<fwd_launch>(a, FLASH_FWD_TILE_Q, FLASH_FWD_TILE_K, false, "flash forward",
                                            stream, err);
}
