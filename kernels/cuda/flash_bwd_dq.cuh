/* The flash backward's dQ handoff (flash_bwd.cu): each consumer warpgroup stages its fp32 dQ tile
 * in shared memory and the dQ warp adds it into the accumulator by bulk tensor reduce-adds. */
#ifndef LC_FLASH_BWD_DQ_CUH
#define LC_FLASH_BWD_DQ_CUH

#include "kernels/cuda/flash_bwd_cfg.cuh"

namespace {

/* The dQ handoff's mbarriers, not named barriers: each message is a release by its writers and
 * an acquire by its readers (the staging's 128 writers arrive on full, the dQ warp's 32 lanes on
 * empty), an ordering compute-sanitizer's racecheck follows; with bar.arrive / bar.sync it
 * reported the message's store and load as hazards. */
constexpr int DQ_FULL_COUNT = 128, DQ_EMPTY_COUNT = 32;
/* A dQ message's flags (word 3, below rank << 4): the last message (the consumers stop); the
 * warpgroup's dQ is zero and was not staged (d = 64, its keys unseen); the item's last message;
 * no tile at all (an item without query tiles: only its end, for the deterministic item_done). */
constexpr int DQ_STOP = 1, DQ_SKIP = 2, DQ_LAST = 4, DQ_NONE = 8, DQ_FLAG_BITS = 4;

__device__ __forceinline__ void st_shared_i32(uint32_t addr, int v)
{
    asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(v) : "memory");
}

__device__ __forceinline__ int ld_shared_i32(uint32_t addr)
{
    int v;
    asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

__device__ __forceinline__ void st_shared_v4_i32(uint32_t addr, int a, int b, int c, int d)
{
    asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "r"(a), "r"(b), "r"(c), "r"(d) : "memory");
}

__device__ __forceinline__ int4 ld_shared_v4_i32(uint32_t addr)
{
    int4 v;
    asm volatile("ld.shared.v4.b32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "r"(addr)
                 : "memory");
    return v;
}

__device__ __forceinline__ uint32_t lane_id()
{
    uint32_t l;
    asm volatile("mov.u32 %0, %%laneid;\n" : "=r"(l));
    return l;
}

/* A consumer warpgroup's 64 x 64 fp32 dQ fragment (wgmma's accumulator layout: rows 16 warp +
 * lane/4 (+8), columns 8j + 2 (lane%4)) into its staging at `stage`: box c holds columns 32c..,
 * rows of 128 bytes whose 16-byte chunks sit at chunk ^ (row % 8), the 128-byte swizzle the
 * tensor map reads. An st.shared.v2 goes to the banks half a warp at a time, 4 rows of 32 bytes
 * (2 chunks, 8 banks each): for the 4 rows to meet 4 different bank octets, the odd rows store
 * column tile j ^ 2 while the even ones store j (their chunks then differ in bit 2 as well as by
 * the swizzle); with every row at j, rows 2i and 2i + 1 shared an octet and each store took 4
 * wavefronts, not 2. The addresses come from %laneid here so that they are remade in the tile
 * loop, not held live across it. */
__device__ __forceinline__ void stage_dq(const float (&dq)[8][4], uint32_t stage)
{
    const uint32_t lane = lane_id(), warp = (threadIdx.x / 32) % 4;
    const uint32_t row0 = warp * 16 + lane / 4; /* row0 % 8 == lane / 4 */
    const bool odd = lane & 4;
    /* the swizzle of row0, and bit 2 for the odd rows' column tile j ^ 2 (chunk 2 (j % 4) ^ 4) */
    const uint32_t sw = (lane / 4) ^ (odd ? 4 : 0), half = (lane % 4) / 2;
    const uint32_t base = stage + row0 * 128 + (lane & 1) * 8;
#pragma unroll
    for (int j = 0; j < 8; j++)
#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            const uint32_t chunk = (2 * (j % 4) + half) ^ sw;
            const uint32_t addr = base + (j / 4) * (64 * 128) + hf * (8 * 128) + chunk * 16;
            const float x = odd ? dq[j ^ 2][2 * hf] : dq[j][2 * hf];
            const float y = odd ? dq[j ^ 2][2 * hf + 1] : dq[j][2 * hf + 1];
            asm volatile("st.shared.v2.f32 [%0], {%1, %2};\n" ::"r"(addr), "f"(x), "f"(y) : "memory");
        }
}

/* The dQ warp (warp 1 of the producer warpgroup, 24 registers): per query tile, each consumer
 * warpgroup's staged dQ into the accumulator by bulk tensor reduce-adds (d = 128: its 64 of the
 * columns; d = 64: all 64 columns, both warpgroups adding), then the staging handed back once
 * the copy engine has read it. Deterministic: the tile's turn first (d = 128: rank; d = 64:
 * 2 rank, both warpgroups' adds in turn), the adds complete before the next turn is released. */
