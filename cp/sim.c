/* Playing a schedule (cp/sim.h). Ranks run until they wait for a ticket that is not complete.
 * Each lane of a rank is a queue in posting order, as a communicator's stream is: its head
 * operation starts when the one before it has completed on both sides, and a transfer is timed
 * when both of its sides are at the head of their lanes. Completing an operation starts the next
 * one of its lane and wakes the rank waiting for it, so every operation is visited once. */
#include "cp/sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LANES 8

void cp_topology_defaults(struct cp_topology *t)
{
    t->gpus_per_node = 8;
    t->intra_gbs = 450;
    t->inter_gbs = 50;
    t->intra_us = 5;
    t->inter_us = 10;
    t->memory_gbs = 4800;
}

void cp_cost_assumed(struct cp_cost *c, double tflops, int tile, int head_dim)
{
    memset(c, 0, sizeof *c);
    const double tile_flops = 4.0 * tile * tile * head_dim;
    c->fwd.full_tile = c->fwd.partial_tile = tile_flops / (tflops * 1e12);
    c->bwd.full_tile = c->bwd.partial_tile = 2.5 * c->fwd.full_tile;
}

double cp_row_tiles(const struct cp_tile_work *w)
{
    return w->q_tiles > 0 ? ((double)w->full_tiles + w->partial_tiles) / w->q_tiles : 0;
}

double cp_key_doublings(const struct cp_kernel_cost *k, const struct cp_tile_work *w)
{
    const double row = cp_row_tiles(w);
    if (!(k->key_knot > 0) || !(row > k->key_knot) || !(k->key_top > k->key_knot)) return 0;
    return log2(fmin(row, k->key_top) / k->key_knot);
}

double cp_kernel_time(const struct cp_cost *c, const struct cp_tile_work *w, bool backward)
{
    const struct cp_kernel_cost *k = backward ? &c->bwd : &c->fwd;
    return k->call + w->heads * (w->q_tiles * k->q_tile + w->full_tiles * k->full_tile + w->partial_tiles * k->partial_tile +
                                 (w->full_tiles + w->partial_tiles) * k->key_tile * cp_key_doublings(k, w));
}

struct ticket {
    int pending;
    int lane;
    bool waited;
    double done;
};

/* A side of a send / receive, or a member of a collective, once at the head of its lane. */
struct post {
    int rank, ticket, inst; /* inst: a collective's instance */
    double time, bytes;
};

/* One rank's lane: its operations' sides in posting order, and the one running. */
struct lane {
    const struct cp_sched_op **q;
    double *posted_at;
    int head, n, cap;
    int active;       /* the ticket at the head; 0 when idle */
    double active_at; /* when it started */
    double free;      /* when the operation before it completed */
    bool starting;    /* on the sim's list of lanes to start */
};

struct channel {
    int64_t key;
    bool live;      /* in the table; a point-to-point channel leaves it when its queue empties */
    struct post *q; /* p2p: unmatched posts, all of one kind; collective: members of instances */
    int head, n, cap;
    bool q_sends;
    /* collective instances: members posted so far and the latest post, per instance */
    int *posted;
    double *latest;
    int n_inst;
};

struct sim {
    const struct cp_schedule *s;
    const struct cp_topology *topo;
    const struct cp_cost *cost;
    struct cp_sim_result *out;
    int trace_ranks;
    int64_t *pc;
    double *clock;
    struct ticket *tickets;
    int64_t *ticket_base;
    struct lane *lanes; /* [rank * LANES + lane] */
    int *starting, n_starting; /* lanes whose operation completed: start the next ([rank * LANES + lane]) */
    /* Point-to-point channels hold a queue only while a side waits for its peer, and a method may
     * pair every two ranks once (P^2 channels): an emptied one leaves the table and its slot,
     * queue allocation kept, goes to the next new channel. The table stays the size of what waits. */
    struct channel *channels;
    int64_t n_channels, cap_channels, n_live;
    int64_t *unused, n_unused; /* slots of channels that left the table */
    int64_t *table;            /* open addressing, linear probing: channel index + 1 */
    int64_t table_size;
    int *ready, n_ready;
    bool oom;
};

static uint64_t mix(int64_t key)
{
    uint64_t x = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    return x ^ (x >> 29);
}

static int64_t home_of(const struct sim *m, int64_t key) { return (int64_t)(mix(key) & (uint64_t)(m->table_size - 1)); }

