/* Building a CP run's per-rank schedule (core/engine/cp_schedule.h). */
#include "core/engine/cp_schedule.h"
#include "core/mask/mask_tiles.h"
#include "core/mask/mask_view.h"

#include <stdlib.h>
#include <string.h>

enum lc_status cp_schedule_init(struct cp_schedule *s, int ranks, int tile, char *err)
{
    memset(s, 0, sizeof *s);
    s->ranks = ranks;
    s->tile = tile > 0 ? tile : 128;
    s->building = -1;
    s->rank_offsets = calloc((size_t)ranks + 1, sizeof *s->rank_offsets);
    if (!s->rank_offsets) return lc_fail(err, LC_ERR_OOM, "out of host memory for a schedule of %d ranks", ranks);
    return LC_OK;
}

void cp_schedule_free(struct cp_schedule *s)
{
    free(s->rank_offsets);
    free(s->ops);
    free(s->work);
    memset(s, 0, sizeof *s);
}

static bool grow(void **p, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap) return true;
    int64_t c = *cap ? *cap * 2 : 256;
    while (c < need) c *= 2;
    void *v = realloc(*p, (size_t)c * elem);
    if (!v) return false;
    *p = v;
    *cap = c;
    return true;
}

static struct cp_sched_op *push(struct cp_schedule *s, enum cp_sched_kind kind, int step)
{
    if (s->out_of_memory || !grow((void **)&s->ops, &s->cap_ops, s->n_ops + 1, sizeof *s->ops)) {
        s->out_of_memory = true;
        return NULL;
    }
    struct cp_sched_op *op = &s->ops[s->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = (uint8_t)kind;
    op->step = step;
    op->peer = -1;
    return op;
}

void cp_schedule_rank(struct cp_schedule *s, int rank)
{
    for (int r = s->building + 1; r <= rank && r < s->ranks; r++) s->rank_offsets[r] = s->n_ops;
    s->building = rank;
    s->next_ticket = 1;
}

enum lc_status cp_schedule_count(const struct longca_mask *view, int tile, int heads, struct cp_tile_work *w,
                                 char *err)
{
    memset(w, 0, sizeof *w);
    w->heads = (float)heads;
    if (view->seqlen_q <= 0 || view->seqlen_k <= 0) return LC_OK;
    struct longca_mask one = *view; /* static masks have one head */
    one.n_heads = 1;
    struct mask_tiles t;
    enum lc_status st = mask_tiles_build(&one, tile > 0 ? tile : 128, tile > 0 ? tile : 128, &t, err);
    if (st) return st;
    for (int q = 0; q < t.n_qtiles; q++) w->q_tiles += t.row_offsets[q + 1] > t.row_offsets[q];
    w->full_tiles = (float)t.n_full;
    w->partial_tiles = (float)t.n_partial;
    w->area = (double)mask_view_area(view, 0);
    mask_tiles_free(&t);
    return LC_OK;
}

void cp_schedule_compute(struct cp_schedule *s, const struct cp_tile_work *work, bool backward, int step)
{
    if (!grow((void **)&s->work, &s->cap_work, s->n_work + 1, sizeof *s->work)) s->out_of_memory = true;
    struct cp_sched_op *op = push(s, CP_SCHED_COMPUTE, step);
    if (!op) return;
    op->backward = backward;
    op->ref = (int32_t)s->n_work;
    s->work[s->n_work++] = *work;
}

void cp_schedule_copy(struct cp_schedule *s, double bytes, int step)
{
    struct cp_sched_op *op = bytes > 0 ? push(s, CP_SCHED_COPY, step) : NULL;
    if (op) op->bytes = bytes;
}

int cp_schedule_send_recv(struct cp_schedule *s, int lane, int to, double send_bytes, int from, double recv_bytes,
                          int step)
{
    const int ticket = s->next_ticket++;
    struct cp_sched_op *op;
    if (to >= 0 && (op = push(s, CP_SCHED_SEND, step))) {
        op->lane = (uint8_t)lane;
        op->peer = to;
        op->ref = ticket;
        op->bytes = send_bytes;
    }
    if (from >= 0 && (op = push(s, CP_SCHED_RECV, step))) {
        op->lane = (uint8_t)lane;
        op->peer = from;
        op->ref = ticket;
        op->bytes = recv_bytes;
    }
    return ticket;
}

int cp_schedule_coll(struct cp_schedule *s, int lane, enum cp_sched_coll coll, int first, int stride, int size,
                     double block, int step)
{
    const int ticket = s->next_ticket++;
    struct cp_sched_op *op = push(s, CP_SCHED_COLL, step);
    if (op) {
        op->lane = (uint8_t)lane;
        op->coll = (uint8_t)coll;
        op->peer = first;
        op->stride = (int16_t)stride;
        op->size = (int16_t)size;
        op->ref = ticket;
        op->bytes = block;
    }
    return ticket;
}

void cp_schedule_wait(struct cp_schedule *s, int ticket, int step)
{
    struct cp_sched_op *op = ticket > 0 ? push(s, CP_SCHED_WAIT, step) : NULL;
    if (op) op->ref = ticket;
}

enum lc_status cp_schedule_finish(struct cp_schedule *s, char *err)
{
    if (s->out_of_memory) return lc_fail(err, LC_ERR_OOM, "out of host memory for a schedule of %d ranks", s->ranks);
    for (int r = s->building + 1; r <= s->ranks; r++) s->rank_offsets[r] = s->n_ops;
    s->building = s->ranks;
    return LC_OK;
}
