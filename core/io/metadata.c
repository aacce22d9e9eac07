#define _POSIX_C_SOURCE 200809L
#include "core/io/metadata.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/engine/kernel.h"
#include "core/engine/services.h"
#include "core/io/json.h"

#include "longca_commit.h" /* LONGCA_COMMIT, written at each build (cmake/commit.cmake) */

#ifndef LONGCA_VERSION
#define LONGCA_VERSION "unknown"
#endif

static struct ev_session self;

const char *metadata_version(void) { return LONGCA_VERSION; }
const char *metadata_commit(void) { return LONGCA_COMMIT; }

static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "%s", "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon) continue;
        colon += strspn(colon + 1, " \t") + 1;
        snprintf(buf, len, "%.*s", (int)strcspn(colon, "\n"), colon);
        break;
    }
    fclose(f);
}

/* Arguments joined by spaces, each quoted for a POSIX shell where it holds anything but
 * [A-Za-z0-9_./:,=+-] (a cut one ends in "..."). */
static void join_command(int argc, char **argv, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (int k = 0; k < argc && at + 4 < len; k++) {
        const char *a = argv[k];
        bool plain = *a && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:,=+-") == strlen(a);
        if (k) buf[at++] = ' ';
        if (!plain) buf[at++] = '\'';
        for (; *a && at + 5 < len; a++) {
            if (*a == '\'' && !plain) {
                if (at + 8 >= len) break;
                memcpy(buf + at, "'\\''", 4), at += 4;
            } else {
                buf[at++] = *a;
            }
        }
        if (*a) {
            snprintf(buf + (len > 4 ? len - 4 : 0), 4, "...");
            return;
        }
        if (!plain) buf[at++] = '\'';
        buf[at] = 0;
    }
}

void metadata_init(int argc, char **argv)
{
    memset(&self, 0, sizeof self);
    self.schema = LC_SCHEMA_VERSION;
    snprintf(self.version, sizeof self.version, "%s", LONGCA_VERSION);
    snprintf(self.commit, sizeof self.commit, "%s", LONGCA_COMMIT);
    if (gethostname(self.host, sizeof self.host - 1) != 0) snprintf(self.host, sizeof self.host, "unknown");
    cpu_model(self.cpu, sizeof self.cpu);
    join_command(argc, argv, self.command, sizeof self.command);
}

void metadata_session(struct event *ev)
{
    event_init(ev, EV_SESSION, -1, 0);
    ev->t_ns = lc_now_ns();
    ev->u.session = self;
    if (!self.schema) ev->u.session.schema = LC_SCHEMA_VERSION; /* a test that never called metadata_init */
}

/* The cuDNN a loaded kernel runs: longca links none, the cudnn plugin loads one and names it as
 * its version ("cuDNN 9.19.0 (/path)"). Without such a kernel no cuDNN runs: left empty. */
static void cudnn_version(char *buf, size_t len)
{
    for (int i = 0; i < kernel_count(); i++) {
        const char *v = kernel_at(i)->version;
        int major, minor, patch;
        if (v && sscanf(v, "cuDNN %d.%d.%d", &major, &minor, &patch) == 3) {
            snprintf(buf, len, "%d.%d.%d", major, minor, patch);
            return;
        }
    }
}

void metadata_fill_stack(struct ev_hello *hello, const struct device_ops *gpu)
{
    if (gpu->stack_versions)
        gpu->stack_versions(hello->driver, sizeof hello->driver, hello->cuda, sizeof hello->cuda);
    if (services()->comm_version) services()->comm_version(hello->nccl, sizeof hello->nccl);
    cudnn_version(hello->cudnn, sizeof hello->cudnn);
}

/* A string, or null when empty (not known or not there). */
static void put_known(FILE *f, const char *key, const char *value)
{
    fprintf(f, ",\"%s\":", key);
    if (*value) json_write_string(f, value);
    else fputs("null", f);
}

void metadata_write_json(FILE *f, const struct ev_session *s, const struct ev_hello *hellos, const int *ranks, int n)
{
    fprintf(f, "{\"schema\":%d,\"longca\":{\"version\":", s->schema);
    json_write_string(f, s->version);
    fputs(",\"commit\":", f);
    json_write_string(f, s->commit);
    fputs("},\"host\":", f);
    json_write_string(f, s->host);
    fputs(",\"cpu\":", f);
    json_write_string(f, s->cpu);
    fputs(",\"command\":", f);
    json_write_string(f, s->command);
    fputs(",\"workers\":[", f);
    for (int k = 0; k < n; k++) {
        const struct ev_hello *h = &hellos[k];
        fprintf(f, "%s{\"rank\":%d,\"host\":", k ? "," : "", ranks[k]);
        json_write_string(f, h->host);
        fputs(",\"device\":", f);
        json_write_string(f, h->device);
        fputs(",\"backend\":", f);
        json_write_string(f, h->backend);
        put_known(f, "driver", h->driver);
        put_known(f, "cuda", h->cuda);
        put_known(f, "nccl", h->nccl);
        put_known(f, "cudnn", h->cudnn);
        fputc('}', f);
    }
    fputs("]}", f);
}
