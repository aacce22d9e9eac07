/* What the two CPU kernels share: problem validation, staging inputs as fp32, and the
 * mask-view head a KV head reads. */
#ifndef LC_CPU_COMMON_H
#define LC_CPU_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "core/engine/kernel.h"
#include "core/model/spec.h" /* enum run_direction */

/* LC_ERR_INVALID with a one-line reason unless sizes, heads, dtype and mask view agree. */
enum lc_status cpu_problem_check(const struct longca_problem *p, char *err);

/* The view head KV head `kv_head` reads: block-sparse views have one head per KV head. */
static inline int cpu_view_head(const struct longca_mask *v, int kv_head) { return v->n_heads > 1 ? kv_head : 0; }

/* Elements of Q (and O, dO) and of K (and V). */
static inline size_t cpu_q_elems(const struct longca_problem *p)
{
    return (size_t)p->batch * (size_t)p->seqlen_q * (size_t)p->heads_q * (size_t)p->head_dim;
}
static inline size_t cpu_kv_elems(const struct longca_problem *p)
{
    return (size_t)p->batch * (size_t)p->seqlen_k * (size_t)p->heads_kv * (size_t)p->head_dim;
}

/* Bytes of workspace cpu_stage_f32 needs for n elements: none for fp32 inputs. */
static inline size_t cpu_stage_bytes(enum lc_dtype dtype, size_t n) { return dtype == LC_FP32 ? 0 : n * sizeof(float); }

/* Workspace both CPU kernels lay out the same way: for the backward, first (for alignment) a row
 * sum D = rowsum(dO * O) of rowsum_elem bytes per (batch, query head, query), then O and dO; Q, K
 * and V always. Each tensor is staged as fp32 unless it already is. */
size_t cpu_workspace_bytes(const struct longca_problem *p, enum run_direction dir, size_t rowsum_elem);

/* src as fp32: src itself for fp32, else converted into *cursor (advanced past it). */
const float *cpu_stage_f32(enum lc_dtype dtype, const void *src, size_t n, char **cursor);

/* Writes n floats to element `offset` of a dtype tensor. */
void cpu_store(enum lc_dtype dtype, void *dst, size_t offset, const float *src, size_t n);

/* A deep copy of a mask view (the caller's may not outlive the plan). */
enum lc_status cpu_view_copy(const struct longca_mask *src, struct longca_mask *dst, char *err);
void cpu_view_release(struct longca_mask *v);

#endif
