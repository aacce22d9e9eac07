/* A mask as rules in some coordinate frame (struct longca_mask): what kernels consume. Rules of
 * head h are rules[rule_offsets[h] .. rule_offsets[h+1]); static masks have one head. The
 * single-device view of a mask is the whole S x S square; CP methods cut sub-views for their
 * (Q chunk, KV chunk) pairs, translated to local coordinates. Views of static masks also carry
 * the documents form where the rules have one (mask_documents.c); whole views of block-sparse
 * masks the block map (borrowed from the mask: the view must not outlive it). */
#ifndef LC_MASK_VIEW_H
#define LC_MASK_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mask/mask.h"
#include "core/model/status.h"
#include "kernels/longca_kernel.h"

enum lc_status mask_view_build(const struct mask *m, struct longca_mask *out, char *err);
/* The view of one head's map only (a one-head view; static masks: head 0), e.g. to draw it. */
enum lc_status mask_view_build_head(const struct mask *m, int head, struct longca_mask *out, char *err);
/* Rules of src inside [q_begin, q_end) x [k_begin, k_end), shifted to start at (0, 0). */
enum lc_status mask_view_sub(const struct longca_mask *src, int64_t q_begin, int64_t q_end, int64_t k_begin,
                             int64_t k_end, struct longca_mask *out, char *err);
void mask_view_free(struct longca_mask *v);
int64_t mask_view_area(const struct longca_mask *v, int head);
bool mask_view_visible(const struct longca_mask *v, int head, int64_t q, int64_t k);

/* Whether the pattern's views have the documents form of the kernel ABI (mask_documents.c). */
bool mask_pattern_has_documents(enum mask_pattern p);
/* Fills v's documents form when its rules have one (else leaves n_docs = 0); fails only for memory. */
enum lc_status mask_view_find_documents(struct longca_mask *v, char *err);

#endif
