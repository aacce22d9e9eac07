/* The flash backward's shared-memory layout, launch parameters and work items (flash_bwd.cu). */
#ifndef LC_FLASH_BWD_CFG_CUH
#define LC_FLASH_BWD_CFG_CUH

#include "kernels/cuda/flash_launch.cuh"
#include "kernels/cuda/tma.cuh"
extern "C" {
#include "kernels/cuda/tensor_map.h"
}

#ifndef LC_BWD_STAGES
#define LC_BWD_STAGES 2
#endif

namespace {

/* APART (d = 128): the consumer warpgroups' 64-key halves run apart, each staging dQ over all 128
 * columns (flash_bwd.cu) */
template <int D, bool APART = false>
struct bwd_cfg {
    static constexpr int BM = FLASH_BWD_TILE_Q, BN = FLASH_BWD_TILE_K;
    static constexpr int THREADS = 384; /* producer + two consumer warpgroups of 64 keys */
    /* setmaxnreg.inc waits until the CTA's pool holds the registers asked for, and the pool is
     * what the launch gave (the entry cap, 168 for 384 threads) and the producer gave back: a
     * split that asks for more than 384 x 168 in all never starts (seen: a hang with 32/240) */
    static constexpr int ENTRY_REGS = 168, PRODUCER_REGS = 24, CONSUMER_REGS = 240;
    static_assert(128 * PRODUCER_REGS + 256 * CONSUMER_REGS <= THREADS * ENTRY_REGS, "register split exceeds the pool");
    static constexpr int NT = BM / 8, DT = D / 8;
    static constexpr int STAGES = LC_BWD_STAGES;
    static constexpr int KV_BYTES = BN * D * 2, QT_BYTES = BM * D * 2, DS_BYTES = BN * BM * 2;
    static constexpr int VEC_BYTES = BM * 4; /* LSE or Dsum of one query tile */
    /* dQ staging per consumer warpgroup: boxes of 64 rows x 32 fp32 columns (128 bytes), two for
     * its 64 columns, four apart (all 128) */
    static constexpr int DQ_BOX_BYTES = BM * 32 * 4, DQ_STAGE_BYTES = (APART ? 4 : 2) * DQ_BOX_BYTES;
    /* full_kv, empty_kv, STAGES x (full, empty), the dQ warp's item-done barrier, and per
     * consumer warpgroup its dQ staged (full) and its staging free again (empty) */
    static constexpr int BARRIERS = 2 + 2 * STAGES + 5;
    static constexpr int BAR_BYTES = (8 * BARRIERS + 15) / 16 * 16; /* what follows is 16-byte aligned */
    static constexpr int MSG_BYTES = 2 * 16;                         /* a message per consumer warpgroup */
    /* Byte offsets from the 1024-aligned base: K, V, STAGES x (Q, dO), two dS^T buffers, the dQ
     * staging, STAGES x (LSE, Dsum), barriers, the item slot, STAGES x the query tile's list
     * entry, the dQ messages */
    static constexpr int OFF_V = KV_BYTES, OFF_QD = 2 * KV_BYTES, OFF_DS = OFF_QD + 2 * STAGES * QT_BYTES;
    static constexpr int OFF_DQ = OFF_DS + 2 * DS_BYTES, OFF_VEC = OFF_DQ + 2 * DQ_STAGE_BYTES;
    static constexpr int OFF_BARS = OFF_VEC + 2 * STAGES * VEC_BYTES, OFF_ITEM = OFF_BARS + BAR_BYTES;
    static constexpr int OFF_ENT = OFF_ITEM + 16, OFF_MSG = OFF_ENT + 16 * STAGES, END = OFF_MSG + MSG_BYTES;
    /* + 1024 so that the tiles can start on the 1024-byte boundary 128-byte swizzle needs */
    static constexpr int SMEM = END + 1024;
    static_assert(BM == 64 && BN == 128 && D % 64 == 0, "two consumer warpgroups of 64 keys, 64-dim boxes");
    static_assert(!APART || D == 128, "halves apart at d = 128 only");
    /* 128-byte-swizzled TMA boxes and wgmma operands start on 1024-byte boundaries */
    static_assert(OFF_V % 1024 == 0 && OFF_QD % 1024 == 0 && QT_BYTES % 1024 == 0 && (BM * 128) % 1024 == 0 &&
                      (BN * 128) % 1024 == 0 && OFF_DS % 1024 == 0 && DS_BYTES % 1024 == 0 && OFF_DQ % 1024 == 0 &&
                      DQ_BOX_BYTES % 1024 == 0,
                  "a swizzled tile off its 1024-byte boundary");
    /* cp.async destinations: 4-byte LSE, Dsum; 16-byte list entries; 8-byte mbarriers */
    static_assert(OFF_VEC % 16 == 0 && OFF_BARS % 8 == 0 && OFF_ITEM % 16 == 0 && OFF_ENT % 16 == 0 &&
                      OFF_MSG % 16 == 0,
                  "a cp.async destination or barrier misaligned");
    static_assert(SMEM <= 232448, "more shared memory than a block may opt in to");
};

/* Every consumer thread releases a slot (the empty barriers' count): an arrival orders only the
 * arriving thread's own reads of LSE, Dsum, the list entry and the item before the refill. */
constexpr int CONSUMER_THREADS = 256;
/* Named barriers (0 is __syncthreads): dS^T complete across both consumer warpgroups (d = 128),
 * and per consumer warpgroup (d = 64, ids 3 and 4). */
constexpr int DS_BARRIER = 1, WG_BARRIER = 3;

struct bwd_tma_params {
    CUtensorMap q_map, do_map, k_map, v_map;
    CUtensorMap dq_map; /* fp32 dQ accumulator, boxes of 64 rows x 32 columns */
    flash_bwd_params p;
    int n_items;
    int *next_item;
};

/* Work item `it`: key tiles in work order (slot) fastest, then output heads (heads_per_item query
 * heads of one GQA group each), then batch. Its steps are the row's query tiles for each of
 * those query heads in turn: step t is query head out * heads_per_item + t / n, entry t % n. */
struct bwd_item {
    int b, out, hk; /* batch, output head, KV head */
    flash_tile_row row;
};

__device__ __forceinline__ bwd_item bwd_item_at(const flash_bwd_params &p, int it)
{
    const int slot = it % p.n_ktiles, rest = it / p.n_ktiles;
    bwd_item w;
    w.out = rest % p.heads_out;
    w.b = rest / p.heads_out;
    w.hk = w.out * p.heads_per_item / p.group;
    w.row = flash_tile_row_at(p.row_offsets, p.entries, p.row_order, p.mask_heads == 1 ? 0 : w.hk, p.n_ktiles, slot);
    return w;
}

} // namespace

#endif
