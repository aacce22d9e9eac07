/* The capture file: the event stream on disk, one JSON object per line. Written to a temp file
 * and renamed on close, so a capture exists whole or not at all. `longca view` and
 * `longca export` read it back. */
#ifndef LC_CAPTURE_H
#define LC_CAPTURE_H

#include <stdio.h>

#include "core/model/event.h"
#include "core/model/status.h"

struct capture_writer;

enum lc_status capture_open(const char *path, struct capture_writer **out, char *err);
void capture_write(struct capture_writer *w, const struct event *ev);
const char *capture_path(const struct capture_writer *w);
enum lc_status capture_close(struct capture_writer *w, char *err); /* flush, fsync, rename */

/* Calls cb for every event in file order; the event is freed after cb returns. */
enum lc_status capture_read(const char *path, void (*cb)(void *ctx, const struct event *ev), void *ctx,
                            char *err);

/* A run's spec as a capture writes it, and back from the "spec" member of obj: results files
 * carry it so that `longca diff` matches runs by every parameter. */
struct json_value;
void run_spec_write_json(FILE *f, const struct run_spec *s);
enum lc_status run_spec_parse_json(const struct json_value *obj, struct run_spec *out, char *err);

/* One event as one line of JSON (no newline), and back. */
void event_write_json(FILE *f, const struct event *ev);
enum lc_status event_parse_json(const char *line, struct event *out, char *err);

#endif