static bool grow_table(struct sim *m)
{
    const int64_t size = m->table_size ? 2 * m->table_size : 1024;
    int64_t *table = calloc((size_t)size, sizeof *table);
    if (!table) return false;
    free(m->table);
    m->table = table;
    m->table_size = size;
    for (int64_t i = 0; i < m->n_channels; i++) {
        if (!m->channels[i].live) continue;
        int64_t h = home_of(m, m->channels[i].key);
        while (table[h]) h = (h + 1) & (size - 1);
        table[h] = i + 1;
    }
    return true;
}

/* A new channel's slot: one that left the table (its queue's allocation reused) or a new one. */
static struct channel *new_channel(struct sim *m, int64_t *index)
{
    if (m->n_unused > 0) {
        *index = m->unused[--m->n_unused];
        return &m->channels[*index];
    }
    if (m->n_channels == m->cap_channels) {
        const int64_t cap = m->cap_channels ? 2 * m->cap_channels : 256;
        struct channel *grown = realloc(m->channels, (size_t)cap * sizeof *grown);
        int64_t *unused = grown ? realloc(m->unused, (size_t)cap * sizeof *unused) : NULL;
        if (grown) m->channels = grown;
        if (unused) m->unused = unused;
        if (!grown || !unused) return NULL;
        m->cap_channels = cap;
    }
    *index = m->n_channels++;
    struct channel *c = &m->channels[*index];
    memset(c, 0, sizeof *c);
    return c;
}

static struct channel *channel_of(struct sim *m, int64_t key)
{
    if (2 * (m->n_live + 1) > m->table_size && !grow_table(m)) return NULL;
    int64_t h = home_of(m, key);
    while (m->table[h]) {
        struct channel *c = &m->channels[m->table[h] - 1];
        if (c->key == key) return c;
        h = (h + 1) & (m->table_size - 1);
    }
    int64_t index;
    struct channel *c = new_channel(m, &index);
    if (!c) return NULL;
    c->key = key;
    c->live = true;
    m->table[h] = index + 1;
    m->n_live++;
    return c;
}

/* An emptied point-to-point channel leaves the table: the entries probed past its place move
 * back into it (deletion under linear probing needs no markers). */
static void retire_channel(struct sim *m, struct channel *c)
{
    const int64_t mask = m->table_size - 1, index = c - m->channels;
    int64_t hole = home_of(m, c->key);
    while (m->table[hole] != index + 1) hole = (hole + 1) & mask;
    for (int64_t j = (hole + 1) & mask; m->table[j]; j = (j + 1) & mask) {
        const int64_t home = home_of(m, m->channels[m->table[j] - 1].key);
        /* the entry at j may fill the hole unless its home lies cyclically in (hole, j] */
        const bool stays = hole < j ? home > hole && home <= j : home > hole || home <= j;
        if (stays) continue;
        m->table[hole] = m->table[j];
        hole = j;
    }
    m->table[hole] = 0;
    c->head = c->n = 0;
    c->live = false;
    m->n_live--;
    m->unused[m->n_unused++] = index;
}

static bool push_post(struct channel *c, const struct post *p)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 2;
        struct post *grown = realloc(c->q, (size_t)cap * sizeof *grown);
        if (!grown) return false;
        c->q = grown;
        c->cap = cap;
    }
    c->q[c->n++] = *p;
    return true;
}

static struct ticket *ticket_of(struct sim *m, int rank, int ticket) { return &m->tickets[m->ticket_base[rank] + ticket]; }

static void trace(struct sim *m, int rank, int lane, int step, enum cp_sim_interval_kind kind, double start, double end)
{
    struct cp_sim_result *r = m->out;
    if (rank >= m->trace_ranks || end <= start) return;
    if (r->n_trace == r->cap_trace) {
        int cap = r->cap_trace ? 2 * r->cap_trace : 1024;
        struct cp_sim_interval *grown = realloc(r->trace, (size_t)cap * sizeof *grown);
        if (!grown) {
            m->oom = true;
            return;
        }
        r->trace = grown;
        r->cap_trace = cap;
    }
    r->trace[r->n_trace++] = (struct cp_sim_interval){rank, lane, step, kind, start, end};
}

