/* flash_mma forward: tiled online softmax on warp-level tensor-core MMA (mma.sync m16n8k16).
 *
 * One CTA owns 128 query rows of one head (4 warps, 32 rows each) and walks the key tiles its
 * tile-list row names, last first: K and V tiles arrive by cp.async into a two-stage ring of
 * swizzled shared memory while the previous tile computes; fragments come out with ldmatrix.
 * Scores stay in registers, the softmax runs in base 2 with the scale folded into one FMA,
 * and only partial tiles pay for the elementwise mask. GQA reads the shared KV head in place.
 * Output: O in the input dtype and the natural-log LSE (scale included) that CP merges use. */
#include <math.h>

#include "kernels/cuda/flash_launch.cuh"

namespace {

typedef flash_fwd_params fwd_params;

template <int D>
struct fwd_cfg {
    static constexpr int BM = FLASH_MMA_FWD_TILE_Q, BN = FLASH_MMA_FWD_TILE_K;
    static constexpr int WARPS = 4, THREADS = WARPS * 32;
    static constexpr int MT = BM / (16 * WARPS); /* 16-row MMA tiles per warp */
    static constexpr int NT = BN / 8;             /* 8-column score tiles */
    static constexpr int DT = D / 8;              /* 8-column output tiles */
    static constexpr int CH = D / 8;              /* 16-byte chunks per row */
    static constexpr int Q_BYTES = BM * D * 2, KV_BYTES = BN * D * 2;
    static constexpr int SMEM = Q_BYTES + 4 * KV_BYTES; /* Q, K x2, V x2 */
};

template <typename E, int D, flash_store STORE>
__global__ void __launch_bounds__(fwd_cfg<D>::THREADS, 2) flash_fwd_kernel(const fwd_params p)
{
    typedef fwd_cfg<D> C;
    constexpr int BM = C::BM, BN = C::BN, MT = C::MT, NT = C::NT, DT = C::DT, CH = C::CH;
    extern __shared__ __align__(128) unsigned char smem[];

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
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

    const uint32_t s_q = smem_addr(smem), s_k = s_q + C::Q_BYTES, s_v = s_k + 2 * C::KV_BYTES;

    /* Key tiles are walked last entry first: a causal row meets its diagonal tile first. */
    auto load_kv = [&](int i, int stage) {
        const int k0 = ents[n - 1 - i].tile * BN;
        const int valid = (int)min((int64_t)BN, p.seqlen_k - k0);
        load_tile_async<BN, CH, C::THREADS>(s_k + stage * C::KV_BYTES, kg + k0 * kv_stride, kv_stride, valid, tid);
        load_tile_async<BN, CH, C::THREADS>(s_v + stage * C::KV_BYTES, vg + k0 * kv_stride, kv_stride, valid, tid);
        cp_async_commit();
    };
    if (n > 0) {
        load_tile_async<BM, CH, C::THREADS>(s_q, p.q + ((int64_t)b * p.seqlen_q + q0) * q_stride + (int64_t)h * D,
                                            q_stride, (int)min((int64_t)BM, p.seqlen_q - q0), tid);
        load_kv(0, 0);
        if (n > 1) load_kv(1, 1);
    }

    float acc_o[MT][DT][4];
    float row_max[MT][2], row_sum[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int dt = 0; dt < DT; dt++)
#pragma unroll
            for (int c = 0; c < 4; c++) acc_o[mt][dt][c] = 0.f;
        row_max[mt][0] = row_max[mt][1] = -INFINITY;
        row_sum[mt][0] = row_sum[mt][1] = 0.f;
    }
    const int warp_row = warp * MT * 16;
    /* ldmatrix addresses: a lane-dependent offset, XORed with the k-step's chunk bits (the
     * swizzle is an XOR, and the row part stays clear of those bits). */
    constexpr int RB = D * 2; /* bytes per smem row */
    const uint32_t q_off = (warp_row + lane % 16) * RB + ((lane / 16) ^ (lane & 7)) * 16;
    const uint32_t k_off = ((lane / 16) * 8 + lane % 8) * RB + (((lane / 8) & 1) ^ (lane & 7)) * 16;
    const uint32_t v_off = (((lane / 8) & 1) * 8 + lane % 8) * RB + ((lane / 16) ^ (lane & 7)) * 16;

    for (int i = 0; i < n; i++) {
        if (i + 1 < n)
            cp_async_wait<1>();
        else
            cp_async_wait<0>();
        __syncthreads();
        const uint32_t s_ks = s_k + (i & 1) * C::KV_BYTES, s_vs = s_v + (i & 1) * C::KV_BYTES;

        /* S = Q K^T for this warp's rows. */
        float acc_s[MT][NT][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int j = 0; j < NT; j++)
#pragma unroll
                for (int c = 0; c < 4; c++) acc_s[mt][j][c] = 0.f;
#pragma unroll 2
        for (int ks = 0; ks < D / 16; ks++) {
            uint32_t a[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
                ldmatrix_x4(a[mt], s_q + mt * 16 * RB + (q_off ^ (ks * 32)));
#pragma unroll
            for (int np = 0; np < NT / 2; np++) {
                uint32_t bk[4];
                ldmatrix_x4(bk, s_ks + np * 16 * RB + (k_off ^ (ks * 32)));
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma_16816<E>(acc_s[mt][2 * np], a[mt], bk);
                    mma_16816<E>(acc_s[mt][2 * np + 1], a[mt], bk + 2);
                }
            }
        }
        const gpu_tile_entry cur = ents[n - 1 - i];
        if (cur.rule_count)
            mask_partial<MT, NT>(acc_s, p.rules + cur.rule_begin, cur.rule_count, q0 + warp_row, cur.tile * BN, lane);

        online_softmax<MT, NT, DT>(acc_s, acc_o, row_max, row_sum, p.scale_log2);

        /* O += P V, P straight from the score registers. */
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            uint32_t a[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                a[mt][0] = E::pack(acc_s[mt][2 * kk][0], acc_s[mt][2 * kk][1]);
                a[mt][1] = E::pack(acc_s[mt][2 * kk][2], acc_s[mt][2 * kk][3]);
                a[mt][2] = E::pack(acc_s[mt][2 * kk + 1][0], acc_s[mt][2 * kk + 1][1]);
                a[mt][3] = E::pack(acc_s[mt][2 * kk + 1][2], acc_s[mt][2 * kk + 1][3]);
            }
#pragma unroll
            for (int dp = 0; dp < DT / 2; dp++) {
                uint32_t bv[4];
                ldmatrix_x4_trans(bv, s_vs + kk * 16 * RB + (v_off ^ (dp * 32)));
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma_16816<E>(acc_o[mt][2 * dp], a[mt], bv);
                    mma_16816<E>(acc_o[mt][2 * dp + 1], a[mt], bv + 2);
                }
            }
        }
        __syncthreads(); /* every warp is done with this stage before it is refilled */
        if (i + 2 < n) load_kv(i + 2, i & 1);
    }

    store_output<E, MT, DT, STORE>(acc_o, row_max, row_sum, p.out, b, h, q0 + warp_row, p.seqlen_q, p.heads_q, D,
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

extern "C" enum lc_status flash_mma_fwd_launch(const struct flash_fwd_args *a, void *stream, char *err)
{
    return flash_launch_checked<fwd_launch>(a, FLASH_MMA_FWD_TILE_Q, FLASH_MMA_FWD_TILE_K, false, "flash_mma forward",
                                            stream, err);
}
