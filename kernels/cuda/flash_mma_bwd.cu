/* flash_mma backward by recomputation on warp-level tensor-core MMA (mma.sync m16n8k16).
 *
 * A preprocessing kernel forms Dsum = rowsum(dO * O). The main kernel gives each CTA 128 keys
 * of one query head (8 warps, 16 keys each) and walks the query tiles its tile-list row names:
 * per tile it recomputes P^T = exp(K Q^T - LSE) from the saved LSE, accumulates dV += P^T dO,
 * forms dS^T = P^T (V dO^T - Dsum) * scale, accumulates dK += dS^T Q, and adds its share of
 * dQ = dS K into an fp32 buffer: with atomics, or, when deterministic, in key-tile order under
 * a per-query-tile turn counter. dK and dV are written per query head in fp32 and summed over
 * each GQA group afterwards (attn_aux.cu), which also converts dQ; no K/V copy is ever made. */
#include <math.h>

#include "kernels/cuda/flash_launch.cuh"

namespace {

typedef flash_bwd_params bwd_params;

template <int D>
struct bwd_cfg {
    static constexpr int BM = FLASH_MMA_BWD_TILE_Q, BN = FLASH_MMA_BWD_TILE_K;
    static constexpr int WARPS = 8, THREADS = WARPS * 32;
    static constexpr int NT = BM / 8;  /* 8-column (query) score tiles per warp */
    static constexpr int DT = D / 8;   /* 8-column dK / dV tiles */
    static constexpr int CH = D / 8;   /* 16-byte chunks per Q/K/V row */
    static constexpr int RB = D * 2;   /* bytes per Q/K/V smem row */
    static constexpr int KV_BYTES = BN * D * 2, QT_BYTES = BM * D * 2, DS_BYTES = BN * BM * 2;
    static constexpr int VEC_BYTES = BM * 4; /* LSE or Dsum of one query tile */
    /* K, V, then two stages of (Q, dO, LSE, Dsum), then dS^T. */
    static constexpr int STAGE_BYTES = 2 * QT_BYTES + 2 * VEC_BYTES;
    static constexpr int SMEM = 2 * KV_BYTES + 2 * STAGE_BYTES + DS_BYTES;
};

/* acc[NT][4] = A_w B^T where A_w is this warp's 16 rows of a [*, D] smem tile (a_row_off: its
 * lane offset) and B the BM rows of another [BM, D] tile (b_off: lane offset). */
template <typename E, int D, int NT>
__device__ __forceinline__ void gemm_rows(float (&acc)[NT][4], uint32_t a_tile, uint32_t a_off, uint32_t b_tile,
                                          uint32_t b_off)
{
    constexpr int RB = D * 2;
#pragma unroll
    for (int j = 0; j < NT; j++)
#pragma unroll
        for (int c = 0; c < 4; c++) acc[j][c] = 0.f;
#pragma unroll 2
    for (int ks = 0; ks < D / 16; ks++) {
        uint32_t a[4];
        ldmatrix_x4(a, a_tile + (a_off ^ (ks * 32)));
#pragma unroll
        for (int np = 0; np < NT / 2; np++) {
            uint32_t b[4];
            ldmatrix_x4(b, b_tile + np * 16 * RB + (b_off ^ (ks * 32)));
            mma_16816<E>(acc[2 * np], a, b);
            mma_16816<E>(acc[2 * np + 1], a, b + 2);
        }
    }
}

/* acc[DT][4] += P[16 x BM] X[BM x D]: P from score registers, X a [BM, D] smem tile read
 * transposed (x_off: lane offset). */
template <typename E, int D, int NT>
__device__ __forceinline__ void gemm_p_x(float (&acc)[D / 8][4], const float (&p)[NT][4], uint32_t x_tile,
                                         uint32_t x_off)
{
    constexpr int RB = D * 2;
#pragma unroll
    for (int kk = 0; kk < NT / 2; kk++) {
        uint32_t a[4];
        a[0] = E::pack(p[2 * kk][0], p[2 * kk][1]);
        a[1] = E::pack(p[2 * kk][2], p[2 * kk][3]);
        a[2] = E::pack(p[2 * kk + 1][0], p[2 * kk + 1][1]);
        a[3] = E::pack(p[2 * kk + 1][2], p[2 * kk + 1][3]);
#pragma unroll
        for (int dp = 0; dp < D / 16; dp++) {
            uint32_t b[4];
            ldmatrix_x4_trans(b, x_tile + kk * 16 * RB + (x_off ^ (dp * 32)));
            mma_16816<E>(acc[2 * dp], a, b);
            mma_16816<E>(acc[2 * dp + 1], a, b + 2);
        }
    }
}

/* Adds this thread's dQ fragment (rows q_base + lane/4 (+8), NJ column groups of 8 from col)
 * into the fp32 dQ accumulator: by reductions, or, deterministic, by a plain read-add-write that
 * the caller orders with its turn counter. */
template <int D, int NJ>
__device__ __forceinline__ void add_dq(const float (&dq)[NJ][4], const flash_bwd_params &p, int b, int h, int q_base,
                                       int col, int lane)
{
#pragma unroll
    for (int hf = 0; hf < 2; hf++) {
        const int q = q_base + lane / 4 + 8 * hf;
        if (q >= p.seqlen_q) continue;
        float *dst = p.dq_acc + (((int64_t)b * p.seqlen_q + q) * p.heads_q + h) * D + col + 2 * (lane % 4);
#pragma unroll
        for (int j = 0; j < NJ; j++) {
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
}

template <typename E, int D>
__global__ void __launch_bounds__(bwd_cfg<D>::THREADS, 1) flash_bwd_kernel(const bwd_params p)
{
    typedef bwd_cfg<D> C;
    constexpr int BM = C::BM, BN = C::BN, NT = C::NT, DT = C::DT, CH = C::CH, RB = C::RB;
    extern __shared__ __align__(128) unsigned char smem[];

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
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

    const uint32_t s_k = smem_addr(smem), s_v = s_k + C::KV_BYTES, s_stage = s_v + C::KV_BYTES;
    const uint32_t s_ds = s_stage + 2 * C::STAGE_BYTES;
    const float *f_stage = reinterpret_cast<const float *>(smem + 2 * C::KV_BYTES);

    auto load_q_tile = [&](int i, int stage) {
        const int q0 = ents[i].tile * BM;
        const int valid = (int)min((int64_t)BM, p.seqlen_q - q0);
        const uint32_t base = s_stage + stage * C::STAGE_BYTES;
        load_tile_async<BM, CH, C::THREADS>(base, qg + q0 * q_stride, q_stride, valid, tid);
        load_tile_async<BM, CH, C::THREADS>(base + C::QT_BYTES, dog + q0 * q_stride, q_stride, valid, tid);
        /* LSE and Dsum: BM floats each, one per thread (rows need not be 16-byte aligned) */
        if (tid < 2 * BM) {
            const int which = tid / BM, c = tid % BM;
            const bool ok = q0 + c < p.seqlen_q;
            const float *src = ok ? (which ? dsumg : lseg) + q0 + c : lseg;
            cp_async_4(base + 2 * C::QT_BYTES + which * C::VEC_BYTES + c * 4, src, ok);
        }
        cp_async_commit();
    };

    {
        const int valid = (int)min((int64_t)BN, p.seqlen_k - k0);
        load_tile_async<BN, CH, C::THREADS>(s_k, p.k + ((int64_t)b * p.seqlen_k + k0) * kv_stride + (int64_t)hk * D,
                                            kv_stride, valid, tid);
        load_tile_async<BN, CH, C::THREADS>(s_v, p.v + ((int64_t)b * p.seqlen_k + k0) * kv_stride + (int64_t)hk * D,
                                            kv_stride, valid, tid);
        if (n > 0) load_q_tile(0, 0);
        else cp_async_commit();
        if (n > 1) load_q_tile(1, 1);
    }

    float acc_dk[DT][4], acc_dv[DT][4];
#pragma unroll
    for (int dt = 0; dt < DT; dt++)
#pragma unroll
        for (int c = 0; c < 4; c++) acc_dk[dt][c] = acc_dv[dt][c] = 0.f;

    const int warp_key = warp * 16;
    /* ldmatrix lane offsets (see flash_mma_fwd.cu): rows of this warp's keys as A operands, query
     * rows as B operands, and query rows read transposed as B of the P X products. */
    const uint32_t a_off = (warp_key + lane % 16) * RB + ((lane / 16) ^ (lane & 7)) * 16;
    const uint32_t b_off = ((lane / 16) * 8 + lane % 8) * RB + (((lane / 8) & 1) ^ (lane & 7)) * 16;
    const uint32_t x_off = (((lane / 8) & 1) * 8 + lane % 8) * RB + ((lane / 16) ^ (lane & 7)) * 16;
    /* dQ: this warp's 16 queries x D/2 columns; A = dS read transposed from [key][query] rows of
     * BM*2 bytes, B = K read transposed. */
    const int dq_rows = (warp % 4) * 16, dq_col_chunk = (warp / 4) * (D / 16);
    constexpr int DS_RB = BM * 2;
    const uint32_t ds_off = ((lane / 16) * 8 + lane % 8) * DS_RB + (((warp % 4) * 2 + ((lane / 8) & 1)) ^ (lane & 7)) * 16;
    const uint32_t kx_off = (((lane / 8) & 1) * 8 + lane % 8) * RB + ((dq_col_chunk + lane / 16) ^ (lane & 7)) * 16;

    for (int i = 0; i < n; i++) {
        if (i + 1 < n)
            cp_async_wait<1>();
        else
            cp_async_wait<0>();
        __syncthreads();
        const int stage = i & 1;
        const uint32_t s_q = s_stage + stage * C::STAGE_BYTES, s_do = s_q + C::QT_BYTES;
        const float *f_lse = f_stage + (stage * C::STAGE_BYTES + 2 * C::QT_BYTES) / 4;
        const float *f_dsum = f_lse + BM;
        const gpu_tile_entry ent = ents[i];
        const int q0 = ent.tile * BM;

        /* P^T = exp(S^T - LSE), S^T = K Q^T for this warp's keys */
        float pt[NT][4];
        gemm_rows<E, D, NT>(pt, s_k, a_off, s_q, b_off);
        if (ent.rule_count) mask_partial_t<1, NT>(reinterpret_cast<float(&)[1][NT][4]>(pt), p.rules + ent.rule_begin, ent.rule_count, k0 + warp_key, q0, lane);
#pragma unroll
        for (int j = 0; j < NT; j++) {
            const float2 l2 = *reinterpret_cast<const float2 *>(f_lse + 8 * j + 2 * (lane % 4));
            const float lo = l2.x == -INFINITY ? 0.f : l2.x * FLASH_LOG2E;
            const float hi = l2.y == -INFINITY ? 0.f : l2.y * FLASH_LOG2E;
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                pt[j][2 * hf] = exp2f(fmaf(pt[j][2 * hf], p.scale_log2, -lo));
                pt[j][2 * hf + 1] = exp2f(fmaf(pt[j][2 * hf + 1], p.scale_log2, -hi));
            }
        }
        /* dV += P^T dO */
        gemm_p_x<E, D, NT>(acc_dv, pt, s_do, x_off);
        /* dS^T = P^T (dP^T - Dsum) * scale, dP^T = V dO^T */
        float ds[NT][4];
        gemm_rows<E, D, NT>(ds, s_v, a_off, s_do, b_off);
#pragma unroll
        for (int j = 0; j < NT; j++) {
            const float2 d2 = *reinterpret_cast<const float2 *>(f_dsum + 8 * j + 2 * (lane % 4));
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                ds[j][2 * hf] = pt[j][2 * hf] * (ds[j][2 * hf] - d2.x) * p.scale;
                ds[j][2 * hf + 1] = pt[j][2 * hf + 1] * (ds[j][2 * hf + 1] - d2.y) * p.scale;
            }
        }
        /* dK += dS^T Q */
        gemm_p_x<E, D, NT>(acc_dk, ds, s_q, x_off);
        /* dS^T to smem as [key][query] for the dQ product */
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                const int r = warp_key + lane / 4 + 8 * hf;
                const uint32_t addr = s_ds + r * DS_RB + ((j ^ (r & 7)) * 16) + (lane % 4) * 4;
                const uint32_t v = E::pack(ds[j][2 * hf], ds[j][2 * hf + 1]);
                asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(v));
            }
        __syncthreads(); /* dS^T complete; this stage's Q and dO are free */
        if (i + 2 < n) load_q_tile(i + 2, stage);