/* One side of a transfer is done at `end`: its ticket, and the rank waiting for it. */
static void complete(struct sim *m, int rank, int ticket, double end)
{
    struct ticket *t = ticket_of(m, rank, ticket);
    if (end > t->done) t->done = end;
    if (--t->pending > 0) return;
    struct lane *l = &m->lanes[rank * LANES + t->lane];
    l->free = t->done;
    l->active = 0;
    if (!l->starting) m->starting[m->n_starting++] = rank * LANES + t->lane;
    l->starting = true;
    if (t->waited) {
        t->waited = false;
        m->ready[m->n_ready++] = rank;
    }
}

static bool same_node(const struct cp_topology *t, int a, int b) { return a / t->gpus_per_node == b / t->gpus_per_node; }

static double hop(const struct cp_topology *t, bool intra, double bytes)
{
    return (intra ? t->intra_us : t->inter_us) * 1e-6 + bytes / ((intra ? t->intra_gbs : t->inter_gbs) * 1e9);
}

double cp_message_time(const struct cp_topology *t, int from, int to, double bytes)
{
    return hop(t, same_node(t, from, to), bytes);
}

static void match(struct sim *m, const struct post *send, const struct post *recv, int lane, int step)
{
    const double start = send->time > recv->time ? send->time : recv->time;
    const double end = start + cp_message_time(m->topo, send->rank, recv->rank, send->bytes);
    m->out->rank[send->rank].sent += send->bytes;
    trace(m, send->rank, lane, step, CP_SIM_COMM, start, end);
    trace(m, recv->rank, lane, step, CP_SIM_COMM, start, end);
    complete(m, send->rank, send->ticket, end);
    complete(m, recv->rank, recv->ticket, end);
}

/* A side at the head of its lane since `at`. */
static bool start_p2p(struct sim *m, int rank, const struct cp_sched_op *op, double at)
{
    const bool is_send = op->kind == CP_SCHED_SEND;
    const int from = is_send ? rank : op->peer, to = is_send ? op->peer : rank;
    struct channel *c = channel_of(m, ((int64_t)from * m->s->ranks + to) * LANES + op->lane);
    if (!c) return false;
    const struct post p = {rank, op->ref, 0, at, op->bytes};
    if (c->head < c->n && c->q_sends != is_send) {
        const struct post other = c->q[c->head++];
        if (c->head == c->n) retire_channel(m, c);
        match(m, is_send ? &p : &other, is_send ? &other : &p, op->lane, op->step);
        return true;
    }
    c->q_sends = is_send;
    return push_post(c, &p);
}

/* The time of one collective over its members' links, from its first member's place. */
static double coll_time(const struct sim *m, const struct cp_sched_op *op)
{
    const int n = op->size, first = op->peer, last = first + (n - 1) * op->stride;
    const bool intra = same_node(m->topo, first, last);
    if (op->coll != CP_COLL_ALL_TO_ALL) return (n - 1) * hop(m->topo, intra, op->bytes);
    int near = 0;
    for (int i = 1; i < n; i++) near += same_node(m->topo, first, first + i * op->stride);
    const double a = near ? hop(m->topo, true, near * op->bytes) : 0,
                 b = n - 1 - near ? hop(m->topo, false, (n - 1 - near) * op->bytes) : 0;
    return a > b ? a : b;
}

/* The members' i-th collective on a lane of a group is one operation: per member, the count of
 * its posts on the channel says which instance a post joins. */
static bool start_coll(struct sim *m, int rank, const struct cp_sched_op *op, double at)
{
    const int64_t group = ((int64_t)op->peer << 16 | op->stride) * LANES + op->lane;
    /* channel_of may move the channels: the count first, the instance's channel after it */
    struct channel *count = channel_of(m, -((int64_t)1 << 62) + group * m->s->ranks + rank);
    if (!count) return false;
    const int inst = count->n_inst++;
    struct channel *c = channel_of(m, -1 - group);
    if (!c) return false;
    if (inst >= c->n_inst) {
        int *posted = realloc(c->posted, (size_t)(inst + 1) * sizeof *posted);
        if (posted) c->posted = posted;
        double *latest = realloc(c->latest, (size_t)(inst + 1) * sizeof *latest);
        if (latest) c->latest = latest;
        if (!posted || !latest) return false;
        for (; c->n_inst <= inst; c->n_inst++) c->posted[c->n_inst] = 0, c->latest[c->n_inst] = 0;
    }
    if (at > c->latest[inst]) c->latest[inst] = at;
    const struct post p = {rank, op->ref, inst, at, op->bytes};
    if (!push_post(c, &p)) return false;
    if (++c->posted[inst] < op->size) return true;
    /* Every member is in: each gets its completion. */
    const double end = c->latest[inst] + coll_time(m, op);
    for (int i = 0; i < c->n; i++) {
        struct post *q = &c->q[i];
        if (q->ticket < 0 || q->inst != inst) continue;
        m->out->rank[q->rank].sent += q->bytes * (op->size - 1);
        trace(m, q->rank, op->lane, op->step, CP_SIM_COMM, c->latest[inst], end);
        complete(m, q->rank, q->ticket, end);
        q->ticket = -1;
    }
    return true;
}

