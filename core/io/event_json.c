/* One event as one line of JSON, and back: the capture file's format. Enums are written by
 * name, so a capture stays readable when an enum grows; every field round-trips exactly
 * (integers keep all 64 bits, doubles are written with enough digits). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/io/capture.h"
#include "core/io/json.h"
#include "core/mask/doclen.h"

/* ---------------------------------------------------------------- writing */

static void put_key(FILE *f, const char *key)
{
    fprintf(f, ",\"%s\":", key);
}

static void put_string(FILE *f, const char *key, const char *value)
{
    put_key(f, key);
    json_write_string(f, value);
}

static void put_double(FILE *f, const char *key, double value)
{
    put_key(f, key);
    json_write_double(f, value);
}

static void put_i64(FILE *f, const char *key, int64_t value)
{
    put_key(f, key);
    fprintf(f, "%" PRId64, value);
}

static void put_bool(FILE *f, const char *key, bool value)
{
    put_key(f, key);
    fputs(value ? "true" : "false", f);
}

/* Objects open with a first member written without the leading comma. */
static void open_object(FILE *f, const char *first_key)
{
    fprintf(f, "{\"%s\":", first_key);
}

static void write_spec(FILE *f, const struct run_spec *s)
{
    const struct mask_params *mp = &s->mask_params;
    open_object(f, "kernel");
    json_write_string(f, s->kernel);
    put_string(f, "mask", mask_pattern_name(s->mask));
    fputs(",\"mask_params\":", f);
    open_object(f, "window");
    fprintf(f, "%" PRId64, mp->window);
    put_i64(f, "global_tokens", mp->global_tokens);
    put_i64(f, "prefix", mp->prefix);
    put_i64(f, "block", mp->block);
    put_double(f, "density", mp->density);
    put_string(f, "doclen", doclen_source_name(mp->doclen));
    put_key(f, "seed");
    fprintf(f, "%" PRIu64 "}", mp->seed);
    put_i64(f, "seqlen", s->seqlen);
    put_i64(f, "batch", s->batch);
    put_i64(f, "heads_q", s->heads_q);
    put_i64(f, "heads_kv", s->heads_kv);
    put_i64(f, "head_dim", s->head_dim);
    put_string(f, "dtype", dtype_name(s->dtype));
    put_string(f, "direction", direction_name(s->direction));
    put_string(f, "cp_method", s->cp_method);
    put_i64(f, "cp_degree", s->cp_degree);
    put_i64(f, "cp_inner", s->cp_inner);
    put_i64(f, "gpus", s->cp_degree); /* the same fact, for readers of older captures */
    put_i64(f, "warmup", s->warmup);
    put_i64(f, "iters", s->iters);
    put_bool(f, "check", s->check);
    put_bool(f, "deterministic", s->deterministic);
    put_string(f, "counters", counter_mode_name(s->counters));
    fputc('}', f);
}

static void write_result(FILE *f, const struct run_result *r)
{
    open_object(f, "status");
    json_write_string(f, lc_status_name(r->status));
    put_string(f, "message", r->message);
    put_string(f, "kernel_version", r->kernel_version);
    put_double(f, "ms_median", r->ms_median);
    put_double(f, "ms_p20", r->ms_p20);
    put_double(f, "ms_p80", r->ms_p80);
    put_double(f, "ms_mean_ranks", r->ms_mean_ranks);
    put_double(f, "flops", r->flops);
    put_double(f, "tflops", r->tflops);
    put_double(f, "tflops_mean", r->tflops_mean);
    put_double(f, "area", r->area);
    put_double(f, "density", r->density);
    put_i64(f, "peak_mem_bytes", r->peak_mem_bytes);
    put_bool(f, "check_ran", r->check_ran);
    put_bool(f, "check_pass", r->check_pass);
    put_double(f, "max_abs_err", r->max_abs_err);
    put_double(f, "max_rel_err", r->max_rel_err);
    put_double(f, "work", r->work);
    put_double(f, "work_imbalance", r->work_imbalance);
    put_double(f, "work", r->work);
    put_double(f, "comm_bytes", r->comm_bytes);
    put_double(f, "algbw_gbs", r->algbw_gbs);
    put_double(f, "busbw_gbs", r->busbw_gbs);
    put_i64(f, "cores", r->cores);
    put_i64(f, "ranks", r->ranks);
    fputc('}', f);
}

