#include "core/io/report.h"

#include <stdlib.h>
#include <string.h>

#include "core/engine/cp_method.h"
#include "core/io/capture.h"
#include "core/io/json.h"
#include "core/io/metadata.h"

int report_format_parse(const char *name, enum report_format *out)
{
    if (!strcmp(name, "table")) *out = REPORT_TABLE;
    else if (!strcmp(name, "csv")) *out = REPORT_CSV;
    else if (!strcmp(name, "json")) *out = REPORT_JSON;
    else if (!strcmp(name, "jsonl")) *out = REPORT_JSONL;
    else return -1;
    return 0;
}

void format_bytes(double bytes, char *buf, size_t len)
{
    if (bytes <= 0) snprintf(buf, len, "-");
    else if (bytes >= 1073741824.0) snprintf(buf, len, "%.2f GiB", bytes / 1073741824.0);
    else if (bytes >= 1048576.0) snprintf(buf, len, "%.1f MiB", bytes / 1048576.0);
    else snprintf(buf, len, "%.1f KiB", bytes / 1024.0);
}

void format_tflops(double tflops, char *buf, size_t len)
{
    /* GPU figures need one decimal; CPU ones are thousandths of a TFLOP/s. */
    snprintf(buf, len, tflops >= 100 ? "%.1f" : tflops >= 1 ? "%.2f" : "%.4f", tflops);
}

static const char *check_text(const struct run_result *res)
{
    if (!res->check_ran) return "-";
    return res->check_pass ? "pass" : "FAIL";
}

void report_begin(struct report *r, FILE *out, enum report_format format, const struct run_spec *runs, int n_runs)
{
    memset(r, 0, sizeof *r);
    r->out = out;
    r->format = format;
    r->runs = runs;
    r->n_runs = n_runs;
    r->done = calloc((size_t)(n_runs > 0 ? n_runs : 1), sizeof *r->done);
    r->have = calloc((size_t)(n_runs > 0 ? n_runs : 1), sizeof *r->have);
    struct event self;
    metadata_session(&self);
    r->session = self.u.session;
    for (int i = 0; i < n_runs; i++) r->any_cp |= run_spec_is_cp(&runs[i]);
    for (int i = 1; i < n_runs; i++) r->dtypes_differ |= runs[i].dtype != runs[0].dtype;
    if (format == REPORT_CSV)
        fprintf(out, "kernel,mask,seqlen,batch,heads_q,heads_kv,head_dim,dtype,direction,cp,gpus,status,ms_median,"
                     "ms_p20,ms_p80,tflops,tflops_mean,flops,area_pct,peak_mem_bytes,check,max_abs_err,max_rel_err,"
                     "imbalance,comm_bytes,algbw_gbs,busbw_gbs,cores,kernel_version,message\n");
    else if (format == REPORT_JSON)
        fprintf(out, "{\"schema\": %d, \"runs\": [", LC_SCHEMA_VERSION);
    else if (format == REPORT_TABLE) {
        fprintf(out, "%-8s %-22s %7s %7s %4s", "kernel", "mask", "S", "heads", "d");
        if (r->dtypes_differ) fprintf(out, " %-5s", "dtype");
        fprintf(out, " %-7s", "dir");
        if (r->any_cp) fprintf(out, " %-14s", "cp");
        fprintf(out, " %10s %17s %9s", "median ms", "p20-p80 ms", "TFLOP/s");
        if (r->any_cp) fprintf(out, " %9s %6s %9s", "mean TF/s", "imbal", "busbw");
        fprintf(out, " %7s %10s %-5s %9s\n", "area %", "peak mem", "check", "max err");
    }
    fflush(out);
}