static bool is_side(const struct cp_sched_op *op)
{
    return op->kind == CP_SCHED_SEND || op->kind == CP_SCHED_RECV || op->kind == CP_SCHED_COLL;
}

static bool start_side(struct sim *m, int rank, const struct cp_sched_op *op, double at)
{
    return op->kind == CP_SCHED_COLL ? start_coll(m, rank, op, at) : start_p2p(m, rank, op, at);
}

/* Starts the operation at the head of an idle lane: every side of its ticket. */
static bool start_lane(struct sim *m, int index)
{
    struct lane *l = &m->lanes[index];
    if (l->active || l->head == l->n) return true;
    l->active = l->q[l->head]->ref;
    l->active_at = l->posted_at[l->head] > l->free ? l->posted_at[l->head] : l->free;
    for (; l->head < l->n && l->q[l->head]->ref == l->active; l->head++)
        if (!start_side(m, index / LANES, l->q[l->head], l->active_at)) return false;
    if (l->head == l->n) l->head = l->n = 0;
    return true;
}

static bool queue_side(struct sim *m, int rank, const struct cp_sched_op *op)
{
    const int index = rank * LANES + op->lane;
    struct lane *l = &m->lanes[index];
    if (l->active == op->ref) return start_side(m, rank, op, l->active_at);
    if (l->n == l->cap) {
        const int cap = l->cap ? 2 * l->cap : 16;
        const struct cp_sched_op **q = realloc(l->q, (size_t)cap * sizeof *q);
        if (q) l->q = q;
        double *at = realloc(l->posted_at, (size_t)cap * sizeof *at);
        if (at) l->posted_at = at;
        if (!q || !at) return false;
        l->cap = cap;
    }
    l->q[l->n] = op;
    l->posted_at[l->n++] = m->clock[rank];
    return start_lane(m, index);
}

/* A side joins its lane's queue; it starts at once when its operation is the one running. Then
 * every lane whose operation completed meanwhile starts its next one. */
static bool post_side(struct sim *m, int rank, const struct cp_sched_op *op)
{
    ticket_of(m, rank, op->ref)->lane = op->lane;
    bool ok = queue_side(m, rank, op);
    while (ok && m->n_starting > 0) {
        const int next = m->starting[--m->n_starting];
        m->lanes[next].starting = false;
        ok = start_lane(m, next);
    }
    return ok;
}

/* Runs rank r until it waits for an incomplete ticket or ends; false when out of memory. */
static bool advance(struct sim *m, int r)
{
    const struct cp_schedule *s = m->s;
    struct cp_sim_rank *me = &m->out->rank[r];
    for (; m->pc[r] < s->rank_offsets[r + 1]; m->pc[r]++) {
        const struct cp_sched_op *op = &s->ops[m->pc[r]];
        double *t = &m->clock[r];
        switch ((enum cp_sched_kind)op->kind) {
        case CP_SCHED_COMPUTE: {
            const double d = cp_kernel_time(m->cost, &s->work[op->ref], op->backward);
            trace(m, r, -1, op->step, CP_SIM_COMPUTE, *t, *t + d);
            me->compute += d;
            *t += d;
            break;
        }
        case CP_SCHED_COPY: {
            const double d = op->bytes / (m->topo->memory_gbs * 1e9);
            trace(m, r, -1, op->step, CP_SIM_COPY, *t, *t + d);
            me->copy += d;
            *t += d;
            break;
        }
        case CP_SCHED_SEND:
        case CP_SCHED_RECV:
        case CP_SCHED_COLL: {
            /* The sides of one operation (a send and a receive) are counted before any starts:
             * the operation completes when all of them have. */
            int64_t last = m->pc[r];
            while (last + 1 < s->rank_offsets[r + 1] && is_side(&s->ops[last + 1]) && s->ops[last + 1].ref == op->ref)
                last++;
            ticket_of(m, r, op->ref)->pending += (int)(last - m->pc[r] + 1);
            for (; m->pc[r] < last; m->pc[r]++)
                if (!post_side(m, r, &s->ops[m->pc[r]])) return false;
            if (!post_side(m, r, &s->ops[last])) return false;
            break;
        }
        case CP_SCHED_WAIT: {
            struct ticket *tk = ticket_of(m, r, op->ref);
            if (tk->pending > 0) {
                tk->waited = true;
                return true;
            }
            if (tk->done > *t) {
                me->exposed += tk->done - *t;
                *t = tk->done;
            }
            break;
        }
        }
    }
    me->total = m->clock[r];
    return true;
}

