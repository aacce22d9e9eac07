/* The registry of the methods a run spreads over ranks by (filled by cp/). */
#include "core/engine/cp_method.h"
#include "core/mask/mask_view.h"

#include <stdlib.h>
#include <string.h>

#include "core/engine/kernel.h"

static const struct cp_method_ops *methods[CP_METHOD_MAX];
static int registered;

void cp_method_register(const struct cp_method_ops *ops)
{
    if (registered < CP_METHOD_MAX && !cp_method_find(ops->name)) methods[registered++] = ops;
}

const struct cp_method_ops *cp_method_find(const char *name)
{
    if (!strcmp(name, "none")) name = CP_METHOD_LOCAL;
    for (int i = 0; i < registered; i++)
        if (!strcmp(methods[i]->name, name)) return methods[i];
    return NULL;
}

bool run_spec_is_cp(const struct run_spec *spec)
{
    const struct cp_method_ops *m = cp_method_find(spec->cp_method);
    return !m || !m->single_device;
}

int cp_method_count(void) { return registered; }

const struct cp_method_ops *cp_method_at(int index) { return index >= 0 && index < registered ? methods[index] : NULL; }

/* The spec's method, after the run's own validation, and the spec's mask with its global view
 * (both freed with free_problem). */
static enum lc_status build_problem(const struct run_spec *spec, const struct cp_method_ops **method,
                                    struct mask *mask, struct longca_mask *view, char *err)
{
    const struct cp_method_ops *m = cp_method_find(spec->cp_method);
    if (!m) return lc_fail(err, LC_ERR_INVALID, "unknown CP method '%s'", spec->cp_method);
    enum lc_status st = m->validate(spec, err);
    if (st) return st;
    if ((st = mask_build(spec->mask, &spec->mask_params, spec->seqlen, spec->heads_kv, mask, err))) return st;
    if ((st = mask_view_build(mask, view, err))) mask_free(mask);
    *method = m;
    return st;
}

static void free_problem(struct mask *mask, struct longca_mask *view)
{
    mask_view_free(view);
    mask_free(mask);
}

/* The prediction's arrays, before the method fills them. */
static enum lc_status prediction_alloc(const struct run_spec *spec, struct cp_prediction *out, char *err)
{
    out->ranks = spec->cp_degree;
    out->work = calloc((size_t)spec->cp_degree, sizeof *out->work);
    out->bytes = calloc((size_t)spec->cp_degree, sizeof *out->bytes);
    if (!out->work || !out->bytes) return lc_fail(err, LC_ERR_OOM, "no host memory for %d ranks", spec->cp_degree);
    return LC_OK;
}

/* The run's figures from the method's per-rank work and bytes. */
static void prediction_sum(struct cp_prediction *out)
{
    double top = 0, total = 0;
    for (int r = 0; r < out->ranks; r++) {
        total += out->work[r];
        if (out->work[r] > top) top = out->work[r];
        out->mean_bytes += out->bytes[r] / out->ranks;
        if (out->bytes[r] > out->max_bytes) out->max_bytes = out->bytes[r];
    }
    out->imbalance = total > 0 ? top / (total / out->ranks) : 0;
}

static enum lc_status predict_problem(const struct cp_method_ops *m, const struct run_spec *spec, const struct mask *mask,
                                      const struct longca_mask *view, struct cp_prediction *out, char *err)
{
    if (!m->predict) return lc_fail(err, LC_ERR_UNSUPPORTED, "%s cannot predict without running", m->name);
    enum lc_status st = prediction_alloc(spec, out, err);
    if (!st) st = m->predict(spec, mask, view, out->work, out->bytes, err);
    if (!st) prediction_sum(out);
    return st;
}

/* An empty schedule counted in the kernel's query tile. */
static enum lc_status schedule_begin(const struct run_spec *spec, struct cp_schedule *out, char *err)
{
    const struct longca_kernel *k = kernel_find(spec->kernel);
    if (!k) return lc_fail(err, LC_ERR_INVALID, "unknown kernel '%s'", spec->kernel);
    return cp_schedule_init(out, spec->cp_degree, k->tile_q, err);
}

static enum lc_status schedule_problem(const struct cp_method_ops *m, const struct run_spec *spec, const struct mask *mask,
                                       const struct longca_mask *view, struct cp_schedule *out, char *err)
{
    if (!m->schedule) return lc_fail(err, LC_ERR_UNSUPPORTED, "%s has no schedule to simulate", m->name);
    enum lc_status st = schedule_begin(spec, out, err);
    if (!st) st = m->schedule(spec, mask, view, out, err);
    if (!st) st = cp_schedule_finish(out, err);
    return st;
}

static enum lc_status model_problem(const struct cp_method_ops *m, const struct run_spec *spec, const struct mask *mask,
                                    const struct longca_mask *view, struct cp_prediction *prediction,
                                    struct cp_schedule *schedule, char *err)
{
    enum lc_status st = prediction_alloc(spec, prediction, err);
    if (!st) st = schedule_begin(spec, schedule, err);
    if (!st) st = m->model(spec, mask, view, prediction->work, prediction->bytes, schedule, err);
    if (!st) st = cp_schedule_finish(schedule, err);
    if (!st) prediction_sum(prediction);
    return st;
}

/* The spec's method asked, over one mask, for a prediction, a schedule or both (NULL: not asked);
 * on failure nothing is left to free. */
static enum lc_status ask(const struct run_spec *spec, struct cp_prediction *prediction, struct cp_schedule *schedule,
                          char *err)
{
    if (prediction) memset(prediction, 0, sizeof *prediction);
    if (schedule) memset(schedule, 0, sizeof *schedule);
    const struct cp_method_ops *m = NULL;
    struct mask mask;
    struct longca_mask view;
    enum lc_status st = build_problem(spec, &m, &mask, &view, err);
    if (st) return st;
    if (prediction && schedule && m->model) {
        st = model_problem(m, spec, &mask, &view, prediction, schedule, err);
    } else {
        if (prediction) st = predict_problem(m, spec, &mask, &view, prediction, err);
        if (!st && schedule) st = schedule_problem(m, spec, &mask, &view, schedule, err);
    }
    if (!st && prediction) prediction->flops = run_flops(spec, &mask);
    if (st && prediction) cp_prediction_free(prediction);
    if (st && schedule) cp_schedule_free(schedule);
    free_problem(&mask, &view);
    return st;
}

enum lc_status cp_method_predict(const struct run_spec *spec, struct cp_prediction *out, char *err)
{
    return ask(spec, out, NULL, err);
}

void cp_prediction_free(struct cp_prediction *p)
{
    free(p->work);
    free(p->bytes);
    memset(p, 0, sizeof *p);
}

enum lc_status cp_method_schedule(const struct run_spec *spec, struct cp_schedule *out, char *err)
{
    return ask(spec, NULL, out, err);
}

enum lc_status cp_method_model(const struct run_spec *spec, struct cp_prediction *prediction, struct cp_schedule *schedule,
                               char *err)
{
    return ask(spec, prediction, schedule, err);
}