        /* dQ[16 queries x D/2] = dS K for this warp's share */
        float dq[D / 16][4];
#pragma unroll
        for (int j = 0; j < D / 16; j++)
#pragma unroll
            for (int c = 0; c < 4; c++) dq[j][c] = 0.f;
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            uint32_t a[4];
            ldmatrix_x4_trans(a, s_ds + kk * 16 * DS_RB + ds_off);
#pragma unroll
            for (int dp = 0; dp < D / 32; dp++) {
                uint32_t bq[4];
                ldmatrix_x4_trans(bq, s_k + kk * 16 * RB + (kx_off ^ (dp * 32)));
                mma_16816<E>(dq[2 * dp], a, bq);
                mma_16816<E>(dq[2 * dp + 1], a, bq + 2);
            }
        }
        int *turn = p.turns + ((int64_t)b * p.heads_q + h) * p.n_qtiles + ent.tile;
        if (p.deterministic) {
            if (tid == 0) {
                while (atomicAdd(turn, 0) != ent.rank) __nanosleep(64);
                __threadfence();
            }
            __syncthreads();
        }
        add_dq<D>(dq, p, b, h, q0 + dq_rows, dq_col_chunk * 8, lane);
        if (p.deterministic) {
            __threadfence();
            __syncthreads();
            if (tid == 0) atomicExch(turn, ent.rank + 1);
        }
    }

    cp_async_wait<0>(); /* a key tile no query sees still loaded K and V */

    store_dk_dv<E, D, DT>(acc_dk, acc_dv, p, b, h, k0 + warp_key, lane);
}

template <typename E, int D>
struct bwd_launch {
    static cudaError_t run(const flash_bwd_args *a, cudaStream_t stream)
    {
        return flash_bwd_run<D>(flash_bwd_kernel<E, D>, bwd_cfg<D>::THREADS, bwd_cfg<D>::SMEM, a, stream);
    }
};

} // namespace

extern "C" enum lc_status flash_mma_bwd_launch(const struct flash_bwd_args *a, void *stream, char *err)
{
    return flash_launch_checked<bwd_launch>(a, FLASH_MMA_BWD_TILE_K, FLASH_MMA_BWD_TILE_Q, true, "flash_mma backward",
                                            stream, err);
}
