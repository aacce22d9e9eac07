#include "core/model/timeline.h"

#include <stdlib.h>
#include <string.h>

void timeline_init(struct timeline *tl)
{
    memset(tl, 0, sizeof *tl);
    pthread_mutex_init(&tl->lock, NULL);
    tl->cp_step = -1;
}

void timeline_destroy(struct timeline *tl)
{
    free(tl->items);
    pthread_mutex_destroy(&tl->lock);
    tl->items = NULL;
    tl->n = tl->cap = 0;
}

/* Caller holds the lock. */
static struct interval *append_slot(struct timeline *tl)
{
    if (tl->n == tl->cap) {
        int cap = tl->cap ? tl->cap * 2 : 256;
        struct interval *grown = realloc(tl->items, (size_t)cap * sizeof *grown);
        if (!grown) return NULL; /* dropping an interval beats crashing the worker */
        tl->items = grown;
        tl->cap = cap;
    }
    return &tl->items[tl->n++];
}

void timeline_add(struct timeline *tl, enum interval_kind kind, const char *name, int64_t start_ns,
                  int64_t end_ns, int stream)
{
    struct interval iv;
    memset(&iv, 0, sizeof iv);
    iv.start_ns = iv.launch_ns = iv.launch_end_ns = start_ns; /* the host runs it: issued as it starts */
    iv.end_ns = end_ns;
    iv.kind = (uint8_t)kind;
    iv.stream = (int16_t)stream;
    strncpy(iv.name, name, sizeof iv.name - 1);
    pthread_mutex_lock(&tl->lock);
    iv.cp_step = tl->cp_step;
    iv.iter = tl->iter;
    pthread_mutex_unlock(&tl->lock);
    timeline_add_interval(tl, &iv);
}

void timeline_add_interval(struct timeline *tl, const struct interval *iv)
{
    pthread_mutex_lock(&tl->lock);
    struct interval *slot = append_slot(tl);
    if (slot) {
        *slot = *iv;
        slot->start_ns += tl->clock_offset_ns;
        slot->end_ns += tl->clock_offset_ns;
        if (slot->launch_ns) slot->launch_ns += tl->clock_offset_ns, slot->launch_end_ns += tl->clock_offset_ns;
    }
    pthread_mutex_unlock(&tl->lock);
}

int timeline_take(struct timeline *tl, struct interval **out)
{
    pthread_mutex_lock(&tl->lock);
    int n = tl->n;
    *out = tl->items;
    tl->items = NULL;
    tl->n = tl->cap = 0;
    pthread_mutex_unlock(&tl->lock);
    return n;
}

void timeline_recorder_drop_samples(const struct timeline_recorder *rec)
{
    if (!rec || !rec->take_samples) return;
    struct counter_sample *dropped = NULL;
    rec->take_samples(&dropped);
    free(dropped);
}