template <int D>
__device__ __forceinline__ void dq_warp(const bwd_tma_params &P, uint32_t s_dq, uint32_t s_msg, uint32_t dq_full,
                                        uint32_t dq_empty, uint32_t item_done)
{
    const flash_bwd_params &p = P.p;
    const int lane = threadIdx.x % 32;
    if (lane == 0) tma_prefetch_map(&P.dq_map);
    uint32_t phase = 0; /* of both full barriers: the warpgroups stage the same tiles */
    auto reduce = [&](int cw, const int4 &m) {
        /* m: batch, head, query tile, rank << DQ_FLAG_BITS | flags */
        if (m.w & DQ_SKIP) return;
        const uint32_t from = s_dq + cw * bwd_cfg<D>::DQ_STAGE_BYTES;
        const int col = D == 128 ? 64 * cw : 0;
        tma_reduce_add_4d(&P.dq_map, from, col, m.y, m.z * FLASH_BWD_TILE_Q, m.x);
        tma_reduce_add_4d(&P.dq_map, from + bwd_cfg<D>::DQ_BOX_BYTES, col + 32, m.y, m.z * FLASH_BWD_TILE_Q, m.x);
    };
    for (;; phase ^= 1) {
        mbar_wait(dq_full, phase);
        const int4 m = ld_shared_v4_i32(s_msg);
        if (m.w & DQ_STOP) {
            mbar_wait(dq_full + 8, phase); /* the other warpgroup stops too */
            break;
        }
        /* deterministic, a tile takes its turn (an item without tiles has none) */
        const bool det = p.deterministic, turned = det && !(m.w & DQ_NONE);
        int *turn = p.turns + ((int64_t)m.x * p.heads_q + m.y) * p.n_qtiles + m.z;
        const int first = D == 128 ? (m.w >> DQ_FLAG_BITS) : 2 * (m.w >> DQ_FLAG_BITS);
        if (lane == 0) {
            if (turned) {
                while (ld_acquire_gpu(turn) != first) __nanosleep(64);
                fence_proxy_async_global(); /* the adds below after the acquire */
            }
            reduce(0, m);
            bulk_commit();
            /* d = 64: both warpgroups add into the same elements, in a fixed order when deterministic */
            if (D == 64 && turned) bulk_wait<0>();
        }
        __syncwarp();
        mbar_wait(dq_full + 8, phase);
        const int4 m1 = ld_shared_v4_i32(s_msg + 16); /* the same tile, its own flags */
        if (lane == 0) {
            reduce(1, m1);
            bulk_commit();
            bulk_wait_read<1>(); /* warpgroup 0's staging read */
        }
        __syncwarp();
        mbar_arrive(dq_empty);
        if (lane == 0) bulk_wait_read<0>();
        __syncwarp();
        mbar_arrive(dq_empty + 8);
        if (det) {
            if (lane == 0) {
                if (turned) {
                    bulk_wait<0>();             /* the adds done in global memory */
                    fence_proxy_async_global(); /* ... and visible to the generic proxy's release */
                    st_release_gpu(turn, D == 128 ? first + 1 : first + 2);
                }
                if (m1.w & DQ_LAST) mbar_arrive(item_done); /* the producer may take the next item */
            }
            __syncwarp();
        }
    }
    if (lane == 0) bulk_wait<0>(); /* nothing in flight reads shared memory when the CTA ends */
}

/* Halves apart (d = 128, never deterministic): one dQ warp per consumer warpgroup (warps 1 and 2),
 * so that neither warpgroup's hand-off waits on the other's; each staged 64 x 128 tile goes to the
 * accumulator as four boxes of 32 columns. */
__device__ __forceinline__ void dq_warp_apart(const bwd_tma_params &P, int cw, uint32_t s_dq, uint32_t s_msg,
                                              uint32_t dq_full, uint32_t dq_empty)
{
    typedef bwd_cfg<128, true> C;
    const uint32_t from = s_dq + cw * C::DQ_STAGE_BYTES, full = dq_full + 8 * cw, empty = dq_empty + 8 * cw;
    const bool leader = threadIdx.x % 32 == 0;
    if (leader) tma_prefetch_map(&P.dq_map);
    for (uint32_t phase = 0;; phase ^= 1) {
        mbar_wait(full, phase);
        const int4 m = ld_shared_v4_i32(s_msg + 16 * cw); /* batch, head, query tile, flags */
        if (m.w & DQ_STOP) break;
        if (leader && !(m.w & DQ_SKIP)) {
            for (int c = 0; c < 4; c++)
                tma_reduce_add_4d(&P.dq_map, from + c * C::DQ_BOX_BYTES, 32 * c, m.y, m.z * C::BM, m.x);
            bulk_commit();
            bulk_wait_read<0>();
        }
        __syncwarp();
        mbar_arrive(empty);
    }
    if (leader) bulk_wait<0>();
}

} // namespace

#endif