static void write_interval(FILE *f, const struct interval *iv)
{
    open_object(f, "start_ns");
    fprintf(f, "%" PRId64, iv->start_ns);
    put_i64(f, "end_ns", iv->end_ns);
    put_string(f, "kind", interval_kind_name((enum interval_kind)iv->kind));
    put_i64(f, "stream", iv->stream);
    put_i64(f, "cp_step", iv->cp_step);
    put_i64(f, "iter", iv->iter);
    put_i64(f, "correlation", iv->correlation);
    fprintf(f, ",\"grid\":[%" PRIu32 ",%" PRIu32 ",%" PRIu32 "]", iv->grid[0], iv->grid[1], iv->grid[2]);
    fprintf(f, ",\"block\":[%" PRIu32 ",%" PRIu32 ",%" PRIu32 "]", iv->block[0], iv->block[1], iv->block[2]);
    put_key(f, "bytes");
    fprintf(f, "%" PRIu64, iv->bytes);
    put_i64(f, "launch_ns", iv->launch_ns);
    put_i64(f, "launch_end_ns", iv->launch_end_ns);
    put_string(f, "name", iv->name);
    if (iv->simulated) fputs(",\"simulated\":true", f);
    fputc('}', f);
}

static void write_sample(FILE *f, const struct counter_sample *s)
{
    open_object(f, "t_ns");
    fprintf(f, "%" PRId64, s->t_ns);
    put_string(f, "metric", s->metric);
    put_double(f, "value", s->value);
    fputc('}', f);
}

void event_write_json(FILE *f, const struct event *ev)
{
    open_object(f, "type");
    json_write_string(f, event_type_name(ev->type));
    put_i64(f, "run", ev->run_id);
    put_i64(f, "rank", ev->rank);
    put_i64(f, "t_ns", ev->t_ns);
    switch (ev->type) {
    case EV_HELLO:
        put_string(f, "host", ev->u.hello.host);
        put_string(f, "device", ev->u.hello.device);
        put_string(f, "backend", ev->u.hello.backend);
        put_i64(f, "local_index", ev->u.hello.local_index);
        put_i64(f, "clock_offset_ns", ev->u.hello.clock_offset_ns);
        put_i64(f, "clock_residual_ns", ev->u.hello.clock_residual_ns);
        put_string(f, "driver", ev->u.hello.driver);
        put_string(f, "cuda", ev->u.hello.cuda);
        put_string(f, "nccl", ev->u.hello.nccl);
        put_string(f, "cudnn", ev->u.hello.cudnn);
        break;
    case EV_SESSION:
        put_i64(f, "schema", ev->u.session.schema);
        put_string(f, "version", ev->u.session.version);
        put_string(f, "commit", ev->u.session.commit);
        put_string(f, "host", ev->u.session.host);
        put_string(f, "cpu", ev->u.session.cpu);
        put_string(f, "command", ev->u.session.command);
        break;
    case EV_RUN_QUEUED:
        fputs(",\"spec\":", f);
        write_spec(f, &ev->u.spec);
        break;
    case EV_PROGRESS:
        put_string(f, "phase", run_phase_name(ev->u.progress.phase));
        put_i64(f, "iter", ev->u.progress.iter);
        put_i64(f, "total", ev->u.progress.total);
        break;
    case EV_ESTIMATE:
        put_double(f, "rep_s", ev->u.estimate.rep_s);
        put_double(f, "flops", ev->u.estimate.flops);
        put_double(f, "flops_per_s", ev->u.estimate.flops_per_s);
        put_string(f, "basis", ev->u.estimate.basis);
        break;
    case EV_RESULT:
    case EV_RUN_DONE:
        fputs(",\"result\":", f);
        write_result(f, &ev->u.result);
        break;
    case EV_ERROR:
    case EV_WORKER_LOST:
        put_string(f, "status", lc_status_name(ev->u.error.status));
        put_string(f, "message", ev->u.error.message);
        break;
    default: break;
    }
    if (ev->n_intervals > 0 || ev->type == EV_INTERVALS) {
        fputs(",\"intervals\":[", f);
        for (int k = 0; k < ev->n_intervals; k++) {
            if (k) fputc(',', f);
            write_interval(f, &ev->intervals[k]);
        }
        fputc(']', f);
    }
    if (ev->n_samples > 0 || ev->type == EV_COUNTERS) {
        fputs(",\"samples\":[", f);
        for (int k = 0; k < ev->n_samples; k++) {
            if (k) fputc(',', f);
            write_sample(f, &ev->samples[k]);
        }
        fputc(']', f);
    }
    fputc('}', f);
}

