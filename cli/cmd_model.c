/* `longca model`: predicts CP runs at 2..1024 GPUs from one machine. Every run flag of
 * `longca run`, --cp and --gpus as lists, a topology; each (spec, method, GPU count) is planned
 * by its method, simulated (cp/sim.h) and printed with the column names `longca run` uses, plus
 * predicted: true. --capture writes the predictions and their simulated timelines as an event
 * stream that `longca view` and `longca export` read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/model.h"
#include "core/engine/cp_method.h"
#include "core/engine/kernel.h"
#include "core/io/capture.h"
#include "core/io/json.h"
#include "core/io/output_file.h"
#include "core/io/results_read.h"
#include "core/model/parse.h"
#include "cp/sim_predict.h"

static void model_usage(FILE *f)
{
    fprintf(f,
            "usage: longca model [run flags] [--cp M[,M..]] [--gpus N[,N..]] [topology] [options]\n"
            "Predicts CP runs without running them: each method plans the run as it would execute it\n"
            "(per rank and step: the kernel's tile lists and every message), and a simulator times the\n"
            "schedule with a calibrated kernel cost and an alpha-beta cost per message and link.\n"
            "  run flags       --kernel --mask --seqlen --batch --heads --head-dim --dtype --direction\n"
            "                  --cp-inner and the mask parameters, as longca run takes them\n"
            "  --cp            CP methods (default: every one)\n"
            "  --gpus          GPU counts, 2..1024 (default 8,16,32,64)\n"
            "  --gpus-per-node GPUs on one node's fast links (default 8)\n"
            "  --intra-gbs --intra-us   within a node: GB/s a direction per GPU, us a message (450, 5)\n"
            "  --inter-gbs --inter-us   across nodes: per GPU (50 = 400 Gb/s InfiniBand, 10)\n"
            "  --memory-gbs    memory passes (packing, sums), bytes read + written (4800)\n"
            "  --links F       within a node, the bandwidth CP runs measured: the best nccl-tests bus\n"
            "                  bandwidth of the CP runs in F (a capture or a json/jsonl results file)\n"
            "  --calibration F the kernel's costs from F (default: the newest calibration of the\n"
            "                  kernel, dtype and head dim in the state folder)\n"
            "  --kernel-tflops N  no calibration: every key tile at N TFLOP/s (an assumption)\n"
            "  --calibrate     time the calibration sweep on this machine's kernel (--kernel, --dtype,\n"
            "                  --head-dim) and write the calibration (--calibration F, else the state\n"
            "                  folder); with --from CSV the times come from the kernel's single-GPU\n"
            "                  runs in a longca run CSV (any build, any S and heads, the sweep's mask\n"
            "                  parameters; --from-version V, --device NAME label it)\n"
            "  --format        table (default), csv, json\n"
            "  -o, --output F  write the predictions to F (replaced whole)\n"
            "  --capture F     the predictions and simulated per-rank timelines as a capture\n"
            "  --trace-ranks N ranks whose simulated timeline the capture keeps (default 8)\n");
}

static enum lc_status parse_gpus(const char *value, struct model_options *o, char *err)
{
    int64_t v[SWEEP_MAX_VALUES];
    int n = 0;
    enum lc_status st = sweep_parse_sizes("--gpus", value, v, &n, err);
    for (int i = 0; !st && i < n; i++) {
        if (v[i] < 2 || v[i] > MODEL_MAX_GPUS)
            return lc_fail(err, LC_ERR_INVALID, "--gpus takes 2..%d GPUs, not %lld", MODEL_MAX_GPUS, (long long)v[i]);
        o->gpus[i] = (int)v[i];
    }
    o->n_gpus = n;
    return st;
}

static enum lc_status parse_methods(const char *value, struct model_options *o, char *err)
{
    if (!value || !*value) return lc_fail(err, LC_ERR_INVALID, "--cp needs method names");
    o->n_methods = 0;
    for (const char *p = value; *p;) {
        size_t len = strcspn(p, ",");
        if (o->n_methods == SWEEP_MAX_VALUES || len == 0 || len >= LC_NAME_LEN)
            return lc_fail(err, LC_ERR_INVALID, "--cp: bad method list '%s'", value);
        char *name = o->methods[o->n_methods++];
        memcpy(name, p, len);
        name[len] = 0;
        const struct cp_method_ops *m = cp_method_find(name);
        if (!m || m->single_device)
            return lc_fail(err, LC_ERR_INVALID, "--cp: '%s' is not a CP method (longca list cp)", name);
        p += len + (p[len] == ',');
    }
    return LC_OK;
}

/* A topology figure: --flag value within its bounds. */
static enum lc_status parse_figure(const char *flag, const char *value, struct model_options *o, bool *consumed, char *err)
{
    static const struct {
        const char *flag;
        size_t offset;
        double lo, hi;
    } figures[] = {{"--intra-gbs", offsetof(struct cp_topology, intra_gbs), 0.001, 1e6},
                   {"--inter-gbs", offsetof(struct cp_topology, inter_gbs), 0.001, 1e6},
                   {"--intra-us", offsetof(struct cp_topology, intra_us), 0, 1e6},
                   {"--inter-us", offsetof(struct cp_topology, inter_us), 0, 1e6},
                   {"--memory-gbs", offsetof(struct cp_topology, memory_gbs), 0.001, 1e6}};
    for (size_t i = 0; i < sizeof figures / sizeof *figures; i++)
        if (!strcmp(flag, figures[i].flag))
            return parse_double(flag, value, figures[i].lo, figures[i].hi, (double *)((char *)&o->topo + figures[i].offset),
                                err);
    *consumed = false;
    return LC_OK;
}

