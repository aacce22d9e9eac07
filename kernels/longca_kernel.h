/* longca_kernel.h: the kernel ABI of longca, public and self-contained (plain C, no other longca
 * header). Every kernel longca runs, its own and those in plugins, is one struct longca_kernel.
 *
 * A plugin is a shared object exporting two functions:
 *     unsigned longca_kernel_abi(void);                   returns LONGCA_KERNEL_ABI_VERSION
 *     const struct longca_kernel *longca_kernel_get(int i); the i-th kernel, NULL past the last
 * longca loads it with `--kernel-lib PATH`, or finds lib*.so files in the folders of
 * LONGCA_KERNEL_PATH (colon-separated) and then in its installed plugin folder. A plugin built for
 * another ABI version is refused. kernels/plugins/example/ is a complete plugin to start from.
 *
 * Tensors are [batch, seq, heads, head_dim] contiguous (BSHD) in the problem's dtype, on the
 * kernel's device. lse is fp32 [batch, heads_q, seqlen_q], natural log, softmax scale included; a
 * row that sees no key has lse = -inf and o = 0. GQA: query head h reads KV head
 * h / (heads_q / heads_kv). Every function returns a LONGCA_* status and, on failure, writes one
 * line (at most LONGCA_MESSAGE_LEN bytes with the NUL) into message; longca shows it with the
 * kernel's name. Work goes on the stream passed in (a cudaStream_t on CUDA, NULL on the CPU);
 * longca times, synchronises and profiles around the calls. */
#ifndef LONGCA_KERNEL_H
#define LONGCA_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LONGCA_KERNEL_ABI_VERSION 1u
#define LONGCA_MESSAGE_LEN 256

/* Statuses. */
#define LONGCA_OK 0
#define LONGCA_ERR_INVALID 1     /* the arguments make no sense */
#define LONGCA_ERR_UNSUPPORTED 2 /* valid, but this kernel cannot do it (say why) */
#define LONGCA_ERR_OOM 3         /* needs more memory than there is */
#define LONGCA_ERR_DEVICE 6      /* a device, driver or library call failed */
#define LONGCA_ERR_INTERNAL 8

/* Element types (the dtypes field is a set of LONGCA_DTYPE_BIT). */
#define LONGCA_FP32 0
#define LONGCA_BF16 1
#define LONGCA_FP16 2
#define LONGCA_DTYPE_BIT(t) (1u << (t))

/* Directions (a set). */
#define LONGCA_FWD 1u
#define LONGCA_BWD 2u

/* Devices. */
#define LONGCA_DEVICE_CPU 0
#define LONGCA_DEVICE_CUDA 1

/* The mask forms a kernel reads (a set). Every problem carries the rules; the others are filled
 * where the mask has them.
 * RULES: any static pattern, as rules (rectangles with an optional band of diagonals, slices
 *   clipped to the view), from which a kernel derives per-tile lists of full and partial tiles.
 * HEAD_RULES: block-sparse patterns, as one list of rules per KV head.
 * DOCUMENTS: masks that are documents (cu_seqlens) with one band of diagonals inside each:
 *   full, causal, sliding windows, full and causal documents, and the CP pieces of those.
 * BLOCK_MAP: block-sparse patterns, as a bitmap of kept key blocks per (KV head, query block). */
#define LONGCA_FORM_RULES (1u << 0)
#define LONGCA_FORM_HEAD_RULES (1u << 1)
#define LONGCA_FORM_DOCUMENTS (1u << 2)
#define LONGCA_FORM_BLOCK_MAP (1u << 3)

/* No bound on that side of a band. */
#define LONGCA_DIAG_NONE_LO INT32_MIN
#define LONGCA_DIAG_NONE_HI INT32_MAX

/* visible(q, k) iff q_begin <= q < q_end, k_begin <= k < k_end and diag_lo <= k - q <= diag_hi. */
struct longca_rule {
    int32_t q_begin, q_end, k_begin, k_end;
    int32_t diag_lo, diag_hi;
};

/* The mask of one call, in the call's own coordinates (a CP step sees its piece shifted to 0). */
struct longca_mask {
    int n_heads; /* rule maps: 1, or heads_kv for block-sparse patterns */
    int64_t seqlen_q, seqlen_k;
    /* RULES / HEAD_RULES: head h's rules are rules[rule_offsets[h] .. rule_offsets[h + 1]), disjoint. */
    int64_t *rule_offsets;
    struct longca_rule *rules;