/* ---------------------------------------------------------------- reading */

/* Reads the members of one object; the first problem sticks in st and err, and later reads
 * become no-ops, so a parser is a flat list of reads followed by one check. */
struct fields {
    const struct json_value *obj;
    const char *where; /* "result", "spec.mask_params", ... for messages */
    enum lc_status st;
    char *err;
};

static const struct json_value *find(struct fields *fr, const char *key)
{
    if (fr->st != LC_OK) return NULL;
    const struct json_value *v = json_get(fr->obj, key);
    if (!v) fr->st = lc_fail(fr->err, LC_ERR_INVALID, "%s: missing field \"%s\"", fr->where, key);
    return v;
}

static const struct json_value *member(struct fields *fr, const char *key, enum json_type type)
{
    const struct json_value *v = find(fr, key);
    if (v && v->type != type) {
        fr->st = lc_fail(fr->err, LC_ERR_INVALID, "%s: field \"%s\" has the wrong type", fr->where, key);
        return NULL;
    }
    return v;
}

static void bad_value(struct fields *fr, const char *key, const char *why)
{
    if (fr->st == LC_OK) fr->st = lc_fail(fr->err, LC_ERR_INVALID, "%s: field \"%s\" %s", fr->where, key, why);
}

static int64_t get_int(struct fields *fr, const char *key, int64_t min, int64_t max)
{
    const struct json_value *v = member(fr, key, JSON_NUMBER);
    if (!v) return 0;
    if (!v->is_int) bad_value(fr, key, "is not an integer");
    else if (v->i < min || v->i > max) bad_value(fr, key, "is out of range");
    return fr->st == LC_OK ? v->i : 0;
}

static uint64_t get_u64(struct fields *fr, const char *key)
{
    const struct json_value *v = member(fr, key, JSON_NUMBER);
    if (!v) return 0;
    if (!v->is_uint) bad_value(fr, key, "is not an unsigned integer");
    return fr->st == LC_OK ? v->u : 0;
}

static double get_double(struct fields *fr, const char *key)
{
    const struct json_value *v = find(fr, key); /* non-finite values are strings */
    double x = 0;
    if (v && !json_as_double(v, &x)) bad_value(fr, key, "is not a number");
    return x;
}

static bool get_bool(struct fields *fr, const char *key)
{
    const struct json_value *v = member(fr, key, JSON_BOOL);
    return v ? v->boolean : false;
}

static const char *get_string(struct fields *fr, const char *key)
{
    const struct json_value *v = member(fr, key, JSON_STRING);
    return v ? v->string : "";
}

static void copy_string(struct fields *fr, const char *key, char *dst, size_t cap)
{
    const struct json_value *v = member(fr, key, JSON_STRING);
    if (!v) return;
    if (v->length >= cap) bad_value(fr, key, "is too long");
    else memcpy(dst, v->string, v->length + 1);
}

static struct fields sub_fields(struct fields *fr, const char *key, const char *where)
{
    struct fields sub = {.obj = member(fr, key, JSON_OBJECT), .where = where, .st = fr->st, .err = fr->err};
    return sub;
}


static void get_status(struct fields *fr, const char *key, enum lc_status *out)
{
    const char *name = get_string(fr, key);
    if (fr->st == LC_OK && lc_status_parse(name, out) != LC_OK) bad_value(fr, key, "is not a status name");
}