/* Tickets of each rank are numbered from 1; room for the largest. */
static bool make_tickets(struct sim *m)
{
    const struct cp_schedule *s = m->s;
    m->ticket_base = calloc((size_t)s->ranks + 1, sizeof *m->ticket_base);
    if (!m->ticket_base) return false;
    for (int r = 0; r < s->ranks; r++) {
        int top = 0;
        for (int64_t i = s->rank_offsets[r]; i < s->rank_offsets[r + 1]; i++)
            if (s->ops[i].kind != CP_SCHED_COMPUTE && s->ops[i].kind != CP_SCHED_COPY && s->ops[i].ref > top)
                top = s->ops[i].ref;
        m->ticket_base[r + 1] = m->ticket_base[r] + top + 1;
    }
    m->tickets = calloc((size_t)m->ticket_base[s->ranks], sizeof *m->tickets);
    return m->tickets != NULL;
}

static void sim_free(struct sim *m)
{
    free(m->pc);
    free(m->clock);
    free(m->tickets);
    free(m->ticket_base);
    for (int64_t i = 0; m->lanes && i < (int64_t)m->s->ranks * LANES; i++) {
        free(m->lanes[i].q);
        free(m->lanes[i].posted_at);
    }
    free(m->lanes);
    free(m->starting);
    for (int64_t i = 0; i < m->n_channels; i++) {
        free(m->channels[i].q);
        free(m->channels[i].posted);
        free(m->channels[i].latest);
    }
    free(m->channels);
    free(m->unused);
    free(m->table);
    free(m->ready);
}

enum lc_status cp_simulate(const struct cp_schedule *s, const struct cp_topology *topo, const struct cp_cost *cost,
                           int trace_ranks, struct cp_sim_result *out, char *err)
{
    memset(out, 0, sizeof *out);
    const int P = s->ranks;
    struct sim m = {.s = s, .topo = topo, .cost = cost, .out = out, .trace_ranks = trace_ranks};
    out->ranks = P;
    out->rank = calloc((size_t)P, sizeof *out->rank);
    m.pc = malloc((size_t)P * sizeof *m.pc);
    m.clock = calloc((size_t)P, sizeof *m.clock);
    m.lanes = calloc((size_t)P * LANES, sizeof *m.lanes);
    m.starting = malloc((size_t)P * LANES * sizeof *m.starting);
    m.ready = malloc((size_t)P * sizeof *m.ready);
    bool ok = out->rank && m.pc && m.clock && m.lanes && m.starting && m.ready && make_tickets(&m);
    for (int r = 0; ok && r < P; r++) {
        m.pc[r] = s->rank_offsets[r];
        m.ready[m.n_ready++] = P - 1 - r;
    }
    while (ok && m.n_ready > 0) ok = advance(&m, m.ready[--m.n_ready]) && !m.oom;
    enum lc_status st = LC_OK;
    if (!ok) st = lc_fail(err, LC_ERR_OOM, "out of host memory simulating %d ranks", P);
    for (int r = 0; !st && r < P; r++)
        if (m.pc[r] < s->rank_offsets[r + 1])
            st = lc_fail(err, LC_ERR_INTERNAL, "the schedule stops at rank %d, operation %lld: a wait nothing completes",
                         r, (long long)(m.pc[r] - s->rank_offsets[r]));
    for (int r = 0; !st && r < P; r++) {
        out->mean_s += out->rank[r].total / P;
        if (out->rank[r].total > out->slowest_s) {
            out->slowest_s = out->rank[r].total;
            out->slowest = r;
        }
    }
    sim_free(&m);
    if (st) cp_sim_result_free(out);
    return st;
}

void cp_sim_result_free(struct cp_sim_result *r)
{
    free(r->rank);
    free(r->trace);
    memset(r, 0, sizeof *r);
}
