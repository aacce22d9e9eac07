/* Rules: a rectangle with an optional band of diagonals k - q in [diag_lo, diag_hi] (struct
 * longca_rule, the kernel ABI's type, so a kernel reads the driver's rules without a copy), what
 * every slice and block map reduces to; their exact area and clipping, in O(1). */
#ifndef LC_MASK_RULE_H
#define LC_MASK_RULE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mask/mask.h"
#include "kernels/longca_kernel.h"

#define MASK_DIAG_NONE_LO LONGCA_DIAG_NONE_LO
#define MASK_DIAG_NONE_HI LONGCA_DIAG_NONE_HI

const char *mask_slice_type_name(enum mask_slice_type t);
struct longca_rule mask_slice_rule(const struct mask_slice *s);
/* Number of visible pairs of a rule inside [qa, qb) x [ka, kb); O(1). */
int64_t mask_rule_area_in(const struct longca_rule *r, int64_t qa, int64_t qb, int64_t ka, int64_t kb);
/* The rule's visible pairs inside [qa, qb) x [ka, kb) as a rule shrunk to the rows and columns
 * that see something, with diagonals the rectangle implies set to NONE; false if none. */
bool mask_rule_clip(const struct longca_rule *r, int64_t qa, int64_t qb, int64_t ka, int64_t kb,
                    struct longca_rule *out);
static inline bool mask_rule_visible(const struct longca_rule *r, int64_t q, int64_t k)
{
    int64_t d = k - q;
    return q >= r->q_begin && q < r->q_end && k >= r->k_begin && k < r->k_end && d >= r->diag_lo &&
           d <= r->diag_hi;
}

#endif