static void read_spec(struct fields *parent, struct run_spec *s)
{
    struct fields fr = sub_fields(parent, "spec", "spec");
    memset(s, 0, sizeof *s);
    copy_string(&fr, "kernel", s->kernel, sizeof s->kernel);
    if (mask_pattern_parse(get_string(&fr, "mask"), &s->mask) != 0) bad_value(&fr, "mask", "is not a mask pattern");

    struct fields mp = sub_fields(&fr, "mask_params", "spec.mask_params");
    s->mask_params.window = get_int(&mp, "window", INT64_MIN, INT64_MAX);
    s->mask_params.global_tokens = get_int(&mp, "global_tokens", INT64_MIN, INT64_MAX);
    s->mask_params.prefix = get_int(&mp, "prefix", INT64_MIN, INT64_MAX);
    s->mask_params.block = get_int(&mp, "block", INT64_MIN, INT64_MAX);
    s->mask_params.density = get_double(&mp, "density");
    if (doclen_source_parse(get_string(&mp, "doclen"), &s->mask_params.doclen) != 0)
        bad_value(&mp, "doclen", "is not a document length source");
    s->mask_params.seed = get_u64(&mp, "seed");
    fr.st = mp.st;

    s->seqlen = get_int(&fr, "seqlen", INT64_MIN, INT64_MAX);
    s->batch = (int)get_int(&fr, "batch", INT32_MIN, INT32_MAX);
    s->heads_q = (int)get_int(&fr, "heads_q", INT32_MIN, INT32_MAX);
    s->heads_kv = (int)get_int(&fr, "heads_kv", INT32_MIN, INT32_MAX);
    s->head_dim = (int)get_int(&fr, "head_dim", INT32_MIN, INT32_MAX);
    if (dtype_parse(get_string(&fr, "dtype"), &s->dtype) != 0) bad_value(&fr, "dtype", "is not a dtype");
    if (direction_parse(get_string(&fr, "direction"), &s->direction) != 0)
        bad_value(&fr, "direction", "is not a direction");
    copy_string(&fr, "cp_method", s->cp_method, sizeof s->cp_method);
    s->cp_degree = (int)get_int(&fr, "cp_degree", INT32_MIN, INT32_MAX);
    s->cp_inner = (int)get_int(&fr, "cp_inner", INT32_MIN, INT32_MAX);
    s->warmup = (int)get_int(&fr, "warmup", INT32_MIN, INT32_MAX);
    s->iters = (int)get_int(&fr, "iters", INT32_MIN, INT32_MAX);
    s->check = get_bool(&fr, "check");
    s->deterministic = get_bool(&fr, "deterministic");
    if (counter_mode_parse(get_string(&fr, "counters"), &s->counters) != 0)
        bad_value(&fr, "counters", "is not a counter mode");
    parent->st = fr.st;
}

static void read_result(struct fields *parent, struct run_result *r)
{
    struct fields fr = sub_fields(parent, "result", "result");
    memset(r, 0, sizeof *r);
    get_status(&fr, "status", &r->status);
    copy_string(&fr, "message", r->message, sizeof r->message);
    if (fr.obj && json_get(fr.obj, "kernel_version")) /* captures written before it have none */
        copy_string(&fr, "kernel_version", r->kernel_version, sizeof r->kernel_version);
    r->ms_median = get_double(&fr, "ms_median");
    r->ms_p20 = get_double(&fr, "ms_p20");
    r->ms_p80 = get_double(&fr, "ms_p80");
    r->ms_mean_ranks = get_double(&fr, "ms_mean_ranks");
    r->flops = get_double(&fr, "flops");
    r->tflops = get_double(&fr, "tflops");
    r->tflops_mean = get_double(&fr, "tflops_mean");
    r->area = get_double(&fr, "area");
    r->density = get_double(&fr, "density");
    r->peak_mem_bytes = get_int(&fr, "peak_mem_bytes", INT64_MIN, INT64_MAX);
    r->check_ran = get_bool(&fr, "check_ran");
    r->check_pass = get_bool(&fr, "check_pass");
    r->max_abs_err = get_double(&fr, "max_abs_err");
    r->max_rel_err = get_double(&fr, "max_rel_err");
    r->work = get_double(&fr, "work");
    r->work_imbalance = get_double(&fr, "work_imbalance");
    r->work = get_double(&fr, "work");
    r->comm_bytes = get_double(&fr, "comm_bytes");
    r->algbw_gbs = get_double(&fr, "algbw_gbs");
    r->busbw_gbs = get_double(&fr, "busbw_gbs");
    r->cores = (int)get_int(&fr, "cores", 0, INT32_MAX);
    r->ranks = (int)get_int(&fr, "ranks", INT32_MIN, INT32_MAX);
    parent->st = fr.st;
}

static void get_u32_triple(struct fields *fr, const char *key, uint32_t out[3])
{
    const struct json_value *v = member(fr, key, JSON_ARRAY);
    if (!v) return;
    if (v->count != 3) {
        bad_value(fr, key, "needs 3 entries");
        return;
    }
    for (int k = 0; k < 3; k++) {
        const struct json_value *x = &v->items[k];
        if (x->type != JSON_NUMBER || !x->is_uint || x->u > UINT32_MAX) {
            bad_value(fr, key, "holds a value that is not a 32-bit unsigned integer");
            return;
        }
        out[k] = (uint32_t)x->u;
    }
}

static int kind_parse(const char *name)
{
    for (int k = 0; k < IV_KIND_COUNT; k++)
        if (strcmp(name, interval_kind_name((enum interval_kind)k)) == 0) return k;
    return -1;
}