/* --links FILE: the fast links' bandwidth as CP runs within a node measured it (the highest
 * nccl-tests bus bandwidth of the file's CP runs, which is what their transfers achieved). */
static enum lc_status measured_links(struct model_options *o, char *err)
{
    struct result_set set;
    enum lc_status st = results_read(o->links, &set, err);
    if (st) return st;
    double best = 0;
    for (int i = 0; i < set.n; i++) {
        const struct result_row *r = &set.rows[i];
        if (r->result.status == LC_OK && r->spec.cp_degree > 1 && r->spec.cp_degree <= o->topo.gpus_per_node &&
            r->result.busbw_gbs > best)
            best = r->result.busbw_gbs;
    }
    results_free(&set);
    if (best <= 0) return lc_fail(err, LC_ERR_INVALID, "--links %s: no CP run within a node with a measured bandwidth", o->links);
    o->topo.intra_gbs = best;
    return LC_OK;
}

static enum lc_status parse_args(int argc, char **argv, struct model_options *o, char *err)
{
    memset(o, 0, sizeof *o);
    sweep_init(&o->axes);
    cp_topology_defaults(&o->topo);
    o->format = REPORT_TABLE;
    o->trace_ranks = 8;
    for (int i = 1; i < argc; i++) {
        char flag[64];
        const char *arg = !strcmp(argv[i], "-o") ? "--output" : argv[i], *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) || (eq ? (size_t)(eq - arg) : strlen(arg)) >= sizeof flag)
            return lc_fail(err, LC_ERR_INVALID, "unexpected argument '%.60s'", arg);
        snprintf(flag, sizeof flag, "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
        const char *value = eq ? eq + 1 : i + 1 < argc ? argv[i + 1] : NULL;
        bool consumed = true, takes_value = true;
        int64_t n;
        enum lc_status st = LC_OK;
        if (!strcmp(flag, "--help")) o->help = true, takes_value = false;
        else if (!strcmp(flag, "--calibrate")) o->calibrate = true, takes_value = false;
        else if (!value) st = lc_fail(err, LC_ERR_INVALID, "%s needs a value", flag);
        else if (!strcmp(flag, "--cp")) st = parse_methods(value, o, err);
        else if (!strcmp(flag, "--gpus")) st = parse_gpus(value, o, err);
        else if (!strcmp(flag, "--gpus-per-node")) {
            st = parse_int(flag, value, 1, MODEL_MAX_GPUS, &n, err);
            o->topo.gpus_per_node = (int)n;
        } else if (!strcmp(flag, "--trace-ranks")) {
            st = parse_int(flag, value, 0, MODEL_MAX_GPUS, &n, err);
            o->trace_ranks = (int)n;
        } else if (!strcmp(flag, "--kernel-tflops")) st = parse_double(flag, value, 0.001, 1e5, &o->kernel_tflops, err);
        else if (!strcmp(flag, "--format")) {
            if (report_format_parse(value, &o->format) || o->format == REPORT_JSONL)
                st = lc_fail(err, LC_ERR_INVALID, "--format takes table, csv or json");
        } else if (!strcmp(flag, "--output")) o->output = value;
        else if (!strcmp(flag, "--capture")) o->capture = value;
        else if (!strcmp(flag, "--calibration")) o->calibration = value;
        else if (!strcmp(flag, "--from")) o->from = value;
        else if (!strcmp(flag, "--from-version")) o->from_version = value;
        else if (!strcmp(flag, "--device")) o->device = value;
        else if (!strcmp(flag, "--links")) o->links = value;
        else if (!(st = parse_figure(flag, value, o, &consumed, err)) && !consumed) {
            st = sweep_parse_flag(&o->axes, flag, value, &consumed, &takes_value, err);
            if (!st && !consumed) st = lc_fail(err, LC_ERR_INVALID, "unknown flag '%s' (see longca model --help)", flag);
        }
        if (st) return st;
        if (!takes_value && eq) return lc_fail(err, LC_ERR_INVALID, "%s takes no value", flag);
        if (takes_value && !eq) i++;
    }
    if (o->from && !o->calibrate) return lc_fail(err, LC_ERR_INVALID, "--from goes with --calibrate");
    if (o->links) {
        enum lc_status st = measured_links(o, err);
        if (st) return st;
    }
    if (!o->n_methods)
        for (int i = 0; i < cp_method_count(); i++)
            if (!cp_method_at(i)->single_device) snprintf(o->methods[o->n_methods++], LC_NAME_LEN, "%s", cp_method_at(i)->name);
    if (!o->n_gpus) {
        static const int defaults[] = {8, 16, 32, 64};
        for (int i = 0; i < 4; i++) o->gpus[o->n_gpus++] = defaults[i];
    }
    return LC_OK;
}