static void row_json(struct report *r, const struct run_spec *s, const struct run_result *res)
{
    FILE *f = r->out;
    fputs("{\"kernel\": ", f);
    json_write_string(f, s->kernel);
    fprintf(f, ", \"mask\": \"%s\", \"seqlen\": %lld, \"batch\": %d, \"heads_q\": %d, \"heads_kv\": %d, "
               "\"head_dim\": %d, \"dtype\": \"%s\", \"direction\": \"%s\", \"cp\": ",
            mask_pattern_name(s->mask), (long long)s->seqlen, s->batch, s->heads_q, s->heads_kv, s->head_dim,
            dtype_name(s->dtype), direction_name(s->direction));
    json_write_string(f, s->cp_method);
    fprintf(f, ", \"gpus\": %d, \"status\": \"%s\", \"message\": ", s->cp_degree, lc_status_name(res->status));
    json_write_string(f, res->message);
    const struct {
        const char *key;
        double value;
    } numbers[] = {{"ms_median", res->ms_median},     {"ms_p20", res->ms_p20},
                   {"ms_p80", res->ms_p80},           {"tflops", res->tflops},
                   {"tflops_mean", res->tflops_mean}, {"flops", res->flops},
                   {"area_pct", 100.0 * res->density}, {"peak_mem_bytes", (double)res->peak_mem_bytes},
                   {"max_abs_err", res->max_abs_err}, {"max_rel_err", res->max_rel_err},
                   {"imbalance", res->work_imbalance}, {"comm_bytes", res->comm_bytes},
                   {"algbw_gbs", res->algbw_gbs},     {"busbw_gbs", res->busbw_gbs}};
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        fprintf(f, ", \"%s\": ", numbers[i].key);
        json_write_double(f, numbers[i].value);
    }
    fprintf(f, ", \"cores\": %d, \"check\": \"%s\", \"kernel_version\": ", res->cores, check_text(res));
    json_write_string(f, res->kernel_version);
    fputs(", \"spec\": ", f);
    run_spec_write_json(f, s);
    fputc('}', f);
}

static void write_header(struct report *r)
{
    metadata_write_json(r->out, &r->session, r->hellos, r->hello_ranks, r->n_hellos);
    r->header_written = true;
}

void report_event(struct report *r, const struct event *ev)
{
    if (ev->type == EV_SESSION) r->session = ev->u.session;
    if (ev->type != EV_HELLO) return;
    for (int k = 0; k < r->n_hellos; k++)
        if (r->hello_ranks[k] == ev->rank) {
            r->hellos[k] = ev->u.hello;
            return;
        }
    struct ev_hello *hellos = realloc(r->hellos, (size_t)(r->n_hellos + 1) * sizeof *hellos);
    if (hellos) r->hellos = hellos;
    int *ranks = realloc(r->hello_ranks, (size_t)(r->n_hellos + 1) * sizeof *ranks);
    if (ranks) r->hello_ranks = ranks;
    if (!hellos || !ranks) return; /* the header lists the workers it could keep */
    r->hellos[r->n_hellos] = ev->u.hello;
    r->hello_ranks[r->n_hellos++] = ev->rank;
}

/* text as one quoted CSV field: its own double quotes become single ones */
static void csv_quotable(char *dst, size_t len, const char *text)
{
    snprintf(dst, len, "%s", text);
    for (char *c = dst; *c; c++)
        if (*c == '"') *c = '\'';
}

static void row_csv(struct report *r, const struct run_spec *s, const struct run_result *res)
{
    char message[LC_ERRMSG_LEN], version[LC_KERNEL_VERSION_LEN];
    csv_quotable(message, sizeof message, res->message);
    csv_quotable(version, sizeof version, res->kernel_version);
    fprintf(r->out, "%s,%s,%lld,%d,%d,%d,%d,%s,%s,%s,%d,%s,%.6f,%.6f,%.6f,%.6g,%.6g,%.0f,%.4f,%lld,%s,%.3g,%.3g,%.4f,%.0f,"
                    "%.3f,%.3f,%d,\"%s\",\"%s\"\n",
            s->kernel, mask_pattern_name(s->mask), (long long)s->seqlen, s->batch, s->heads_q, s->heads_kv, s->head_dim,
            dtype_name(s->dtype), direction_name(s->direction), s->cp_method, s->cp_degree, lc_status_name(res->status),
            res->ms_median, res->ms_p20, res->ms_p80, res->tflops, res->tflops_mean, res->flops, 100.0 * res->density,
            (long long)res->peak_mem_bytes, check_text(res), res->max_abs_err, res->max_rel_err, res->work_imbalance,
            res->comm_bytes, res->algbw_gbs, res->busbw_gbs, res->cores, version, message);
}