static void read_interval(struct fields *fr, struct interval *iv)
{
    memset(iv, 0, sizeof *iv);
    iv->start_ns = get_int(fr, "start_ns", -LC_MAX_TIME_NS, LC_MAX_TIME_NS);
    iv->end_ns = get_int(fr, "end_ns", -LC_MAX_TIME_NS, LC_MAX_TIME_NS);
    int kind = kind_parse(get_string(fr, "kind"));
    if (kind < 0) bad_value(fr, "kind", "is not an interval kind");
    iv->kind = (uint8_t)(kind < 0 ? 0 : kind);
    iv->stream = (int16_t)get_int(fr, "stream", INT16_MIN, INT16_MAX);
    iv->cp_step = (int32_t)get_int(fr, "cp_step", INT32_MIN, INT32_MAX);
    iv->iter = (int32_t)get_int(fr, "iter", INT32_MIN, INT32_MAX);
    iv->correlation = (uint32_t)get_int(fr, "correlation", 0, UINT32_MAX);
    get_u32_triple(fr, "grid", iv->grid);
    get_u32_triple(fr, "block", iv->block);
    iv->bytes = get_u64(fr, "bytes");
    if (json_get(fr->obj, "launch_ns")) { /* captures before launch times lack both */
        iv->launch_ns = get_int(fr, "launch_ns", -LC_MAX_TIME_NS, LC_MAX_TIME_NS);
        iv->launch_end_ns = get_int(fr, "launch_end_ns", -LC_MAX_TIME_NS, LC_MAX_TIME_NS);
    }
    copy_string(fr, "name", iv->name, sizeof iv->name);
    const struct json_value *simulated = json_get(fr->obj, "simulated");
    iv->simulated = simulated && simulated->type == JSON_BOOL && simulated->boolean;
    if (iv->end_ns < iv->start_ns) bad_value(fr, "end_ns", "is before start_ns");
}

static void read_sample(struct fields *fr, struct counter_sample *s)
{
    memset(s, 0, sizeof *s);
    s->t_ns = get_int(fr, "t_ns", -LC_MAX_TIME_NS, LC_MAX_TIME_NS);
    copy_string(fr, "metric", s->metric, sizeof s->metric);
    s->value = get_double(fr, "value");
}

/* An optional array of objects, each read by read_one into a fresh array of `size` bytes each;
 * the caller owns what is returned even when fr->st reports an error. */
static void *read_array_of(struct fields *fr, const char *key, size_t size, int *count,
                           void (*read_one)(struct fields *, void *))
{
    *count = 0;
    if (fr->st != LC_OK || !json_get(fr->obj, key)) return NULL;
    const struct json_value *arr = member(fr, key, JSON_ARRAY);
    if (!arr || arr->count == 0) return NULL;
    char *out = calloc((size_t)arr->count, size);
    if (!out) {
        fr->st = lc_fail(fr->err, LC_ERR_OOM, "%s: out of memory for %d entries", key, arr->count);
        return NULL;
    }
    *count = arr->count;
    for (int k = 0; k < arr->count && fr->st == LC_OK; k++) {
        if (arr->items[k].type != JSON_OBJECT) {
            fr->st = lc_fail(fr->err, LC_ERR_INVALID, "%s[%d] is not an object", key, k);
            break;
        }
        struct fields item = {.obj = &arr->items[k], .where = key, .st = LC_OK, .err = fr->err};
        read_one(&item, out + (size_t)k * size);
        fr->st = item.st;
    }
    return out;
}

static void read_interval_any(struct fields *fr, void *iv) { read_interval(fr, iv); }
static void read_sample_any(struct fields *fr, void *s) { read_sample(fr, s); }