/* The kernel's costs for a spec: the named calibration, an assumed rate, or the newest one. */
static enum lc_status pick_cost(const struct model_options *o, const struct run_spec *s, struct cp_cost *cost,
                                char *source, size_t len, char *err)
{
    struct cp_calibration cal;
    char path[1024];
    enum lc_status st = LC_OK;
    if (o->calibration) {
        if ((st = cp_calibration_read(o->calibration, &cal, err))) return st;
        snprintf(path, sizeof path, "%s", o->calibration);
    } else if (o->kernel_tflops > 0) {
        const struct longca_kernel *k = kernel_find(s->kernel);
        cp_cost_assumed(cost, o->kernel_tflops, k && k->tile_q > 0 ? k->tile_q : 128, s->head_dim);
        snprintf(source, len, "assumed %g TFLOP/s (no calibration)", o->kernel_tflops);
        return LC_OK;
    } else if ((st = cp_calibration_find(s->kernel, s->dtype, s->head_dim, &cal, path, sizeof path, err))) {
        char why[LC_ERRMSG_LEN];
        snprintf(why, sizeof why, "%s", err);
        return lc_fail(err, LC_ERR_INVALID, "%.180s, or --kernel-tflops N to assume a rate", why);
    }
    *cost = cal.cost;
    snprintf(source, len, "calibration %.700s (%s on %.95s, %.95s)", path, cal.kernel, cal.device, cal.version);
    return LC_OK;
}

