#include "core/engine/services.h"

#include <stdio.h>

static struct lc_services registered;

void services_register(const struct lc_services *s) { registered = *s; }

const struct lc_services *services(void) { return &registered; }

enum lc_status services_start_gpu_recorder(struct timeline *tl, const struct timeline_recorder **out, char *note)
{
    const struct timeline_recorder *rec = registered.gpu_recorder;
    *out = NULL;
    note[0] = '\0';
    if (!rec) return LC_OK;
    char why[LC_ERRMSG_LEN] = "";
    enum lc_status st = rec->start(tl, why);
    if (st != LC_OK)
        return lc_fail(note, st, "GPU recorder %s did not start, so runs have no device timeline: %.180s", rec->name,
                       why);
    if (why[0]) snprintf(note, LC_ERRMSG_LEN, "GPU recorder %s runs without a part: %.190s", rec->name, why);
    *out = rec;
    return LC_OK;
}