enum lc_status event_parse_json(const char *line, struct event *out, char *err)
{
    struct json_value root;
    memset(out, 0, sizeof *out);
    enum lc_status st = json_parse(line, &root, err);
    if (st != LC_OK) return st;
    if (root.type != JSON_OBJECT) {
        json_free(&root);
        return lc_fail(err, LC_ERR_INVALID, "an event must be a JSON object");
    }
    struct fields fr = {.obj = &root, .where = "event", .st = LC_OK, .err = err};
    const char *type = get_string(&fr, "type");
    if (fr.st == LC_OK && event_type_parse(type, &out->type) != 0) bad_value(&fr, "type", "is not an event type");
    out->run_id = (int)get_int(&fr, "run", -1, INT32_MAX - 1);
    out->rank = (int)get_int(&fr, "rank", -1, LC_MAX_RANK);
    out->t_ns = get_int(&fr, "t_ns", -LC_MAX_TIME_NS, LC_MAX_TIME_NS);
    if (fr.st == LC_OK) {
        fr.where = event_type_name(out->type);
        switch (out->type) {
        case EV_HELLO:
            copy_string(&fr, "host", out->u.hello.host, sizeof out->u.hello.host);
            copy_string(&fr, "device", out->u.hello.device, sizeof out->u.hello.device);
            copy_string(&fr, "backend", out->u.hello.backend, sizeof out->u.hello.backend);
            out->u.hello.local_index = (int)get_int(&fr, "local_index", INT32_MIN, INT32_MAX);
            out->u.hello.clock_offset_ns = get_int(&fr, "clock_offset_ns", -LC_MAX_TIME_NS, LC_MAX_TIME_NS);
            out->u.hello.clock_residual_ns = get_int(&fr, "clock_residual_ns", -LC_MAX_TIME_NS, LC_MAX_TIME_NS);
            if (json_get(fr.obj, "driver")) { /* captures before schema 2 lack the stack */
                copy_string(&fr, "driver", out->u.hello.driver, sizeof out->u.hello.driver);
                copy_string(&fr, "cuda", out->u.hello.cuda, sizeof out->u.hello.cuda);
                copy_string(&fr, "nccl", out->u.hello.nccl, sizeof out->u.hello.nccl);
                copy_string(&fr, "cudnn", out->u.hello.cudnn, sizeof out->u.hello.cudnn);
            }
            break;
        case EV_SESSION:
            out->u.session.schema = (int)get_int(&fr, "schema", 0, INT32_MAX);
            copy_string(&fr, "version", out->u.session.version, sizeof out->u.session.version);
            copy_string(&fr, "commit", out->u.session.commit, sizeof out->u.session.commit);
            copy_string(&fr, "host", out->u.session.host, sizeof out->u.session.host);
            copy_string(&fr, "cpu", out->u.session.cpu, sizeof out->u.session.cpu);
            copy_string(&fr, "command", out->u.session.command, sizeof out->u.session.command);
            break;
        case EV_RUN_QUEUED: read_spec(&fr, &out->u.spec); break;
        case EV_PROGRESS: {
            const char *phase = get_string(&fr, "phase");
            bool known = false;
            for (int p = PHASE_SETUP; p <= PHASE_PROFILE && fr.st == LC_OK; p++)
                if (strcmp(phase, run_phase_name((enum run_phase)p)) == 0) {
                    out->u.progress.phase = (enum run_phase)p;
                    known = true;
                }
            if (!known) bad_value(&fr, "phase", "is not a run phase");
            out->u.progress.iter = (int)get_int(&fr, "iter", INT32_MIN, INT32_MAX);
            out->u.progress.total = (int)get_int(&fr, "total", INT32_MIN, INT32_MAX);
            break;
        }
        case EV_ESTIMATE:
            out->u.estimate.rep_s = get_double(&fr, "rep_s");
            out->u.estimate.flops = get_double(&fr, "flops");
            out->u.estimate.flops_per_s = get_double(&fr, "flops_per_s");
            copy_string(&fr, "basis", out->u.estimate.basis, sizeof out->u.estimate.basis);
            break;
        case EV_RESULT:
        case EV_RUN_DONE: read_result(&fr, &out->u.result); break;
        case EV_ERROR:
        case EV_WORKER_LOST:
            get_status(&fr, "status", &out->u.error.status);
            copy_string(&fr, "message", out->u.error.message, sizeof out->u.error.message);
            break;
        default: break;
        }
        out->intervals = read_array_of(&fr, "intervals", sizeof *out->intervals, &out->n_intervals, read_interval_any);
        out->samples = read_array_of(&fr, "samples", sizeof *out->samples, &out->n_samples, read_sample_any);
    }
    json_free(&root);
    /* Captures written before run_done existed carried a run's merged result as rank -1's. */
    if (out->type == EV_RESULT && out->rank == -1) out->type = EV_RUN_DONE;
    if (fr.st != LC_OK) event_free(out);
    return fr.st;
}

void run_spec_write_json(FILE *f, const struct run_spec *s) { write_spec(f, s); }

enum lc_status run_spec_parse_json(const struct json_value *obj, struct run_spec *out, char *err)
{
    struct fields fr = {.obj = obj, .where = "run", .st = LC_OK, .err = err};
    read_spec(&fr, out);
    return fr.st;
}