static void print_header(FILE *f, const struct model_options *o, const char *source)
{
    if (o->format == REPORT_CSV) {
        fputs("kernel,mask,seqlen,batch,heads_q,heads_kv,head_dim,dtype,direction,cp,gpus,status,ms_median,tflops,"
              "tflops_mean,flops,imbalance,comm_bytes,compute_ms,exposed_comm_ms,predicted,message\n",
              f);
    } else if (o->format == REPORT_JSON) {
        fputs("{\"predicted\": true, \"kernel_cost\": ", f);
        json_write_string(f, source);
        fprintf(f, ", \"topology\": {\"gpus_per_node\": %d, \"intra_gbs\": %g, \"intra_us\": %g, \"inter_gbs\": %g, "
                   "\"inter_us\": %g, \"memory_gbs\": %g}, \"runs\": [",
                o->topo.gpus_per_node, o->topo.intra_gbs, o->topo.intra_us, o->topo.inter_gbs, o->topo.inter_us,
                o->topo.memory_gbs);
    } else {
        fprintf(f, "predicted, not measured. kernel: %s\nlinks: %d GPUs a node, %g GB/s + %g us within%s%s%s, %g GB/s + "
                   "%g us across; memory passes %g GB/s\n",
                source, o->topo.gpus_per_node, o->topo.intra_gbs, o->topo.intra_us, o->links ? " (measured by CP runs in " : "",
                o->links ? o->links : "", o->links ? ")" : "", o->topo.inter_gbs, o->topo.inter_us, o->topo.memory_gbs);
        fprintf(f, "%-22s %7s %-7s %-7s %-11s %5s %10s %9s %9s %7s %10s %10s %10s\n", "mask", "S", "heads", "dir", "cp",
                "gpus", "ms", "TFLOP/s", "mean TF/s", "imbal", "bytes/rank", "compute ms", "exposed ms");
    }
}

static void print_row(FILE *f, const struct model_options *o, const struct cp_model_row *r, bool first)
{
    const struct run_spec *s = &r->spec;
    if (o->format == REPORT_CSV) {
        fprintf(f, "%s,%s,%lld,%d,%d,%d,%d,%s,%s,%s,%d,%s,%.6f,%.6g,%.6g,%.6g,%.4f,%.6g,%.6f,%.6f,true,\"%s\"\n", s->kernel,
                mask_pattern_name(s->mask), (long long)s->seqlen, s->batch, s->heads_q, s->heads_kv, s->head_dim,
                dtype_name(s->dtype), direction_name(s->direction), s->cp_method, s->cp_degree,
                lc_status_name(r->status), r->ms, r->tflops, r->tflops_mean, r->flops, r->imbalance, r->comm_bytes,
                r->compute_ms, r->exposed_ms, r->status ? r->message : "");
    } else if (o->format == REPORT_JSON) {
        fprintf(f, "%s\n  {\"kernel\": ", first ? "" : ",");
        json_write_string(f, s->kernel);
        fprintf(f, ", \"mask\": \"%s\", \"seqlen\": %lld, \"batch\": %d, \"heads_q\": %d, \"heads_kv\": %d, "
                   "\"head_dim\": %d, \"dtype\": \"%s\", \"direction\": \"%s\", \"cp\": \"%s\", \"gpus\": %d, "
                   "\"status\": \"%s\", \"message\": ",
                mask_pattern_name(s->mask), (long long)s->seqlen, s->batch, s->heads_q, s->heads_kv, s->head_dim,
                dtype_name(s->dtype), direction_name(s->direction), s->cp_method, s->cp_degree,
                lc_status_name(r->status));
        json_write_string(f, r->status ? r->message : "");
        const double v[] = {r->ms, r->tflops, r->tflops_mean, r->flops, r->imbalance, r->comm_bytes, r->compute_ms,
                            r->exposed_ms};
        static const char *k[] = {"ms_median", "tflops", "tflops_mean", "flops", "imbalance", "comm_bytes", "compute_ms",
                                  "exposed_comm_ms"};
        for (int i = 0; i < 8; i++) {
            fprintf(f, ", \"%s\": ", k[i]);
            json_write_double(f, v[i]);
        }
        fputs(", \"predicted\": true}", f);
    } else {
        char heads[24], bytes[24], tf[24], tf_mean[24];
        snprintf(heads, sizeof heads, "%d:%d", s->heads_q, s->heads_kv);
        format_bytes(r->comm_bytes, bytes, sizeof bytes);
        format_tflops(r->tflops, tf, sizeof tf);
        format_tflops(r->tflops_mean, tf_mean, sizeof tf_mean);
        fprintf(f, "%-22s %7lld %-7s %-7s %-11s %5d ", mask_pattern_name(s->mask), (long long)s->seqlen, heads,
                direction_name(s->direction), s->cp_method, s->cp_degree);
        if (r->status) fprintf(f, "%s: %s\n", lc_status_name(r->status), r->message);
        else
            fprintf(f, "%10.3f %9s %9s %7.4f %10s %10.3f %10.3f\n", r->ms, tf, tf_mean, r->imbalance, bytes,
                    r->compute_ms, r->exposed_ms);
    }
}