    /* DOCUMENTS (n_docs = 0: this mask is not of that form). Document i is the rectangle
     * [cu_seqlens_q[i], cu_seqlens_q[i+1]) x [cu_seqlens_k[i], cu_seqlens_k[i+1]); inside it,
     * with q and k counted from its top-left corner, visible iff doc_diag_lo <= k - q <= doc_diag_hi.
     * Full: one document, no bounds. Causal (square): doc_diag_hi = 0. Sliding window causal:
     * [-W, 0]. The whole view is covered: cu_seqlens_*[0] = 0, cu_seqlens_*[n_docs] = seqlen_*. */
    int n_docs;
    int64_t *cu_seqlens_q, *cu_seqlens_k;
    int32_t doc_diag_lo, doc_diag_hi;

    /* BLOCK_MAP (n_qblocks = 0: none). Block rows [qblock_bounds[i], qblock_bounds[i+1]), columns
     * likewise; key block j is kept for (KV head h, query block i) iff bit j of
     * keep_bits[(h * n_qblocks + i) * words_per_row + j / 64] (bit j % 64) is set. */
    int n_qblocks, n_kblocks, words_per_row;
    const int64_t *qblock_bounds, *kblock_bounds;
    const uint64_t *keep_bits;
};

struct longca_problem {
    int batch, heads_q, heads_kv, head_dim;
    int64_t seqlen_q, seqlen_k;
    int dtype; /* LONGCA_FP32, LONGCA_BF16, LONGCA_FP16 */
    float softmax_scale;
    const struct longca_mask *mask;
    bool deterministic; /* the backward should give the same bits every call, where it can */
};

/* Context parallelism computes a rank's rows against KV blocks one after another and folds the
 * blocks' results into fp32 running sums. A kernel with folds_blocks does that in its own
 * epilogues; for the others longca folds with array passes. Forward: the first block writes
 * (o_acc, lse), a later one merges itself into them, the last one writes o in the dtype (and lse).
 * Backward: dQ adds up in dq_acc (the first block starts it, the last one writes dq in the
 * dtype); this block's dK | dV go to dkv_acc in fp32 ([2][b, Sk, hkv, d]), not to dk, dv. */
struct longca_fold {
    bool first, last;
    float *o_acc;   /* [b, Sq, hq, d] */
    float *dq_acc;  /* [b, Sq, hq, d] */
    float *dkv_acc; /* dK then dV */
};

struct longca_tensors {
    const void *q, *k, *v;
    void *o;
    float *lse;
    /* backward: reads q, k, v, o, lse, d_o */
    const void *d_o;
    void *dq, *dk, *dv;
    const struct longca_fold *fold; /* NULL: a whole call (always NULL unless folds_blocks) */
};

struct longca_kernel {
    unsigned abi_version; /* LONGCA_KERNEL_ABI_VERSION */
    const char *name;     /* [a-z0-9_], unique: what --kernel takes */
    const char *summary;  /* one line for `longca list` */
    const char *version;  /* of the kernel or the library behind it ("cuDNN 9.19.0"); NULL = none */
    int device;           /* LONGCA_DEVICE_* */
    unsigned dtypes;      /* LONGCA_DTYPE_BIT set */
    unsigned directions;  /* LONGCA_FWD | LONGCA_BWD */
    const int *head_dims; /* 0-terminated, NULL = any */
    unsigned mask_forms;  /* LONGCA_FORM_* */
    bool writes_lse;      /* forward fills lse (CP merges need it) */
    bool folds_blocks;    /* takes longca_tensors.fold */
    int tile_q;           /* query rows of its largest tile: CP cuts rows in multiples of it (0 = any) */

    /* Optional finer check before any memory is spent; NULL = the fields above suffice. */
    int (*supports)(const struct longca_problem *p, unsigned directions, char *message);
    /* Everything shape- and mask-dependent (tile lists, library graphs), outside the timed reps.
     * workspace_bytes: device memory longca allocates and passes to forward and backward. The
     * problem and its mask are valid during this call only: keep copies of what later calls need. */
    int (*plan)(const struct longca_problem *p, unsigned directions, void **plan, size_t *workspace_bytes,
                char *message);
    int (*forward)(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *message);
    int (*backward)(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *message);
    void (*destroy)(void *plan);
};

/* What a plugin exports (defined by the plugin, looked up by the loader under these names). */
unsigned longca_kernel_abi(void);
const struct longca_kernel *longca_kernel_get(int index);

#endif