static void row_table(struct report *r, const struct run_spec *s, const struct run_result *res)
{
    FILE *f = r->out;
    char heads[24], cp[48] = "", mem[24];
    snprintf(heads, sizeof heads, "%d:%d", s->heads_q, s->heads_kv);
    fprintf(f, "%-8s %-22s %7lld %7s %4d", s->kernel, mask_pattern_name(s->mask), (long long)s->seqlen, heads,
            s->head_dim);
    if (r->dtypes_differ) fprintf(f, " %-5s", dtype_name(s->dtype));
    fprintf(f, " %-7s", direction_name(s->direction));
    if (r->any_cp) {
        if (run_spec_is_cp(s)) snprintf(cp, sizeof cp, "%s x%d", s->cp_method, s->cp_degree);
        fprintf(f, " %-14s", run_spec_is_cp(s) ? cp : "-");
    }
    if (res->status != LC_OK) {
        fprintf(f, " %s: %s\n", lc_status_name(res->status), res->message);
        return;
    }
    char spread[32];
    snprintf(spread, sizeof spread, "%.3f-%.3f", res->ms_p20, res->ms_p80);
    char tflops[16], tflops_mean[16];
    format_tflops(res->tflops, tflops, sizeof tflops);
    format_tflops(res->tflops_mean, tflops_mean, sizeof tflops_mean);
    fprintf(f, " %10.3f %17s %9s", res->ms_median, spread, tflops);
    if (r->any_cp) fprintf(f, " %9s %6.2f %9.2f", tflops_mean, res->work_imbalance, res->busbw_gbs);
    format_bytes((double)res->peak_mem_bytes, mem, sizeof mem);
    char err[16] = "-";
    if (res->check_ran) snprintf(err, sizeof err, "%.2e", res->max_rel_err);
    fprintf(f, " %7.2f %10s %-5s %9s\n", 100.0 * res->density, mem, check_text(res), err);
}

void report_row(struct report *r, const struct run_spec *spec, const struct run_result *res)
{
    switch (r->format) {
    case REPORT_JSON:
        fputs(r->rows ? ",\n  " : "\n  ", r->out);
        row_json(r, spec, res);
        break;
    case REPORT_JSONL:
        if (!r->header_written) write_header(r), fputc('\n', r->out);
        row_json(r, spec, res);
        fputc('\n', r->out);
        break;
    case REPORT_CSV: row_csv(r, spec, res); break;
    default: row_table(r, spec, res); break;
    }
    r->rows++;
    fflush(r->out);
}

static void flush_in_order(struct report *r, bool all)
{
    for (; r->next < r->n_runs && (all || r->have[r->next]); r->next++)
        if (r->have[r->next]) report_row(r, &r->runs[r->next], &r->done[r->next]);
}

void report_run_done(struct report *r, int run_id, const struct run_result *res)
{
    if (run_id < 0 || run_id >= r->n_runs) return;
    if (!r->done || !r->have) { /* out of memory at the start: print as they come */
        report_row(r, &r->runs[run_id], res);
        return;
    }
    r->done[run_id] = *res;
    r->have[run_id] = true;
    flush_in_order(r, false);
}

void report_end(struct report *r)
{
    if (r->done && r->have) flush_in_order(r, true);
    free(r->done);
    free(r->have);
    r->done = NULL;
    r->have = NULL;
    if (r->format == REPORT_JSON) {
        fprintf(r->out, "%s], \"meta\": ", r->rows ? "\n" : "");
        write_header(r);
        fputs("}\n", r->out);
    } else if (r->format == REPORT_JSONL && !r->header_written) {
        write_header(r);
        fputc('\n', r->out);
    }
    fflush(r->out);
    free(r->hellos);
    free(r->hello_ranks);
    r->hellos = NULL, r->hello_ranks = NULL, r->n_hellos = 0;
}