/* The prediction as the events a run leaves: queued, each traced rank's simulated intervals,
 * the merged result. */
static void capture_row(struct capture_writer *w, int run_id, const struct cp_model_row *r, const struct cp_sim_result *tr)
{
    struct event ev;
    event_init(&ev, EV_RUN_QUEUED, run_id, 0);
    ev.u.spec = r->spec;
    capture_write(w, &ev);
    for (int rank = 0; !r->status && rank < r->spec.cp_degree && rank < tr->ranks; rank++) {
        struct interval *iv;
        int n = cp_model_intervals(tr, rank, &iv);
        if (n <= 0) continue;
        event_init(&ev, EV_INTERVALS, run_id, rank + 1);
        ev.intervals = iv;
        ev.n_intervals = n;
        capture_write(w, &ev);
        event_free(&ev);
    }
    event_init(&ev, EV_RUN_DONE, run_id, -1);
    struct run_result *res = &ev.u.result;
    res->status = r->status;
    snprintf(res->message, sizeof res->message, "%s", r->status ? r->message : "predicted by longca model");
    res->ms_median = res->ms_p20 = res->ms_p80 = r->ms;
    res->ms_mean_ranks = r->ms_mean;
    res->flops = r->flops;
    res->tflops = r->tflops;
    res->tflops_mean = r->tflops_mean;
    res->work_imbalance = r->imbalance;
    res->comm_bytes = r->comm_bytes;
    res->ranks = r->spec.cp_degree;
    capture_write(w, &ev);
}

static int predict_all(const struct model_options *o, FILE *out, struct capture_writer *capture)
{
    char err[LC_ERRMSG_LEN], source[1200];
    struct run_spec *base = NULL;
    int n_base = 0, status = LC_EXIT_OK, run_id = 0;
    if (sweep_expand(&o->axes, &base, &n_base, err)) return lc_usage_error("longca model", "%s", err);
    for (int b = 0; b < n_base && status == LC_EXIT_OK; b++) {
        struct cp_cost cost;
        if (pick_cost(o, &base[b], &cost, source, sizeof source, err)) {
            lc_print_error("longca model", "%s", err);
            status = LC_EXIT_USAGE;
            break;
        }
        if (b == 0) print_header(out, o, source);
        for (int m = 0; m < o->n_methods; m++)
            for (int g = 0; g < o->n_gpus; g++) {
                struct run_spec s = base[b];
                snprintf(s.cp_method, sizeof s.cp_method, "%s", o->methods[m]);
                s.cp_degree = o->gpus[g];
                struct cp_model_row row;
                struct cp_sim_result trace;
                memset(&trace, 0, sizeof trace);
                cp_model_predict(&s, &o->topo, &cost, o->trace_ranks, capture ? &trace : NULL, &row);
                print_row(out, o, &row, run_id == 0);
                if (capture) capture_row(capture, run_id, &row, &trace);
                cp_sim_result_free(&trace);
                run_id++;
            }
    }
    if (o->format == REPORT_JSON && status == LC_EXIT_OK) fputs("\n]}\n", out);
    free(base);
    return status;
}

int cmd_model(int argc, char **argv)
{
    struct model_options o;
    char err[LC_ERRMSG_LEN];
    if (parse_args(argc, argv, &o, err)) return lc_usage_error("longca model", "%s", err);
    if (o.help) {
        model_usage(stdout);
        return LC_EXIT_OK;
    }
    if (o.calibrate) return model_calibrate(&o);
    struct output_file file;
    struct capture_writer *capture = NULL;
    enum lc_status st = o.output ? output_open(&file, o.output, err) : LC_OK;
    if (!st && o.capture && (st = capture_open(o.capture, &capture, err)) && o.output) output_abort(&file);
    if (st) {
        lc_print_error("longca model", "%s", err);
        return lc_status_exit(st);
    }
    int status = predict_all(&o, o.output ? file.f : stdout, capture);
    if (o.output && (status ? (output_abort(&file), LC_OK) : output_commit(&file, err))) {
        lc_print_error("longca model", "%s", err);
        status = LC_EXIT_FAILED;
    }
    if (capture && capture_close(capture, err)) {
        lc_print_error("longca model", "%s", err);
        status = LC_EXIT_FAILED;
    }
    return status;
}
